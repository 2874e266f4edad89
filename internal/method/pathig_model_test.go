package method_test

import (
	"math"
	"testing"

	. "github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// Blur IG and Guided IG on the trained demo model: the path's ends, shapes and
// logits, Blur IG's completeness, and Guided IG's one-step closed form.
// tests/ compares both with PAIR saliency itself.

// Blur IG's attributions add up to logit(x) - logit(x blurred at sigma 50) as
// its left Riemann sum in sigma converges. The sum misses the first interval,
// [0, 0.5], where the slope is 0 (PAIR's too), and the trained model's logit
// changes fastest at small sigma, so the gap left at PAIR's 100 steps depends
// on the model, which changes with every training run. Measured on the first 4
// held-out composites: 66%, 12%, 27%, 16% at 25 steps and 1.2%, 5.0%, 2.7%,
// 3.9% at 100 (mean 3.2%) on one run's model; 9.1%, 1.3%, 38%, 40% and 10.1%,
// 1.9%, 4.1%, 1.9% (mean 4.5%) on CI's (2026-11-28). So at 100 steps every gap
// must be under 20% and their mean under 8%, and the mean must shrink from 25
// steps: a wrong sign leaves gaps near 200%, a slope off by a factor of two
// 50%, a wrong step no convergence. The logits are the image's, the gradients
// method's.
func TestBlurIGCompletenessOnTheTrainedModel(t *testing.T) {
	m := model(t, "fashion")
	const n = 4
	images := heldOut(t, m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Images: images, N: n, Units: TopK(logits, m.NumClasses(), 1), K: 1, Rows: 8}
	grads := explain(t, "gradients", DefaultParams(), m, b)
	gaps := func(steps int) []float64 {
		res := explain(t, "blurig", Params{Steps: steps}, m, b)
		if len(res.Completeness) != n {
			t.Fatalf("%d completeness records for %d rows", len(res.Completeness), n)
		}
		out := make([]float64, n)
		for row, c := range res.Completeness {
			t.Logf("%d steps, row %d: sum %.5g, delta %.5g, gap %.2e", steps, row, c.Sum, c.Delta, c.Gap)
			if d := math.Abs(float64(res.Logits[row] - grads.Logits[row])); !(d <= 1e-4*math.Abs(float64(grads.Logits[row]))+1e-6) {
				t.Errorf("row %d: logit %g, gradients says %g", row, res.Logits[row], grads.Logits[row])
			}
			if !(math.Abs(c.Delta) > 0.1) || math.IsInf(c.Sum, 0) || math.IsNaN(c.Sum) {
				t.Errorf("row %d: sum %v, delta %v", row, c.Sum, c.Delta)
			}
			out[row] = c.Gap
		}
		return out
	}
	coarse, fine := gaps(25), gaps(BlurIGSteps)
	for row, gap := range fine {
		if !(gap < 0.20) {
			t.Errorf("row %d: gap %.2e at %d steps, want < 20%%", row, gap, BlurIGSteps)
		}
	}
	if mc, mf := meanOf(coarse), meanOf(fine); !(mf < 0.08) || !(mf < mc) {
		t.Errorf("mean gap %.2e at 25 steps, %.2e at %d; want under 8%% and shrinking", mc, mf, BlurIGSteps)
	}
}

// Guided IG in one step is exact arithmetic: alpha = 1 bounds every feature to
// [0.98, 1] of its way, so all move from black to 0.98 x and then to x with the
// gradient at black: the attribution is (x - black) * g(black), computed here
// from the model's gradients at a black image. Its completeness record is
// logit(x) - logit(black) against the attributions' sum (the maps' positive
// and negative parts, each times the 3 channels the mean divided by).
func TestGuidedIGOneStepIsInputTimesGradientAtBlack(t *testing.T) {
	m := model(t, "fashion")
	const n = 2
	h, w, c := m.InputSize()
	pixels := h * w * c
	images := heldOut(t, m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	units := TopK(logits, m.NumClasses(), 2)
	b := Batch{Images: images, N: n, Units: units, K: 2, Rows: 3}
	lo, _ := m.InputRange()
	black := make([]float32, n*pixels)
	for p := range black {
		black[p] = lo
	}
	blackLogits, g, err := m.Gradients(black, n, units, 2)
	if err != nil {
		t.Fatal(err)
	}
	pos := Params{Steps: 1, Channels: postproc.Channels{Filter: postproc.Positive, Reduce: postproc.Mean}}
	neg := pos
	neg.Channels.Filter = postproc.Negative
	rp := explain(t, "guidedig", pos, m, b)
	rn := explain(t, "guidedig", neg, m, b)
	for row := range n * 2 {
		x := images[(row/2)*pixels : (row/2+1)*pixels]
		attr := make([]float32, pixels)
		var sum float64
		for p := range attr {
			attr[p] = (x[p] - lo) * g[row*pixels+p]
			sum += float64(attr[p])
		}
		want := pos.Channels.Apply(attr, h, w, c)
		if d := maxAbsDiff(rp.Maps[row], want); !(d <= 1e-6*maxAbs(want)) {
			t.Errorf("row %d: the one-step map differs from (x - black) g(black) by %.2e (max %.2e)", row, d, maxAbs(want))
		}
		var fromMaps float64
		for p := range rp.Maps[row] {
			fromMaps += float64(c) * (float64(rp.Maps[row][p]) - float64(rn.Maps[row][p]))
		}
		cp := rp.Completeness[row]
		delta := float64(rp.Logits[row]) - float64(blackLogits[row])
		if math.Abs(cp.Sum-sum) > 1e-4*math.Abs(sum)+1e-6 || math.Abs(cp.Sum-fromMaps) > 1e-4*math.Abs(sum)+1e-6 ||
			math.Abs(cp.Delta-delta) > 1e-5*math.Abs(delta)+1e-6 {
			t.Errorf("row %d: completeness %+v; want the sum %g (maps: %g), delta %g", row, cp, sum, fromMaps, delta)
		}
	}
}

// Guided IG at more steps: the maps have the input's size and are not
// constant, the logits are the image's (the gradients method's), and the
// completeness record's delta is logit(x) - logit(black). The gap itself is
// not bounded: PAIR's Guided IG moves a selected feature up to 2 max_dist =
// 4% of its way at once, whatever the steps, so its Riemann sum does not
// converge as the steps grow; on the first 4 held-out composites the gaps were
// 257%, 9%, 30%, 36% at 50 steps, 306%, 37%, 42%, 40% at PAIR's 200 and 290%,
// 60%, 42%, 51% at 800 (PAIR's own sums, on the same gradients, agree with
// these to 1e-14; tests/ compares them).
func TestGuidedIGOnTheTrainedModel(t *testing.T) {
	m := model(t, "fashion")
	const n = 2
	h, w, c := m.InputSize()
	images := heldOut(t, m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Images: images, N: n, Units: TopK(logits, m.NumClasses(), 1), K: 1, Rows: 2}
	black := make([]float32, n*h*w*c)
	lo, _ := m.InputRange()
	for p := range black {
		black[p] = lo
	}
	blackLogits, err := m.Logits(black, n)
	if err != nil {
		t.Fatal(err)
	}
	grads := explain(t, "gradients", DefaultParams(), m, b)
	res := explain(t, "guidedig", Params{Steps: 20}, m, b)
	for row := range n {
		if d := math.Abs(float64(res.Logits[row] - grads.Logits[row])); !(d <= 1e-4*math.Abs(float64(grads.Logits[row]))+1e-6) {
			t.Errorf("row %d: logit %g, gradients says %g", row, res.Logits[row], grads.Logits[row])
		}
		u := int(b.Units[row])
		delta := float64(grads.Logits[row]) - float64(blackLogits[row*m.NumClasses()+u])
		if cp := res.Completeness[row]; !(math.Abs(cp.Delta-delta) <= 1e-4*math.Abs(delta)+1e-5) || math.IsNaN(cp.Sum) {
			t.Errorf("row %d: completeness %+v, want delta %g", row, cp, delta)
		}
		if mp := res.Maps[row]; len(mp) != h*w || maxAbs(mp) == 0 || minOf(mp) == maxAbs(mp) {
			t.Errorf("row %d: a map of %d values in [%g, %g]", row, len(mp), minOf(mp), maxAbs(mp))
		}
	}
}

func maxAbs(a []float32) float64 {
	var m float64
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

func minOf(a []float32) float64 {
	m := math.Inf(1)
	for _, v := range a {
		m = min(m, float64(v))
	}
	return m
}
