package main

import (
	"encoding/json"
	"image"
	"image/color"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/output"
	"github.com/saliency-tool/saliency/internal/render"
	"github.com/saliency-tool/saliency/internal/testenv"
)

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// publishedColormap returns the 256 colours of matplotlib's colormap name as
// tests/reference/colormaps.py wrote them (bytes rounded half up from matplotlib's
// floats) to the file SALIENCY_COLORMAP_REFERENCE names, so the pictures are
// checked against the published table rather than against render's copy of it.
func publishedColormap(t *testing.T, name string) map[color.NRGBA]bool {
	t.Helper()
	entries := testenv.ReadColormaps(t).Colormaps[name].RGB
	if len(entries) != 256 {
		t.Fatalf("reference colormap %q has %d entries, want 256", name, len(entries))
	}
	table := map[color.NRGBA]bool{}
	for _, c := range entries {
		table[color.NRGBA{c[0], c[1], c[2], 0xff}] = true
	}
	return table
}

// --colormap, --overlay, --grid and --clip-percentile, on the random-weight model:
// every pixel of a coloured heatmap is an entry of matplotlib's table for the
// chosen colormap, overlays keep the original's size, and the sheet holds one
// column per image and two rows.
func TestExplainPicturesForPeople(t *testing.T) {
	model := testModel(t)
	table := publishedColormap(t, "inferno")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 40, 30, 1)
	writePNG(t, b, 23, 57, 3)
	grid := filepath.Join(dir, "sheet.png")
	code, _, stderr := runMain(t, "", "explain", "-m", model, "-q", "--colormap", "inferno", "--overlay",
		"--clip-percentile", "99", "--grid", grid, a, b)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, in := range []string{a, b} {
		stem := strings.TrimSuffix(in, ".png")
		heat := decodePNG(t, stem+".saliency.png")
		iw, ih := imageSize(t, in)
		if heat.Bounds().Dx() != iw || heat.Bounds().Dy() != ih {
			t.Fatalf("%s heatmap is %v, image %dx%d", in, heat.Bounds(), iw, ih)
		}
		for y := range ih {
			for x := range iw {
				c := color.NRGBAModel.Convert(heat.At(x, y)).(color.NRGBA)
				if !table[c] {
					t.Fatalf("%s heatmap pixel (%d,%d) = %v is not an inferno colour", in, x, y, c)
				}
			}
		}
		over := decodePNG(t, stem+".overlay.png")
		if over.Bounds().Dx() != iw || over.Bounds().Dy() != ih {
			t.Fatalf("%s overlay is %v, image %dx%d", in, over.Bounds(), iw, ih)
		}
	}
	sheet := decodePNG(t, grid)
	// 2 columns, 2 rows (originals, maps) of SheetCellSize with a two-line
	// caption strip under each row and render's gaps between.
	row := output.SheetCellSize + render.CaptionHeight(2)
	if w, h := sheet.Bounds().Dx(), sheet.Bounds().Dy(); w != 2*output.SheetCellSize+render.GridGap || h != 2*row+render.GridGap {
		t.Fatalf("grid is %dx%d for 2 images with one map each", w, h)
	}
}

// The contact sheet's captions on the real model with K = 2: under each map,
// a strip with text in it, different for the two units of an image (their
// labels and logits differ; render's test checks the text itself against
// x/image's font drawer).
func TestExplainGridCaptions(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.png")
	writePNG(t, a, 40, 30, 1)
	grid := filepath.Join(dir, "sheet.png")
	code, stdout, stderr := runMain(t, "", "explain", "-m", model, "--json", "--top-k", "2", "--grid", grid, a)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rec struct{ Labels []string }
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil || len(rec.Labels) != 2 {
		t.Fatalf("record %q: %v", stdout, err)
	}
	sheet := decodePNG(t, grid)
	cell, row := output.SheetCellSize, output.SheetCellSize+render.CaptionHeight(2)
	strip := func(r int) (px []color.NRGBA, dark int) {
		top := r*(row+render.GridGap) + cell
		for y := top; y < top+render.CaptionHeight(2); y++ {
			for x := range cell {
				c := color.NRGBAModel.Convert(sheet.At(x, y)).(color.NRGBA)
				px = append(px, c)
				if c.R < 128 {
					dark++
				}
			}
		}
		return px, dark
	}
	first, dark1 := strip(1)
	second, dark2 := strip(2)
	if dark1 < 50 || dark2 < 50 {
		t.Fatalf("caption strips under the maps have %d and %d dark pixels, want text", dark1, dark2)
	}
	if slices.Equal(first, second) {
		t.Errorf("the captions of units %q and %q are the same pixels", rec.Labels[0], rec.Labels[1])
	}
}

func TestExplainPictureFlagErrors(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.png")
	writePNG(t, a, 40, 30, 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--colormap", "rainbow"}, `unknown colormap "rainbow"`},
		{[]string{"--clip-percentile", "100"}, "--clip-percentile must be in [0, 100)"},
		{[]string{"--clip-percentile", "-1"}, "--clip-percentile must be in [0, 100)"},
	} {
		code, _, stderr := runMain(t, "", append(append([]string{"explain", "-m", model}, c.args...), a)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// --grid naming an input is refused; the input survives.
	before := readFile(t, a)
	code, _, stderr := runMain(t, "", "explain", "-m", model, "-q", "--grid", a, a)
	if code != exitFailed || !strings.Contains(stderr, "would overwrite an input") {
		t.Errorf("--grid over an input: exit %d, stderr %q", code, stderr)
	}
	if string(readFile(t, a)) != string(before) {
		t.Error("the input named by --grid changed")
	}
	// So is --report; the report still written lists the refused sheet.
	page := filepath.Join(dir, "page", "index.html")
	code, _, stderr = runMain(t, "", "explain", "-m", model, "-q", "--report", a, a)
	if code != exitFailed || !strings.Contains(stderr, "--report "+a+": would overwrite an input") {
		t.Errorf("--report over an input: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runMain(t, "", "explain", "-m", model, "-q", "--grid", a, "--report", page, a)
	if code != exitFailed || !strings.Contains(string(readFile(t, page)), "--grid "+a+": would overwrite an input") {
		t.Errorf("--grid refused with --report: exit %d, stderr %q; the page must say why", code, stderr)
	}
	if string(readFile(t, a)) != string(before) {
		t.Error("the input named by --report changed")
	}
}
