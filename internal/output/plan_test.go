package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/render"
)

// Naming, planning, writing and skipping, without a model: maps here are made
// up, which is all this package ever sees of one.

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// picture is a w x h image and k maps of it: a horizontal ramp, and its mirror.
func picture(w, h, k int) (image.Image, [][]float32) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	maps := make([][]float32, k)
	for j := range maps {
		maps[j] = make([]float32, w*h)
		for p := range maps[j] {
			x := float32(p%w) / float32(w-1)
			if j%2 == 1 {
				x = 1 - x
			}
			maps[j][p] = x
		}
	}
	return img, maps
}

func plan(t *testing.T, inputs []string, o Options) *Set {
	t.Helper()
	if o.Method == "" {
		o.Method = "gradients"
	}
	if o.PerImage == 0 {
		o.PerImage = 1
	}
	s, refused := Plan(inputs, o)
	if len(refused) > 0 {
		t.Fatalf("Plan refused %v", refused)
	}
	return s
}

func TestPlanRefusesASecondInputWithTheSameStem(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jpg"), filepath.Join(dir, "a.png")
	s := plan(t, []string{a, b}, Options{})
	if len(s.Jobs) != 2 || s.Jobs[0].Err != nil || !s.Jobs[0].Todo() {
		t.Fatalf("jobs %+v: want a.jpg to do", s.Jobs)
	}
	var collision *CollisionError
	if !errors.As(s.Jobs[1].Err, &collision) || collision.Other != a || s.Jobs[1].Todo() {
		t.Fatalf("a.png: %v, want a collision with %s", s.Jobs[1].Err, a)
	}
	if !strings.Contains(s.Jobs[1].Err.Error(), "overwrite") {
		t.Errorf("error %q does not say what it prevents", s.Jobs[1].Err)
	}
	// With another output folder, the stem is there.
	out := t.TempDir()
	s = plan(t, []string{a}, Options{Dir: out})
	if s.Jobs[0].Stem != filepath.Join(out, "a") {
		t.Errorf("stem %q, want %q", s.Jobs[0].Stem, filepath.Join(out, "a"))
	}
}

func TestPlanCountsARepeatedInputOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.png")
	again := dir + string(filepath.Separator) + "." + string(filepath.Separator) + "p.png"
	s := plan(t, []string{p, again, p}, Options{})
	if len(s.Jobs) != 1 || s.Jobs[0].Input != p || !s.Jobs[0].Todo() {
		t.Fatalf("jobs %+v, want one for %s", s.Jobs, p)
	}
}

