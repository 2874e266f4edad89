package engine_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// countingTop is the real shared-forward model with a count of its top
// signature's calls, to tell which path the engine took.
type countingTop struct {
	*backprop.Model
	calls atomic.Int32
}

func (c *countingTop) TopGradients(images []float32, n int) ([]int32, []float32, []float32, error) {
	c.calls.Add(1)
	return c.Model.TopGradients(images, n)
}

// TestTopKFromOneForwardPass explains 3 images at K = 5, 4, 3 and 2 through the
// shared SavedModel, whose top signature picks and explains five units from
// one forward pass, and through the main SavedModel (a top-K pass, then each
// unit's gradient): the same units in the same order, and the same maps
// within 1e-5 after normalisation (float32 summation order of two graphs, as
// in method.TestUnitsTogetherEqualUnitsAlone). From K = 3 on the top
// signature must be the one called; at 2 it is not (its six passes would not
// beat the top-K pass and two units' tiled gradients, five, see fusedTop).
func TestTopKFromOneForwardPass(t *testing.T) {
	main := loadModel(t)
	dir := testenv.Path(t, testenv.Model)
	sm, err := backprop.Load(dir, backprop.Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	shared := &countingTop{Model: sm}
	if shared.TopUnits() != 5 {
		t.Fatalf("shared SavedModel picks %d units; want 5: export the test model again", shared.TopUnits())
	}
	in := t.TempDir()
	var paths []string
	for i := range 3 {
		p := filepath.Join(in, "p"+string(rune('a'+i))+".png")
		writePNG(t, p, 60+10*i, 50, 10+i)
		paths = append(paths, p)
	}
	for _, k := range []int{5, 4, 3, 2} {
		shared.calls.Store(0)
		got := explainAll(t, shared, paths, engine.Config{TopK: k})
		want := explainAll(t, main, paths, engine.Config{TopK: k})
		if fused := shared.calls.Load() > 0; fused != (k >= 3) {
			t.Errorf("K=%d: top signature called %d times", k, shared.calls.Load())
		}
		for i := range paths {
			if !slices.Equal(got[i].Units, want[i].Units) {
				t.Fatalf("K=%d image %d: units %v, the main model's top-K %v", k, i, got[i].Units, want[i].Units)
			}
			for j := range got[i].Maps {
				if d := maxDiff(got[i].Maps[j], want[i].Maps[j]); d > 1e-5 {
					t.Errorf("K=%d image %d unit %d: maps differ by %.3g", k, i, got[i].Units[j], d)
				}
				if d := math.Abs(float64(got[i].Logits[j] - want[i].Logits[j])); d > 1e-4*math.Abs(float64(want[i].Logits[j])) {
					t.Errorf("K=%d image %d unit %d: logit %g vs %g", k, i, got[i].Units[j], got[i].Logits[j], want[i].Logits[j])
				}
			}
		}
	}
}

func explainAll(t *testing.T, m engine.Model, paths []string, cfg engine.Config) []engine.Explanation {
	t.Helper()
	var out []engine.Explanation
	engine.Explain(context.Background(), m, paths, cfg, func(e engine.Explanation) {
		if e.Err != nil {
			t.Fatalf("%s: %v", e.Path, e.Err)
		}
		out = append(out, e)
	})
	return out
}

func maxDiff(a, b []float32) float64 {
	d := math.Inf(1)
	if len(a) == len(b) {
		d = 0
		for i := range a {
			d = max(d, math.Abs(float64(a[i]-b[i])))
		}
	}
	return d
}
