package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/output"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// The model is loaded once for the package: loading takes seconds.
var (
	modelOnce sync.Once
	model     *backprop.Model
	modelErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if model != nil {
		model.Close()
	}
	os.Exit(code)
}

func loadModel(t *testing.T) *backprop.Model {
	t.Helper()
	dir := testenv.Path(t, testenv.Model)
	modelOnce.Do(func() { model, modelErr = backprop.Load(dir, backprop.Options{}) })
	if modelErr != nil {
		t.Fatalf("load %s: %v", dir, modelErr)
	}
	return model
}

// run plans the outputs of inputs, calls engine.Run and collects what it emits.
func run(t *testing.T, inputs []string, cfg engine.Config, out output.Options) ([]output.Record, int) {
	t.Helper()
	out.Method, out.Units, out.PerImage = "gradients", cfg.Units, max(len(cfg.Units), cfg.TopK)
	set, refused := output.Plan(inputs, out)
	if len(refused) > 0 {
		t.Fatalf("plan: %v", refused)
	}
	var got []output.Record
	failed := engine.Run(context.Background(), loadModel(t), set, cfg, func(r output.Record) { got = append(got, r) })
	return got, failed
}

// pattern draws a smooth picture that differs with seed.
func pattern(w, h, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(x*255/max(w-1, 1) + seed*40),
				G: uint8(y*255/max(h-1, 1) + seed*70),
				B: uint8(128 + 100*math.Sin(float64(x+y*seed)/5)),
				A: 255,
			})
		}
	}
	return img
}

func writePNG(t *testing.T, path string, w, h, seed int) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, pattern(w, h, seed)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func writeJPEG(t *testing.T, path string, w, h, seed int) {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, pattern(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyTestdata(t *testing.T, name, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, name)
	writeFile(t, dst, readFile(t, filepath.Join("..", "..", "testdata", name)))
	return dst
}

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Width, cfg.Height
}

// assertDir checks that dir holds exactly the named entries (no temporaries,
// no stray outputs).
func assertDir(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

// readNPY parses a float32 .npy file written by output.WriteNPY.
func readNPY(t *testing.T, path string) (shape string, data []float32) {
	t.Helper()
	b := readFile(t, path)
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s: not a version 1.0 .npy file", path)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	header := string(b[10 : 10+hl])
	if !strings.Contains(header, "'descr': '<f4'") || !strings.Contains(header, "'fortran_order': False") {
		t.Fatalf("%s: header %q", path, header)
	}
	i := strings.Index(header, "'shape': (")
	if i < 0 {
		t.Fatalf("%s: header %q has no shape", path, header)
	}
	shape = header[i+len("'shape': ("):]
	shape = "(" + shape[:strings.IndexByte(shape, ')')+1]
	payload := b[10+hl:]
	data = make([]float32, len(payload)/4)
	for j := range data {
		data[j] = math.Float32frombits(binary.LittleEndian.Uint32(payload[4*j:]))
	}
	return shape, data
}

// assertSameMaps compares the raw maps two runs wrote for one image. Bounds:
// max 5e-3 and mean 1e-5 of the [0, 1] range. Batches of another size send
// TensorFlow's kernels other shapes, and a ReLU sitting exactly at zero in a
// flat region (astronaut.jpg's black sky) can flip, moving a small block of a
// normalised map (up to 2.5e-3 seen under TensorFlow 2.21; 2.7e-6 here between
// batches of 8 and 1). An image paired with another's row, a unit's map
// swapped or a stale buffer moves the whole map, far past the mean bound.
func assertSameMaps(t *testing.T, image, got, want string) {
	t.Helper()
	gotShape, a := readNPY(t, got)
	wantShape, b := readNPY(t, want)
	if gotShape != wantShape || len(a) != len(b) {
		t.Errorf("%s: maps of shape %s, want %s", image, gotShape, wantShape)
		return
	}
	var maxDiff, sum float64
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		maxDiff, sum = math.Max(maxDiff, d), sum+d
	}
	if mean := sum / float64(len(a)); !(maxDiff <= 5e-3 && mean <= 1e-5) {
		t.Errorf("%s: maps differ with the batch size: max %.2e, mean %.2e", image, maxDiff, mean)
	}
}