func TestWriteNeverOverwritesAnInput(t *testing.T) {
	dir := t.TempDir()
	x, xs := filepath.Join(dir, "x.png"), filepath.Join(dir, "x.saliency.png")
	touch(t, x, xs)
	s := plan(t, []string{x, xs}, Options{})
	img, maps := picture(6, 4, 1)
	_, err := s.Write(s.Jobs[0], img, Maps{Units: []int{3}, Values: maps})
	if !errors.Is(err, ErrWouldOverwriteInput) || !strings.Contains(err.Error(), xs) {
		t.Errorf("writing x's map: %v, want it refused for overwriting %s", err, xs)
	}
	files, err := s.Write(s.Jobs[1], img, Maps{Units: []int{3}, Values: maps})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "x.saliency.saliency.png")
	if !slices.Equal(files.Maps, []string{want}) {
		t.Errorf("maps %v, want [%s]", files.Maps, want)
	}
	if b, _ := os.ReadFile(xs); string(b) != "x" {
		t.Errorf("%s was overwritten", xs)
	}
	assertFiles(t, dir, "x.png", "x.saliency.png", "x.saliency.saliency.png")
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// Write writes what the options ask for, named by the rule, with the colours
// asked for: 8-bit gray (the map quantised), a colormap's colours, overlays
// in inferno for a gray run, and one raw array [K, H, W].
func TestWriteFiles(t *testing.T) {
	inferno, _ := render.ColormapByName("inferno")
	gray, _ := render.ColormapByName("gray")
	const w, h = 6, 4
	img, maps := picture(w, h, 2)
	for _, c := range []struct {
		name     string
		o        Options
		colormap *render.Colormap // the heatmaps' colours; nil: gray levels
	}{
		{"gray", Options{Raw: true, Overlay: true}, nil},
		{"gray by name", Options{Colormap: gray, Overlay: true}, nil},
		{"inferno", Options{Colormap: inferno, Method: "smoothgrad"}, inferno},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.png")
			c.o.PerImage = 2
			s := plan(t, []string{in}, c.o)
			files, err := s.Write(s.Jobs[0], img, Maps{Units: []int{7, 2}, Values: maps})
			if err != nil {
				t.Fatal(err)
			}
			tag := ""
			if c.o.Method != "" && c.o.Method != "gradients" {
				tag = "." + c.o.Method
			}
			stem := filepath.Join(dir, "in")
			wantMaps := []string{stem + ".saliency" + tag + ".7.png", stem + ".saliency" + tag + ".2.png"}
			if !slices.Equal(files.Maps, wantMaps) {
				t.Fatalf("maps %v, want %v", files.Maps, wantMaps)
			}
			for j, path := range files.Maps {
				got := decode(t, path)
				if b := got.Bounds(); b.Dx() != w || b.Dy() != h {
					t.Fatalf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
				}
				for p, v := range maps[j] {
					c8 := color.NRGBAModel.Convert(got.At(p%w, p/w)).(color.NRGBA)
					want := color.NRGBA{uint8(v*255 + 0.5), uint8(v*255 + 0.5), uint8(v*255 + 0.5), 255}
					if c.colormap != nil {
						want = color.NRGBAModel.Convert(c.colormap.Colorize([]float32{v}, 1, 1).At(0, 0)).(color.NRGBA)
					}
					if c8 != want {
						t.Fatalf("%s pixel %d is %v for value %v, want %v", path, p, c8, v, want)
					}
				}
				if _, isGray := got.(*image.Gray); isGray != (c.colormap == nil) {
					t.Errorf("%s decodes as %T", path, got)
				}
			}
			if c.o.Overlay {
				wantOver := []string{stem + ".overlay" + tag + ".7.png", stem + ".overlay" + tag + ".2.png"}
				if !slices.Equal(files.Overlays, wantOver) {
					t.Errorf("overlays %v, want %v", files.Overlays, wantOver)
				}
				want := render.Overlay(img, maps[0], inferno, 0.5)
				if got := decode(t, files.Overlays[0]); !sameColors(got, want) {
					t.Errorf("%s is not the map in inferno over the image at alpha 0.5", files.Overlays[0])
				}
			} else if files.Overlays != nil {
				t.Errorf("overlays %v written unasked", files.Overlays)
			}
			if c.o.Raw {
				if files.Raw != stem+".saliency.npy" {
					t.Fatalf("raw %q", files.Raw)
				}
				b, err := os.ReadFile(files.Raw)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b[:128], []byte("'shape': (2, 4, 6)")) || len(b) != 128+2*w*h*4 {
					t.Errorf("%s: header %q, %d bytes", files.Raw, b[:128], len(b))
				}
			} else if files.Raw != "" {
				t.Errorf("raw %q written unasked", files.Raw)
			}
		})
	}
}

func sameColors(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if color.NRGBAModel.Convert(a.At(x, y)) != color.NRGBAModel.Convert(b.At(x, y)) {
				return false
			}
		}
	}
	return true
}

// SkipExisting marks an input done when every output it would get exists,
// whatever the way its units are chosen.
func TestPlanSkipsCompleteInputs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "p.jpg")
	j := func(name string) string { return filepath.Join(dir, name) }
	skipped := func(o Options) bool {
		o.SkipExisting = true
		return plan(t, []string{in}, o).Jobs[0].Skipped
	}
	top1 := Options{PerImage: 1}
	if skipped(top1) {
		t.Error("skipped with no output")
	}
	touch(t, j("p.saliency.png"))
	if !skipped(top1) {
		t.Error("top-1 heatmap there, not skipped")
	}
	if skipped(Options{PerImage: 1, Overlay: true}) || skipped(Options{PerImage: 1, Raw: true}) {
		t.Error("skipped without the overlay or the raw array asked for")
	}
	if skipped(Options{PerImage: 1, Method: "gradcam"}) {
		t.Error("gradients' heatmap counted for gradcam")
	}
	// Fixed units: exactly those.
	fixed := Options{Units: []int{3, 9}, PerImage: 2}
	touch(t, j("p.saliency.3.png"))
	if skipped(fixed) {
		t.Error("skipped with unit 9 missing")
	}
	touch(t, j("p.saliency.9.png"))
	if !skipped(fixed) {
		t.Error("both units there, not skipped")
	}
	// Top 3: any three units of this method and kind; other names do not count.
	topK := Options{PerImage: 3, Method: "integrated"}
	touch(t, j("p.saliency.integrated.1.png"), j("p.saliency.integrated.2.png"),
		j("p.saliency.gradcam.3.png"), j("p.overlay.integrated.4.png"), j("p.saliency.integrated.x.png"),
		j("q.saliency.integrated.5.png"))
	if skipped(topK) {
		t.Error("top-3 skipped with two of its heatmaps")
	}
	touch(t, j("p.saliency.integrated.8.png"))
	if !skipped(topK) {
		t.Error("top-3 heatmaps there, not skipped")
	}

	// What a skipped input has, for its record and the report: the run's
	// own kinds, method and units only, by unit.
	existing := func(o Options) Files {
		o.SkipExisting = true
		s := plan(t, []string{in}, o)
		return s.Existing(s.Jobs[0])
	}
	if got := existing(topK); !slices.Equal(got.Maps, []string{j("p.saliency.integrated.1.png"),
		j("p.saliency.integrated.2.png"), j("p.saliency.integrated.8.png")}) || got.Overlays != nil {
		t.Errorf("top-3 existing %+v", got)
	}
	touch(t, j("p.overlay.9.png"), j("p.saliency.npy"))
	if got := existing(Options{Units: []int{9, 3}, PerImage: 2, Overlay: true, Raw: true}); !slices.Equal(got.Maps,
		[]string{j("p.saliency.9.png"), j("p.saliency.3.png")}) || !slices.Equal(got.Overlays, []string{j("p.overlay.9.png")}) ||
		got.Raw != j("p.saliency.npy") {
		t.Errorf("fixed units existing %+v", got)
	}
	if got := existing(top1); !slices.Equal(got.Maps, []string{j("p.saliency.png")}) {
		t.Errorf("top-1 existing %+v", got)
	}
}

