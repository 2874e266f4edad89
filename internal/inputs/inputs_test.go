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

	got, err := Collect([]string{d}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{j("a.png"), j("a.saliency.gradcam.x.png"), j("a.saliency.v2.png"), j("b.JPG")}
	if !slices.Equal(got, want) {
		t.Fatalf("folder: got %v, want %v", got, want)
	}

	got, err = Collect([]string{d}, Options{Recursive: true})
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
	got, err := Collect([]string{b, missing, a, b, filepath.Join(d, ".", "a.png")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{b, missing, a}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCollectStdin(t *testing.T) {
	got, err := Collect([]string{"x.png", "-"}, Options{Stdin: strings.NewReader("a b.png\r\n\nc.png\n")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x.png", "a b.png", "c.png"}; !slices.Equal(got, want) {
		t.Fatalf("lines: got %q", got)
	}
	got, err = Collect([]string{"-"}, Options{Null: true, Stdin: strings.NewReader("new\nline.png\x00c.png\x00")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new\nline.png", "c.png"}; !slices.Equal(got, want) {
		t.Fatalf("NUL-separated: got %q", got)
	}
	if _, err := Collect([]string{"-", "-"}, Options{Stdin: strings.NewReader("")}); err == nil {
		t.Fatal(`"-" twice accepted`)
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