func relClose(a, b, rtol float32) bool {
	return math.Abs(float64(a-b)) <= float64(rtol)*math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

// TestRunBatching runs five images once with one batch, and compares runs with
// smaller batches and with failing inputs among them against it.
func TestRunBatching(t *testing.T) {
	dir := t.TempDir()
	var good []string
	for _, name := range []string{"astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"} {
		good = append(good, copyTestdata(t, name, dir))
	}
	synthetic := filepath.Join(dir, "synthetic.png")
	writePNG(t, synthetic, 40, 30, 1)
	good = append(good, synthetic)

	base, failed := run(t, good, engine.Config{TopK: 1, BatchSize: 8}, output.Options{Dir: t.TempDir(), Raw: true})
	if failed != 0 || len(base) != len(good) {
		t.Fatalf("baseline: %d results, %d failed, want %d and 0", len(base), failed, len(good))
	}
	for i, r := range base {
		if r.Err != nil {
			t.Fatalf("baseline %s: %v", r.Image, r.Err)
		}
		if r.Image != good[i] || len(r.Units) != 1 || len(r.Logits) != 1 || len(r.Maps) != 1 {
			t.Fatalf("baseline result %d: %+v", i, r)
		}
	}

	t.Run("BatchSize2", func(t *testing.T) {
		got, failed := run(t, good, engine.Config{TopK: 1, BatchSize: 2}, output.Options{Dir: t.TempDir(), Raw: true})
		if failed != 0 || len(got) != len(good) {
			t.Fatalf("%d results, %d failed, want %d and 0", len(got), failed, len(good))
		}
		for i, r := range got {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Image, r.Err)
				continue
			}
			if r.Image != good[i] {
				t.Errorf("result %d is %s, want %s", i, r.Image, good[i])
			}
			if !reflect.DeepEqual(r.Units, base[i].Units) {
				t.Errorf("%s: units %v with batch 2, %v with batch 8", r.Image, r.Units, base[i].Units)
				continue
			}
			// All photos may share a top unit under random weights; the
			// logits tell the images apart.
			if !relClose(r.Logits[0], base[i].Logits[0], 1e-5) {
				t.Errorf("%s: logit %v with batch 2, %v with batch 8", r.Image, r.Logits[0], base[i].Logits[0])
			}
			assertSameMaps(t, r.Image, r.Raw, base[i].Raw)
		}
	})

	t.Run("FailuresInTheMiddleOfABatch", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.png")
		text := filepath.Join(dir, "text.png")
		writeFile(t, text, []byte("not an image\n"))
		empty := filepath.Join(dir, "empty.jpg")
		writeFile(t, empty, nil)
		// Batches of 3: [astronaut text chelsea] [missing coffee rocket] [empty synthetic].
		inputs := []string{good[0], text, good[1], missing, good[2], good[3], empty, good[4]}
		bad := map[string]bool{text: true, missing: true, empty: true}
		got, failed := run(t, inputs, engine.Config{TopK: 1, BatchSize: 3}, output.Options{Dir: t.TempDir()})
		if len(got) != len(inputs) {
			t.Fatalf("%d results for %d inputs", len(got), len(inputs))
		}
		if failed != len(bad) {
			t.Errorf("Run returned %d failures, want %d", failed, len(bad))
		}
		gi := 0
		for i, r := range got {
			if r.Image != inputs[i] {
				t.Errorf("result %d is %s, want %s (input order)", i, r.Image, inputs[i])
				continue
			}
			if bad[r.Image] {
				if r.Err == nil {
					t.Errorf("%s: no error", r.Image)
				}
				if r.Maps != nil || r.Units != nil {
					t.Errorf("%s: failed but has units %v, maps %v", r.Image, r.Units, r.Maps)
				}
				continue
			}
			want := base[gi]
			gi++
			if r.Err != nil {
				t.Errorf("%s: %v", r.Image, r.Err)
				continue
			}
			if !reflect.DeepEqual(r.Units, want.Units) {
				t.Errorf("%s: units %v, %v without the failing inputs", r.Image, r.Units, want.Units)
			}
			for j := range r.Logits {
				if !relClose(r.Logits[j], want.Logits[j], 1e-5) {
					t.Errorf("%s: logit %v, %v without the failing inputs", r.Image, r.Logits[j], want.Logits[j])
				}
			}
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("%s was created", missing)
		}
		if b := readFile(t, text); string(b) != "not an image\n" {
			t.Errorf("%s changed: %q", text, b)
		}
	})
}