// The contact sheet's file is checked against the inputs before any work, and
// written by Finish with what Write added.
func TestSheet(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	s, refused := Plan([]string{in}, Options{Method: "gradients", PerImage: 1, Sheet: in})
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), "would overwrite an input") {
		t.Fatalf("sheet over an input: refused %v", refused)
	}
	if err := s.Finish(); err != nil {
		t.Errorf("Finish of a refused sheet: %v", err)
	}
	if refused[0].File != SheetFile {
		t.Errorf("refused file %q, want the sheet", refused[0].File)
	}

	sheetPath := filepath.Join(dir, "sheet.png")
	s = plan(t, []string{in}, Options{Sheet: sheetPath})
	if err := s.Finish(); err == nil {
		t.Error("an empty sheet was not an error")
	}
	img, maps := picture(60, 40, 1)
	if _, err := s.Write(s.Jobs[0], img, Maps{Units: []int{1}, Values: maps}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if b := decode(t, sheetPath).Bounds(); b.Dx() < SheetCellSize || b.Dy() < 2*SheetCellSize {
		t.Errorf("sheet is %dx%d for one image above its map", b.Dx(), b.Dy())
	}
}

// The report's file is checked like the sheet's, and against it.
func TestReportFile(t *testing.T) {
	dir := t.TempDir()
	in, page := filepath.Join(dir, "in.png"), filepath.Join(dir, "index.html")
	s, refused := Plan([]string{in}, Options{PerImage: 1, Report: in})
	if len(refused) != 1 || refused[0].File != ReportFile || !strings.Contains(refused[0].Error(), "would overwrite an input") || s.Report() != "" {
		t.Errorf("report over an input: refused %v, report %q", refused, s.Report())
	}
	s, refused = Plan([]string{in}, Options{PerImage: 1, Sheet: page, Report: page})
	if len(refused) != 1 || refused[0].File != ReportFile || !strings.Contains(refused[0].Error(), "contact sheet") || s.Report() != "" {
		t.Errorf("report on the sheet: refused %v, report %q", refused, s.Report())
	}
	if s := plan(t, []string{in}, Options{PerImage: 1, Report: page}); s.Report() != page {
		t.Errorf("report %q, want %q", s.Report(), page)
	}
}

// The --json record keeps its fields in the order scripts have seen since the
// first version, non-finite logits and completeness values as null.
func TestRecordJSON(t *testing.T) {
	r := Record{
		Image: "a.png", Width: 4, Height: 3, Units: []int{1}, Labels: []string{"cat"},
		Logits: []float32{2.5}, Scores: "logits",
		Files:  Files{Maps: []string{"a.saliency.png"}, Overlays: []string{"a.overlay.png"}, Raw: "a.saliency.npy"},
		Method: "integrated", Completeness: []method.Completeness{{Sum: 1, Delta: 0, Gap: nan()}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"image":"a.png","width":4,"height":3,"units":[1],"labels":["cat"],"logits":[2.5],"scores":"logits",` +
		`"maps":["a.saliency.png"],"overlays":["a.overlay.png"],"raw":"a.saliency.npy","method":"integrated",` +
		`"completeness":[{"attribution_sum":1,"logit_delta":0,"gap":null}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}
