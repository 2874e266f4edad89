package inputs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectFolders(t *testing.T) {
	d := t.TempDir()
	j := func(p string) string { return filepath.Join(d, p) }
	touch(t, j("b.JPG"), j("a.png"), j("notes.txt"), j(".a.png.tmp-1"), j("a.saliency.png"),
		j("a.saliency.417.png"), j("a.overlay.png"), j("a.saliency.v2.png"),
		j("a.saliency.smoothgrad.png"), j("a.overlay.gradcam.3.png"), j("a.saliency.gradcam.x.png"),
		j("sub/c.webp"), j(".hidden/d.png"), j("sub/deeper/e.tiff"))

	got, _, err := Collect([]string{d}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{j("a.png"), j("a.saliency.gradcam.x.png"), j("a.saliency.v2.png"), j("b.JPG")}
	if !slices.Equal(got, want) {
		t.Fatalf("folder: got %v, want %v", got, want)
	}

	got, _, err = Collect([]string{d}, Options{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{j("a.png"), j("a.saliency.gradcam.x.png"), j("a.saliency.v2.png"), j("b.JPG"), j("sub/c.webp"), j("sub/deeper/e.tiff")}
	if !slices.Equal(got, want) {
		t.Fatalf("recursive: got %v, want %v", got, want)
	}
}

func TestCollectKeepsOrderDropsRepeatsKeepsMissing(t *testing.T) {
	d := t.TempDir()
	a, b := filepath.Join(d, "a.png"), filepath.Join(d, "b.png")
	touch(t, a, b)
	missing := filepath.Join(d, "missing.jpg")
	got, _, err := Collect([]string{b, missing, a, b, filepath.Join(d, ".", "a.png")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{b, missing, a}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCollectStdin(t *testing.T) {
	got, _, err := Collect([]string{"x.png", "-"}, Options{Stdin: strings.NewReader("a b.png\r\n\nc.png\n")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x.png", "a b.png", "c.png"}; !slices.Equal(got, want) {
		t.Fatalf("lines: got %q", got)
	}
	got, _, err = Collect([]string{"-"}, Options{Null: true, Stdin: strings.NewReader("new\nline.png\x00c.png\x00")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new\nline.png", "c.png"}; !slices.Equal(got, want) {
		t.Fatalf("NUL-separated: got %q", got)
	}
	if _, _, err := Collect([]string{"-", "-"}, Options{Stdin: strings.NewReader("")}); err == nil {
		t.Fatal(`"-" twice accepted`)
	}
}

// A folder argument with no input in it (empty, other extensions, only hidden
// files or saliency's outputs) is returned as such, and the others still count.
func TestCollectReportsFoldersWithoutImages(t *testing.T) {
	d := t.TempDir()
	j := func(p string) string { return filepath.Join(d, p) }
	touch(t, j("full/a.png"), j("texts/notes.txt"), j("texts/scan.pdf"), j("done/a.saliency.png"),
		j("done/.b.png"), j("nested/sub/c.png"))
	if err := os.Mkdir(j("void"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{j("void"), j("full"), j("texts"), j("done"), j("nested")}
	got, empty, err := Collect(args, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{j("full/a.png")}; !slices.Equal(got, want) {
		t.Fatalf("paths: got %v, want %v", got, want)
	}
	var dirs []string
	for _, e := range empty {
		dirs = append(dirs, e.Dir)
		if msg := e.Error(); !strings.Contains(msg, "no images in this folder (looked for .jpg, .jpeg, .png") {
			t.Errorf("message %q", msg)
		}
	}
	if want := []string{j("void"), j("texts"), j("done"), j("nested")}; !slices.Equal(dirs, want) {
		t.Fatalf("empty folders: got %v, want %v", dirs, want)
	}
	// --recursive finds nested/sub/c.png, and says where it looked.
	_, empty, _ = Collect([]string{j("nested"), j("void")}, Options{Recursive: true})
	if len(empty) != 1 || empty[0].Dir != j("void") || !strings.Contains(empty[0].Error(), "or its subfolders") {
		t.Fatalf("recursive: %v", empty)
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/8"); err != nil || s != (Shard{2, 8}) {
		t.Fatalf("2/8: %v %v", s, err)
	}
	for _, bad := range []string{"0/3", "4/3", "1/0", "a/3", "3", "1/2/3", ""} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The shards of 1/3, 2/3, 3/3 are disjoint, cover the input, and do not depend
// on the order in which the paths are given.
func TestShardsPartitionTheInput(t *testing.T) {
	var paths []string
	for i := range 300 {
		paths = append(paths, fmt.Sprintf("photos/%03d.jpg", i))
	}
	reversed := slices.Clone(paths)
	slices.Reverse(reversed)
	var all []string
	for i := 1; i <= 3; i++ {
		part := Shard{i, 3}.Keep(paths)
		if len(part) < 60 {
			t.Errorf("shard %d/3 has only %d of 300 paths", i, len(part))
		}
		again := Shard{i, 3}.Keep(reversed)
		sort.Strings(again)
		if !slices.Equal(slices.Sorted(slices.Values(part)), again) {
			t.Errorf("shard %d/3 depends on the order of the paths", i)
		}
		all = append(all, part...)
	}
	sort.Strings(all)
	if !slices.Equal(all, paths) {
		t.Fatalf("shards cover %d paths (with repeats if more than 300), want exactly the 300", len(all))
	}
	if got := (Shard{1, 1}).Keep(paths); len(got) != 300 {
		t.Fatal("1/1 must keep everything")
	}
}

// The shard of a path is FNV-1a 64 of its cleaned form modulo N, a function
// every version of saliency must keep, or machines running different versions
// over one job would skip or repeat inputs. The table was computed
// independently from FNV-1a's published offset basis and prime
// (14695981039346656037, 1099511628211) in Python, after os.path.normpath.
func TestShardGoldenTable(t *testing.T) {
	golden := []struct {
		path string
		of   [4]int // shard (1-based) of N = 2, 3, 8, 1000
	}{
		{"photos/000.jpg", [4]int{1, 3, 3, 163}},
		{"photos/001.jpg", [4]int{2, 1, 2, 466}},
		{"a.png", [4]int{2, 3, 2, 418}},
		{"./a.png", [4]int{2, 3, 2, 418}},
		{"photos//cat.JPG", [4]int{1, 1, 3, 235}},
		{"/data/imagenet/val/ILSVRC2012_val_00000001.JPEG", [4]int{1, 2, 1, 561}},
		{"café/ü.png", [4]int{1, 2, 1, 809}},
		{"x", [4]int{2, 3, 8, 272}},
	}
	for _, g := range golden {
		for k, n := range []int{2, 3, 8, 1000} {
			if kept := (Shard{g.of[k], n}).Keep([]string{g.path}); len(kept) != 1 {
				t.Errorf("%q is not in shard %d/%d", g.path, g.of[k], n)
			}
		}
	}
}
