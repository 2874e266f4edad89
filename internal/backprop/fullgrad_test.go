package backprop

import (
	"math"
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
	shared, err := Open(m.Manifest, Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if _, err := shared.FullGrad(images, 2, units, 2); err == nil || !strings.Contains(err.Error(), "no fullgrad signature") {
		t.Errorf("shared SavedModel: got %v", err)
	}
}
