package backprop

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/testenv"
)

var (
	loadOnce  sync.Once
	testModel *Model
	loadErr   error
)

// model loads the exported random-weight Xception once for the package's tests.
func model(t *testing.T) *Model {
	t.Helper()
	dir := testenv.Path(t, testenv.Model)
	loadOnce.Do(func() { testModel, loadErr = Load(dir, Options{}) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return testModel
}

// testImages returns n deterministic, smooth, distinct images of the model's size.
func testImages(m *Model, n int) []float32 {
	h, w, c := m.InputSize()
	out := make([]float32, 0, n*h*w*c)
	for i := range n {
		for y := range h {
			for x := range w {
				for ch := range c {
					v := 127.5 + 120*math.Sin(float64(x*(ch+1)+y*(i+2))/37+float64(i))
					out = append(out, float32(v))
				}
			}
		}
	}
	return out
}

// The gradient signature's logits are the forward signature's logits of the same
// units: the two graphs agree on the function being differentiated.
func TestGradientLogitsMatchForwardLogits(t *testing.T) {
	m := model(t)
	const n, k = 2, 3
	images := testImages(m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != n*m.NumClasses() {
		t.Fatalf("%d logits", len(logits))
	}
	units := method.TopK(logits, m.NumClasses(), k)
	picked, grads, err := m.Gradients(images, n, units, k)
	if err != nil {
		t.Fatal(err)
	}
	h, w, c := m.InputSize()
	if len(grads) != n*k*h*w*c {
		t.Fatalf("%d gradient values", len(grads))
	}
	for i, u := range units {
		want := logits[(i/k)*m.NumClasses()+int(u)]
		if rel := math.Abs(float64(picked[i]-want)) / math.Abs(float64(want)); rel > 1e-4 {
			t.Fatalf("unit %d: gradient signature logit %v, forward logit %v", u, picked[i], want)
		}
	}
}

// The exported gradient is the derivative of the forward logit: a central finite
// difference of Logits along a direction d matches <gradient, d>. The direction
// is the gradient's sign pattern, so every pixel moves and the change is large
// enough to rise above float32 rounding.
func TestGradientMatchesFiniteDifference(t *testing.T) {
	m := model(t)
	images := testImages(m, 1)
	logits, err := m.Logits(images, 1)
	if err != nil {
		t.Fatal(err)
	}
	unit := method.TopK(logits, m.NumClasses(), 1)
	_, grad, err := m.Gradients(images, 1, unit, 1)
	if err != nil {
		t.Fatal(err)
	}
	const eps = 0.5 // pixel values are 0..255
	var predicted float64
	plus := slices.Clone(images)
	minus := slices.Clone(images)
	for i, g := range grad {
		d := float32(math.Copysign(1, float64(g)))
		predicted += float64(g) * float64(d)
		plus[i] += eps * d
		minus[i] -= eps * d
	}
	both := append(plus, minus...)
	out, err := m.Logits(both, 2)
	if err != nil {
		t.Fatal(err)
	}
	classes := m.NumClasses()
	measured := float64(out[int(unit[0])]-out[classes+int(unit[0])]) / (2 * eps)
	if rel := math.Abs(measured-predicted) / math.Abs(predicted); rel > 0.05 {
		t.Fatalf("directional derivative: finite difference %.6g, gradient %.6g (rel. diff %.3f)", measured, predicted, rel)
	}
	t.Logf("directional derivative: finite difference %.6g, gradient %.6g", measured, predicted)
}

// Each image's gradient depends on that image only: explaining it alone or in a
// batch with others gives the same values.
func TestGradientsIndependentOfBatch(t *testing.T) {
	m := model(t)
	images := testImages(m, 3)
	per := len(images) / 3
	units := []int32{7, 7, 7}
	_, batched, err := m.Gradients(images, 3, units, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, alone, err := m.Gradients(images[per:2*per], 1, units[:1], 1)
	if err != nil {
		t.Fatal(err)
	}
	var scale, diff float64
	for i, v := range alone {
		scale = max(scale, math.Abs(float64(v)))
		diff = max(diff, math.Abs(float64(v-batched[per+i])))
	}
	if scale == 0 || diff > 1e-4*scale {
		t.Fatalf("max |alone - batched| = %g for gradients of scale %g", diff, scale)
	}
}

func TestGradientsRejectBadArguments(t *testing.T) {
	m := model(t)
	images := testImages(m, 1)
	if _, _, err := m.Gradients(images, 1, []int32{1000}, 1); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("unit 1000: got %v", err)
	}
	if _, _, err := m.Gradients(images, 1, []int32{1, 2}, 1); err == nil || !strings.Contains(err.Error(), "units") {
		t.Fatalf("2 units for k=1: got %v", err)
	}
	if _, err := m.Logits(images[:100], 1); err == nil || !strings.Contains(err.Error(), "values") {
		t.Fatalf("short image: got %v", err)
	}
}

func TestLoadErrorsSayWhatIsWrong(t *testing.T) {
	real := testenv.Path(t, testenv.Model)
	manifestBytes, err := os.ReadFile(filepath.Join(real, "saliency.json"))
	if err != nil {
		t.Fatal(err)
	}

	empty := t.TempDir()
	if _, err := Load(empty, Options{}); err == nil || !strings.Contains(err.Error(), "saliency.json") {
		t.Fatalf("empty folder: got %v", err)
	}

	noSavedModel := t.TempDir()
	if err := os.WriteFile(filepath.Join(noSavedModel, "saliency.json"), manifestBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(noSavedModel, Options{}); err == nil || !strings.Contains(err.Error(), "load SavedModel") {
		t.Fatalf("manifest without SavedModel: got %v", err)
	}

	// The real SavedModel, with a manifest that names a signature it lacks.
	wrongSig := t.TempDir()
	for _, name := range []string{"saved_model.pb", "variables", "fingerprint.pb"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(wrongSig, name)); err != nil {
			t.Fatal(err)
		}
	}
	bad := strings.Replace(string(manifestBytes), `"name": "gradients"`, `"name": "grads_v2"`, 1)
	if err := os.WriteFile(filepath.Join(wrongSig, "saliency.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(wrongSig, Options{}); err == nil || !strings.Contains(err.Error(), `no signature "grads_v2"`) {
		t.Fatalf("missing signature: got %v", err)
	}
}

func TestCloseTwice(t *testing.T) {
	m, err := Load(testenv.Path(t, testenv.Model), Options{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// The fused top1 signature gives what the logits and gradients signatures give
// separately: the same unit, logit and gradient.
func TestTop1GradientsMatchTopKThenGradients(t *testing.T) {
	m := model(t)
	if m.TopUnits() != 1 {
		t.Fatalf("the test model's main SavedModel has TopUnits %d, want 1 (top1): export it again", m.TopUnits())
	}
	assertTopMatchesTopKThenGradients(t, m, m, 2)
}

// The shared SavedModel's top signature picks each image's five best units
// and explains them as the main SavedModel's logits and tiled gradients do.
func TestSharedTopMatchesTopKThenGradients(t *testing.T) {
	m := model(t)
	shared, err := Open(m.Manifest, Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if shared.TopUnits() != 5 {
		t.Fatalf("shared SavedModel: TopUnits %d, want 5: export it again", shared.TopUnits())
	}
	assertTopMatchesTopKThenGradients(t, shared, m, 2)
}

// assertTopMatchesTopKThenGradients compares top's TopGradients on n images
// with ref's logits, TopK and tiled gradients: the same units in the same
// order, logits within 1e-4 relative, gradients within 1e-4 of the largest
// (float32 summation order of two graphs, the bound of
// TestGradientsIndependentOfBatch).
func assertTopMatchesTopKThenGradients(t *testing.T, top, ref *Model, n int) {
	t.Helper()
	k := top.TopUnits()
	images := testImages(ref, n)
	units, logits, grads, err := top.TopGradients(images, n)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ref.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	want := method.TopK(all, ref.NumClasses(), k)
	if !slices.Equal(units, want) {
		t.Fatalf("top units %v, TopK says %v", units, want)
	}
	wantLogits, wantGrads, err := ref.Gradients(images, n, want, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != n*k || len(grads) != len(wantGrads) {
		t.Fatalf("%d logits and %d gradient values, want %d and %d", len(logits), len(grads), n*k, len(wantGrads))
	}
	for i := range logits {
		if d := math.Abs(float64(logits[i] - wantLogits[i])); d > 1e-4*math.Abs(float64(wantLogits[i])) {
			t.Errorf("row %d: logit %g vs %g", i, logits[i], wantLogits[i])
		}
	}
	var scale, diff float64
	for p := range grads {
		scale = max(scale, math.Abs(float64(wantGrads[p])))
		diff = max(diff, math.Abs(float64(grads[p]-wantGrads[p])))
	}
	if diff > 1e-4*scale {
		t.Errorf("gradients differ by %.3g (largest %.3g)", diff, scale)
	}
}

// A model's problems are reported together on one line, and each stays an
// error of its own for errors.Is.
func TestJoinErrors(t *testing.T) {
	if joinErrors(nil) != nil {
		t.Fatal("no errors joined into one")
	}
	first, second := errors.New("no signature \"a\""), errors.New("no output \"b\"")
	err := joinErrors([]error{first, second})
	if got, want := err.Error(), `no signature "a"; no output "b"`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if !errors.Is(err, first) || !errors.Is(err, second) {
		t.Error("errors.Is does not find the joined errors")
	}
}

// The export's signature for five units from one forward pass, in its own
// SavedModel, gives unit by unit what the main SavedModel's tiled signature
// gives for each unit alone: same logits, same gradients up to float32
// summation order (two graphs, different batch shapes; the bound of
// TestGradientsIndependentOfBatch). The shared SavedModel has only the logits,
// gradients and top roles besides; the main one does not offer the signature.
func TestSharedForwardMatchesTiled(t *testing.T) {
	m := model(t)
	sf := m.Manifest.Signatures["gradients"].SharedForward
	if sf == nil || sf.Units != 5 {
		t.Fatalf("manifest shared_forward %+v; want 5 units for a current export", sf)
	}
	if m.SharedUnits() != 0 {
		t.Fatalf("main SavedModel: SharedUnits() = %d; want 0", m.SharedUnits())
	}
	shared, err := Open(m.Manifest, Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if shared.SharedUnits() != 5 || shared.HasGradCAM() {
		t.Fatalf("shared SavedModel: SharedUnits %d, gradcam %v; want 5, false",
			shared.SharedUnits(), shared.HasGradCAM())
	}
	images := testImages(m, 2)
	per := len(images) / 2
	units := []int32{7, 100, 3, 999, 7, 42, 0, 500, 42, 1} // unit 42 twice, as in a padded group
	logits, grads, err := shared.Gradients(images, 2, units, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != 10 || len(grads) != 10*per {
		t.Fatalf("%d logits, %d gradient values; want 10 and %d", len(logits), len(grads), 10*per)
	}
	forward, err := shared.Logits(images, 2)
	if err != nil {
		t.Fatal(err)
	}
	for row, u := range units {
		i := row / 5
		one, alone, err := m.Gradients(images[i*per:(i+1)*per], 1, []int32{u}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []float32{logits[row], forward[i*m.NumClasses()+int(u)]} {
			if d := math.Abs(float64(got - one[0])); d > 1e-5*math.Abs(float64(one[0]))+1e-6 {
				t.Errorf("row %d (unit %d): logit %g from the shared SavedModel, %g from the main one", row, u, got, one[0])
			}
		}
		var scale, diff float64
		for j, v := range alone {
			scale = max(scale, math.Abs(float64(v)))
			diff = max(diff, math.Abs(float64(v-grads[row*per+j])))
		}
		if scale == 0 || diff > 1e-4*scale {
			t.Errorf("row %d (unit %d): max |shared - alone| = %g for gradients of scale %g", row, u, diff, scale)
		}
	}
}
