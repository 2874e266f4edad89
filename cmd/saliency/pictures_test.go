package main

import (
	"image"
	"image/color"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/render"
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

// --colormap, --overlay, --grid and --clip-percentile, on the random-weight model:
// every pixel of a coloured heatmap is an entry of the chosen table, overlays keep
// the original's size, and the sheet holds one column per image and two rows.
func TestExplainPicturesForPeople(t *testing.T) {
	model := testModel(t)
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
	inferno, err := render.ColormapByName("inferno")
	if err != nil {
		t.Fatal(err)
	}
	table := map[color.NRGBA]bool{}
	for i := range 256 {
		table[inferno.Colorize([]float32{float32(i) / 255}, 1, 1).NRGBAAt(0, 0)] = true
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
	// 2 columns, 2 rows (originals, maps) of gridCellSize with render's gaps between.
	if w, h := sheet.Bounds().Dx(), sheet.Bounds().Dy(); w != h || w < 2*gridCellSize || w > 2*gridCellSize+16 {
		t.Fatalf("grid is %dx%d for 2 images with one map each", w, h)
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
}
