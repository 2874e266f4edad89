package method

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/saliency-tool/saliency/internal/postproc"
)

// Guided IG's bookkeeping by hand, and Blur IG and Guided IG on a linear
// function, whose path integrals have closed forms (package gaussfilter tests
// Blur IG's blur). pathig_model_test.go runs them on the real exported models;
// tests/ compares them with PAIR.

// numpy.quantile(a, q, method="lower") by hand and against sorting, with the
// duplicates and +Inf Guided IG's gradients have.
func TestQuantileLower(t *testing.T) {
	inf := float32(math.Inf(1))
	// sorted [1 2 2 3 5 +Inf]; floor(5 * 0.25) = 1.
	if got := quantileLower([]float32{3, 1, 2, 2, 5, inf}, 0.25); got != 2 {
		t.Errorf("quantile 0.25 = %g, want 2", got)
	}
	if got := quantileLower([]float32{inf, inf, inf, 4}, 0.25); got != 4 {
		t.Errorf("quantile 0.25 = %g, want 4", got)
	}
	if got := quantileLower([]float32{inf, inf, 4, inf, 7}, 0.25); got != 7 {
		t.Errorf("quantile 0.25 = %g, want 7", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(300)
		a := make([]float32, n)
		for i := range a {
			switch rng.IntN(4) {
			case 0:
				a[i] = 0
			case 1:
				a[i] = inf
			default:
				a[i] = float32(rng.IntN(20))
			}
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		for _, q := range []float64{0, 0.25, 0.5, 1} {
			want := sorted[int(math.Floor(float64(n-1)*q))]
			if got := quantileLower(slices.Clone(a), q); got != want {
				t.Fatalf("trial %d, n %d, q %g: %g, want %g", trial, n, q, got, want)
			}
		}
	}
}

func TestIsClose(t *testing.T) {
	for _, c := range []struct {
		a, b float64
		want bool
	}{
		{0, 0, true}, {0, 1e-9, true}, {0, 2e-9, false},
		{1e6, 1e6 + 5e-4, true}, {1e6, 1e6 + 2e-3, false},
		{math.Inf(1), math.Inf(1), true}, {math.Inf(1), 1, false},
	} {
		if got := isClose(c.a, c.b, 1e-9); got != c.want {
			t.Errorf("isClose(%g, %g) = %v", c.a, c.b, got)
		}
	}
}

// One Guided IG step by hand: four features from 0 to 1, 10 steps, a constant
// gradient. Step 1's target is L1 3.6 with alpha in [0.08, 0.12]. All four
// features are behind 0.08 and move there (L1 3.68); the feature of the
// smallest |gradient| (the 0.25 quantile, "lower") moves to 0.12 (gamma = 2 >
// 1: all the way), L1 3.64; it is then excluded, and the next smallest closes
// the gap (gamma 1). Each move times the gradient is its attribution.
func TestGuidedStepByHand(t *testing.T) {
	g := newGuidedPath([]float32{1, 1, 1, 1}, 0, 10)
	grad := []float32{-1, 2, 3, -4}
	g.step(0, grad)
	want := []float64{0.12, 0.12, 0.08, 0.08}
	for p := range want {
		if math.Abs(g.x[p]-want[p]) > 1e-12 || math.Abs(g.attr[p]-want[p]*float64(grad[p])) > 1e-12 {
			t.Errorf("feature %d: x %g, attribution %g; want %g, %g", p, g.x[p], g.attr[p], want[p], want[p]*float64(grad[p]))
		}
	}
}

// Ties at the threshold all move: |gradient| 1, 1, 1, 5 selects the first
// three, which share the 0.08 of L1 left after the catch-up (gamma = 2/3 of
// their way to 0.12).
func TestGuidedStepTiesMoveTogether(t *testing.T) {
	g := newGuidedPath([]float32{1, 1, 1, 1}, 0, 10)
	g.step(0, []float32{1, -1, 1, 5})
	want := []float64{0.08 + 0.04*2/3, 0.08 + 0.04*2/3, 0.08 + 0.04*2/3, 0.08}
	for p := range want {
		if math.Abs(g.x[p]-want[p]) > 1e-12 {
			t.Errorf("feature %d: x %g, want %g", p, g.x[p], want[p])
		}
	}
	var l1 float64
	for p := range g.x {
		l1 += 1 - g.x[p]
	}
	if math.Abs(l1-3.6) > 1e-12 {
		t.Errorf("L1 after step 1: %g, want 3.6", l1)
	}
}

// Every feature stays within max_dist = 0.02 of the straight line's alpha
// after each step (behind it is moved up first; ahead it is never moved past),
// the feature of zero gradient leads (it moves first), a feature equal to its
// baseline never moves, and at the end all reach the input.
func TestGuidedPathBounds(t *testing.T) {
	const steps = 50
	in := []float64{200, 100, 50, 0}
	g := newGuidedPath([]float32{200, 100, 50, 0}, 0, steps)
	grad := []float32{0, 3, -3, 7}
	for s := range steps {
		g.step(s, grad)
		alpha := float64(s+1) / steps
		for p := range 3 {
			if a := g.x[p] / in[p]; a < alpha-0.02-1e-12 || a > alpha+0.02+1e-12 {
				t.Fatalf("step %d: feature %d at alpha %g, outside %g +- 0.02", s, p, a, alpha)
			}
			if g.x[p]/in[p] > g.x[0]/in[0]+1e-12 {
				t.Fatalf("step %d: feature %d (alpha %g) ahead of the zero-gradient feature (%g)", s, p, g.x[p]/in[p], g.x[0]/in[0])
			}
		}
		if g.x[3] != 0 {
			t.Fatalf("step %d: the feature equal to its baseline moved to %g", s, g.x[3])
		}
	}
	for p := range in {
		if math.Abs(g.x[p]-in[p]) > 1e-9 || math.Abs(g.attr[p]-in[p]*float64(grad[p])) > 1e-9 {
			t.Errorf("feature %d ends at %g with attribution %g; want the input %g and %g", p, g.x[p], g.attr[p], in[p], in[p]*float64(grad[p]))
		}
	}
}

// linear is f_u(x) = W_u . x + b_u on h x w x c images in [0, 255]: its
// gradient is W_u everywhere, so the path methods have closed forms. It counts
// the image-unit rows of its Gradients calls.
type linear struct {
	h, w, c int
	weights [][]float32 // per unit, h*w*c
	bias    []float32
	calls   int
	maxRows int
}

func (l *linear) InputSize() (int, int, int)     { return l.h, l.w, l.c }
func (l *linear) InputRange() (float32, float32) { return 0, 255 }

func (l *linear) Logits(images []float32, n int) ([]float32, error) {
	pixels := l.h * l.w * l.c
	out := make([]float32, 0, n*len(l.weights))
	for i := range n {
		x := images[i*pixels : (i+1)*pixels]
		for u, wu := range l.weights {
			out = append(out, l.logit(x, wu, l.bias[u]))
		}
	}
	return out, nil
}

func (l *linear) logit(x, w []float32, b float32) float32 {
	s := float64(b)
	for p := range x {
		s += float64(w[p]) * float64(x[p])
	}
	return float32(s)
}

func (l *linear) Gradients(images []float32, n int, units []int32, k int) ([]float32, []float32, error) {
	pixels := l.h * l.w * l.c
	l.calls++
	l.maxRows = max(l.maxRows, n*k)
	var logits, grads []float32
	for r, u := range units {
		x := images[(r/k)*pixels : (r/k+1)*pixels]
		logits = append(logits, l.logit(x, l.weights[u], l.bias[u]))
		grads = append(grads, l.weights[u]...)
	}
	return logits, grads, nil
}

func (l *linear) GradCAM([]float32, int, []int32, int) (CAM, error) {
	return CAM{}, errors.New("linear: no gradcam")
}

// signed keeps the attribution's sign in the map (one channel: the map is the
// attribution itself).
var signed = postproc.Channels{Filter: postproc.Positive, Reduce: postproc.Mean}

// Guided IG on a linear function: every feature ends at the input, so its
// attribution is W (x - black) exactly, whatever the path; the sum is the
// logit's change (completeness), and the logits are f(x). Two images and two
// units in calls of at most 3 rows, one unit per image, one call per step.
func TestGuidedIGOnALinearFunction(t *testing.T) {
	const h, w, steps = 4, 5, 30
	l := &linear{h: h, w: w, c: 1, bias: []float32{0.5, -2}}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2 {
		wu := make([]float32, h*w)
		for p := range wu {
			wu[p] = float32(rng.NormFloat64())
		}
		l.weights = append(l.weights, wu)
	}
	images := make([]float32, 2*h*w)
	for p := range images {
		images[p] = float32(rng.IntN(256))
	}
	b := Batch{Images: images, N: 2, Units: []int32{0, 1, 1, 0}, K: 2, Rows: 3}
	meth, err := New("guidedig", Params{Steps: steps, Channels: postproc.Channels{Filter: postproc.Absolute, Reduce: postproc.Mean}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := meth.Explain(l, b)
	if err != nil {
		t.Fatal(err)
	}
	if l.maxRows > 3 || l.calls != 2*steps { // 4 rows: a call of 3 and one of 1, per step
		t.Errorf("%d calls of at most %d rows; want %d of at most 3", l.calls, l.maxRows, 2*steps)
	}
	for row := range 4 {
		i, u := row/2, b.Units[row]
		x := images[i*h*w : (i+1)*h*w]
		for p := range h * w {
			want := math.Abs(float64(l.weights[u][p]) * float64(x[p]))
			if got := float64(res.Maps[row][p]); math.Abs(got-want) > 1e-5*(1+want) {
				t.Fatalf("row %d pixel %d: %g, want |W x| = %g", row, p, got, want)
			}
		}
		if want := l.logit(x, l.weights[u], l.bias[u]); res.Logits[row] != want {
			t.Errorf("row %d: logit %g, want f(x) = %g", row, res.Logits[row], want)
		}
		c := res.Completeness[row]
		if want := float64(res.Logits[row]) - float64(l.bias[u]); math.Abs(c.Delta-want) > 1e-4 || !(c.Gap < 1e-5) {
			t.Errorf("row %d: completeness %+v, want delta %g and no gap", row, c, want)
		}
	}
}

// Blur IG on a linear function that reads one pixel p of an image that is an
// impulse of height a at p: the blur at sigma leaves a k0(sigma)^2 at p, where
// k0(sigma) = 1 / sum over |x| <= int(4 sigma + 0.5) of exp(-x^2 / (2 sigma^2)),
// so with 2 steps (sigma 0 and 25, d sigma 25) the attribution at p is
// -25 W_p a (k0(25.01)^2 - k0(25)^2) / 0.01 (the slope at sigma 0 is 0) and 0
// elsewhere; the path's far end is the blur at sigma 50. Two units, one row per
// call.
func TestBlurIGOnALinearFunction(t *testing.T) {
	const h, w, a = 5, 6, 200.0
	p := 2*w + 3
	l := &linear{h: h, w: w, c: 1, bias: []float32{1, 3}, weights: [][]float32{make([]float32, h*w), make([]float32, h*w)}}
	l.weights[0][p], l.weights[1][p] = 2, -0.5
	img := make([]float32, h*w)
	img[p] = a
	k0 := func(sigma float64) float64 {
		var s float64
		r := int(4*sigma + 0.5)
		for x := -r; x <= r; x++ {
			s += math.Exp(-float64(x*x) / (2 * sigma * sigma))
		}
		return 1 / s
	}
	b := Batch{Images: img, N: 1, Units: []int32{0, 1}, K: 2, Rows: 1}
	meth, err := New("blurig", Params{Steps: 2, Channels: signed})
	if err != nil {
		t.Fatal(err)
	}
	res, err := meth.Explain(l, b)
	if err != nil {
		t.Fatal(err)
	}
	if l.maxRows != 1 || l.calls != 4 {
		t.Errorf("%d calls of at most %d rows; want 4 of 1", l.calls, l.maxRows)
	}
	for j, wp := range []float64{2, -0.5} {
		attr := -25 * wp * a * (k0(25.01)*k0(25.01) - k0(25)*k0(25)) / 0.01
		for q, got := range res.Maps[j] {
			want := 0.0
			if q == p {
				want = max(attr, 0) // the positive filter
			}
			// The slope is a difference of float32 blurs about 1e-3 apart:
			// about 1e-4 of it is rounding.
			if math.Abs(float64(got)-want) > 1e-3*math.Abs(attr) {
				t.Errorf("unit %d pixel %d: %g, want %g", j, q, got, want)
			}
		}
		c := res.Completeness[j]
		delta := wp * a * (1 - k0(50)*k0(50))
		if math.Abs(c.Sum-attr) > 1e-3*math.Abs(attr) || math.Abs(c.Delta-delta) > 1e-4*math.Abs(delta) {
			t.Errorf("unit %d: completeness %+v, want sum %g, delta %g", j, c, attr, delta)
		}
		if want := float32(wp*a) + l.bias[j]; res.Logits[j] != want {
			t.Errorf("unit %d: logit %g, want f(x) = %g", j, res.Logits[j], want)
		}
	}
}

func TestPathMethodsSteps(t *testing.T) {
	for name, def := range map[string]int{"blurig": BlurIGSteps, "guidedig": GuidedIGSteps} {
		m, err := New(name, Params{})
		if err != nil {
			t.Fatal(err)
		}
		var steps int
		switch m := m.(type) {
		case blurIG:
			steps = m.steps
		case guidedIG:
			steps = m.steps
		}
		if steps != def {
			t.Errorf("%s with Steps 0: %d steps, want PAIR's %d", name, steps, def)
		}
		var bad *ParamError
		if _, err := New(name, Params{Steps: -1}); !errors.As(err, &bad) || bad.Param != "steps" {
			t.Errorf("%s with Steps -1: %v, want a steps ParamError", name, err)
		}
	}
	if BlurIGSteps != 100 || GuidedIGSteps != 200 {
		t.Errorf("defaults %d, %d; PAIR saliency 0.2.1's are 100 and 200", BlurIGSteps, GuidedIGSteps)
	}
}