func TestRunSameStemInOneFolder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jpg"), filepath.Join(dir, "a.png")
	writeJPEG(t, a, 40, 30, 2)
	writePNG(t, b, 50, 20, 3)
	aBytes, bBytes := readFile(t, a), readFile(t, b)

	got, failed := run(t, []string{a, b}, engine.Config{TopK: 1, BatchSize: 8}, output.Options{})
	if len(got) != 2 || got[0].Image != a || got[1].Image != b {
		t.Fatalf("results %+v, want one for %s then one for %s", got, a, b)
	}
	if failed != 1 {
		t.Errorf("Run returned %d failures, want 1", failed)
	}
	var ok, rejected output.Record
	switch {
	case got[0].Err == nil && got[1].Err != nil:
		ok, rejected = got[0], got[1]
	case got[0].Err != nil && got[1].Err == nil:
		ok, rejected = got[1], got[0]
	default:
		t.Fatalf("want exactly one of the two explained, got errors %v and %v", got[0].Err, got[1].Err)
	}
	msg := rejected.Err.Error()
	if !strings.Contains(msg, "overwrite") || !strings.Contains(msg, filepath.Base(ok.Image)) {
		t.Errorf("error %q does not name the collision with %s", msg, ok.Image)
	}
	out := filepath.Join(dir, "a.saliency.png")
	if !reflect.DeepEqual(ok.Maps, []string{out}) {
		t.Errorf("maps %v, want [%s]", ok.Maps, out)
	}
	// The one map is the explained image's: same size as that image.
	w, h := pngSize(t, out)
	if w != ok.Width || h != ok.Height {
		t.Errorf("%s is %dx%d, the explained image %dx%d", out, w, h, ok.Width, ok.Height)
	}
	if !bytes.Equal(readFile(t, a), aBytes) || !bytes.Equal(readFile(t, b), bBytes) {
		t.Error("an input changed")
	}
	assertDir(t, dir, "a.jpg", "a.png", "a.saliency.png")
}

func TestRunNeverOverwritesAnInput(t *testing.T) {
	dir := t.TempDir()
	x, xs := filepath.Join(dir, "x.png"), filepath.Join(dir, "x.saliency.png")
	writePNG(t, x, 40, 30, 4)
	writePNG(t, xs, 30, 40, 5)
	xsBytes := readFile(t, xs)

	got, failed := run(t, []string{x, xs}, engine.Config{TopK: 1, BatchSize: 8}, output.Options{})
	if len(got) != 2 || got[0].Image != x || got[1].Image != xs {
		t.Fatalf("results %+v, want one for %s then one for %s", got, x, xs)
	}
	if failed != 1 {
		t.Errorf("Run returned %d failures, want 1", failed)
	}
	if got[0].Err == nil {
		t.Errorf("%s: no error, though its output is the input %s", x, xs)
	} else if !strings.Contains(got[0].Err.Error(), "overwrite") {
		t.Errorf("%s: error %q does not say it would overwrite an input", x, got[0].Err)
	}
	if got[0].Maps != nil {
		t.Errorf("%s: failed but reports maps %v", x, got[0].Maps)
	}
	if got[1].Err != nil {
		t.Fatalf("%s: %v", xs, got[1].Err)
	}
	want := filepath.Join(dir, "x.saliency.saliency.png")
	if !reflect.DeepEqual(got[1].Maps, []string{want}) {
		t.Errorf("%s: maps %v, want [%s]", xs, got[1].Maps, want)
	}
	if !bytes.Equal(readFile(t, xs), xsBytes) {
		t.Errorf("%s was overwritten", xs)
	}
	if w, h := pngSize(t, want); w != 30 || h != 40 {
		t.Errorf("%s is %dx%d, want 30x40", want, w, h)
	}
	assertDir(t, dir, "x.png", "x.saliency.png", "x.saliency.saliency.png")
}

func TestRunSamePathTwiceIsExplainedOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.png")
	writePNG(t, p, 40, 30, 6)
	again := dir + string(filepath.Separator) + "." + string(filepath.Separator) + "p.png"

	got, failed := run(t, []string{p, again, p}, engine.Config{TopK: 1, BatchSize: 8}, output.Options{})
	if failed != 0 {
		t.Errorf("Run returned %d failures, want 0", failed)
	}
	if len(got) != 1 {
		t.Fatalf("%d results for one file given three times, want 1: %+v", len(got), got)
	}
	if got[0].Image != p || got[0].Err != nil {
		t.Errorf("result %s, error %v; want %s explained", got[0].Image, got[0].Err, p)
	}
	assertDir(t, dir, "p.png", "p.saliency.png")
}

