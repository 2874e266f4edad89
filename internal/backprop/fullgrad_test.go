package backprop

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/method"
)

// The fullgrad signature through the Go binding: the output sizes, logits equal
// to serving_default's, and errors that say what is wrong (a bad unit, a
// SavedModel without the signature). internal/method's tests check the
// decomposition itself.
func TestFullGradOutputsAndErrors(t *testing.T) {
	m := model(t)
	var _ method.FullGradModel = m
	h, w, c := m.InputSize()
	images := testImages(m, 2)
	units := []int32{3, 500, 999, 3}
	parts, err := m.FullGrad(images, 2, units, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Logits) != 4 || len(parts.Inputs) != 4*h*w*c || len(parts.Bias) != 4*h*w || len(parts.BiasTotal) != 4 {
		t.Fatalf("%d logits, %d input terms, %d bias map values, %d bias totals",
			len(parts.Logits), len(parts.Inputs), len(parts.Bias), len(parts.BiasTotal))
	}
	logits, err := m.Logits(images, 2)
	if err != nil {
		t.Fatal(err)
	}
	for row, u := range units {
		want := logits[(row/2)*m.NumClasses()+int(u)]
		if d := math.Abs(float64(parts.Logits[row] - want)); d > 1e-4*math.Abs(float64(want))+1e-9 {
			t.Errorf("row %d: fullgrad logit %g, serving_default %g", row, parts.Logits[row], want)
		}
	}
	if _, err := m.FullGrad(images, 2, []int32{3, 1000, 1, 2}, 2); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("unit 1000: got %v", err)
	}
	// fullgrad lives in a SavedModel of its own (models/export.py OWN_DIR): the
	// main one has no such signature and opens that one when asked; a model
	// opened on it has the logits and fullgrad only, and gives the same parts.
	if d := m.Manifest.Signatures["fullgrad"].Dir; d != "fullgrad" {
		t.Errorf("manifest puts fullgrad in %q, want its own fullgrad/", d)
	}
	if m.has("fullgrad") {
		t.Error("the main SavedModel binds the fullgrad signature")
	}
	own, err := Open(m.Manifest, Options{Own: "fullgrad"})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if !own.has("fullgrad") || !own.has("logits") || own.has("gradients") || own.has("gradcam") {
		t.Errorf("fullgrad's SavedModel binds %v, want logits and fullgrad", slices.Sorted(maps.Keys(own.bound)))
	}
	if _, _, err := own.Gradients(images, 2, units, 2); err == nil || !strings.Contains(err.Error(), "no gradients signature") {
		t.Errorf("gradients on fullgrad's SavedModel: got %v", err)
	}
	shared, err := Open(m.Manifest, Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	for what, model := range map[string]*Model{"fullgrad's own": own, "shared": shared} {
		got, err := model.FullGrad(images, 2, units, 2)
		if err != nil {
			t.Fatalf("%s SavedModel: %v", what, err)
		}
		// One graph in another session: the same arithmetic up to the order of
		// multi-threaded reductions, float32 rounding of the largest value.
		if d, tol := maxDiff(got.Inputs, parts.Inputs), 1e-6*maxAbs(parts.Inputs); !(d <= tol) {
			t.Errorf("%s SavedModel: input terms differ by %g (tolerance %g)", what, d, tol)
		}
		if d, tol := maxDiff(got.Bias, parts.Bias), 1e-6*maxAbs(parts.Bias); !(d <= tol) {
			t.Errorf("%s SavedModel: bias maps differ by %g (tolerance %g)", what, d, tol)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func maxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