func TestRunFixedUnitsAndRaw(t *testing.T) {
	m := loadModel(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	type input struct {
		name string
		w, h int
	}
	// 299x299 is the model's size: no resizing, so each map's maximum is
	// exactly 1. The others are resized after normalising.
	inputs := []input{{"small.png", 40, 30}, {"model.png", 299, 299}, {"tall.png", 17, 60}}
	var paths []string
	for i, in := range inputs {
		p := filepath.Join(dir, in.name)
		writePNG(t, p, in.w, in.h, 7+i)
		paths = append(paths, p)
	}

	got, failed := run(t, paths, engine.Config{Units: []int{0, 999}, TopK: 1, BatchSize: 8}, output.Options{Dir: out, Raw: true})
	if failed != 0 || len(got) != len(paths) {
		t.Fatalf("%d results, %d failed, want %d and 0", len(got), failed, len(paths))
	}
	labels := []string{m.Labels()[0], m.Labels()[999]}
	for i, r := range got {
		in := inputs[i]
		if r.Err != nil {
			t.Errorf("%s: %v", r.Image, r.Err)
			continue
		}
		stem := filepath.Join(out, strings.TrimSuffix(in.name, ".png"))
		if r.Image != paths[i] || r.Width != in.w || r.Height != in.h {
			t.Errorf("result %d: %s %dx%d, want %s %dx%d", i, r.Image, r.Width, r.Height, paths[i], in.w, in.h)
		}
		if !reflect.DeepEqual(r.Units, []int{0, 999}) {
			t.Errorf("%s: units %v, want [0 999]", r.Image, r.Units)
		}
		if !reflect.DeepEqual(r.Labels, labels) {
			t.Errorf("%s: labels %q, want %q", r.Image, r.Labels, labels)
		}
		if len(r.Logits) != 2 {
			t.Errorf("%s: %d logits, want 2", r.Image, len(r.Logits))
		}
		wantMaps := []string{stem + ".saliency.0.png", stem + ".saliency.999.png"}
		if !reflect.DeepEqual(r.Maps, wantMaps) {
			t.Errorf("%s: maps %v, want %v", r.Image, r.Maps, wantMaps)
		}
		for _, p := range wantMaps {
			if w, h := pngSize(t, p); w != in.w || h != in.h {
				t.Errorf("%s is %dx%d, want %dx%d", p, w, h, in.w, in.h)
			}
		}
		if r.Raw != stem+".saliency.npy" {
			t.Fatalf("%s: raw %q, want %s", r.Image, r.Raw, stem+".saliency.npy")
		}
		shape, data := readNPY(t, r.Raw)
		if want := fmt.Sprintf("(2, %d, %d)", in.h, in.w); shape != want {
			t.Errorf("%s: shape %s, want %s", r.Raw, shape, want)
		}
		if len(data) != 2*in.w*in.h {
			t.Fatalf("%s: %d values, want %d", r.Raw, len(data), 2*in.w*in.h)
		}
		for k := range 2 {
			plane := data[k*in.w*in.h : (k+1)*in.w*in.h]
			lo, hi := slices.Min(plane), slices.Max(plane)
			if lo < 0 || hi > 1 || math.IsNaN(float64(lo+hi)) {
				t.Errorf("%s map %d: values in [%v, %v], want within [0, 1]", r.Raw, k, lo, hi)
			}
			if in.w == 299 && in.h == 299 && (hi != 1 || lo != 0) {
				t.Errorf("%s map %d: range [%v, %v], want [0, 1] exactly at the model's size", r.Raw, k, lo, hi)
			}
			if hi < 0.2 {
				t.Errorf("%s map %d: maximum %v, the map is almost empty", r.Raw, k, hi)
			}
		}
		// The PNG is the raw map quantised to 8 bits.
		pngPix := decodeGray(t, wantMaps[1])
		for j, v := range data[in.w*in.h:] {
			if d := math.Abs(float64(v)*255 - float64(pngPix[j])); d > 0.5+1e-3 {
				t.Fatalf("%s pixel %d is %d, raw value %v", wantMaps[1], j, pngPix[j], v)
			}
		}
	}
	assertDir(t, dir, "small.png", "model.png", "tall.png", "out")
}

func decodeGray(t *testing.T, path string) []uint8 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s decodes as %T, want *image.Gray", path, img)
	}
	return g.Pix
}
