package method

import (
	"math"

	"github.com/saliency-tool/saliency/internal/postproc"
)

// guidedIG is Guided Integrated Gradients (Kapishnikov et al. 2021) as PAIR
// saliency 0.2.1 computes it (saliency/core/guided_ig.py, guided_ig_impl with
// GuidedIG.GetMask's defaults x_steps = 200, fraction = 0.25, max_dist =
// 0.02), from a black baseline x' (the input range's lowest value: 0 for
// export.py's raw-pixel models, PAIR's default baseline of zeros). The path
// is chosen as it goes: x starts at x', and step s = 1..Steps must bring the
// L1 distance |x - input| down to L1(x', input) * (1 - s/Steps). Each
// feature's progress alpha = (x - x') / (input - x') is kept within
// [s/Steps - MaxDist, s/Steps + MaxDist] (clipped to [0, 1]): features that
// fell behind are first moved up to the lower bound; then, repeatedly, the
// features whose |gradient| is at most the Fraction quantile of all (numpy's
// "lower" interpolation, so ties are all taken), leaving out those already at
// the upper bound, move towards it, all the way if that is not enough, or by
// the share of the way that reaches the target. Every move dx of a feature adds
// dx times its gradient at the step's starting point to its attribution (no
// final multiplication). Then the channel filter and reduction.
//
// The path depends on the gradients along it, so each image-unit row has its
// own point: a step is one call of Gradients for up to Batch.Rows rows, one
// unit per image (the five-unit signature explains five units of one image,
// which the rows are not after the first step). Rows are explained Batch.Rows
// at a time, all their steps before the next rows: memory holds one call's
// rows. Like PAIR, x, its bounds, the L1 distances and the attributions are
// float64, the gradients float32 (what the model returns for the float32 point
// it is sent); sums are in order rather than numpy's pairwise order, a
// difference of about 1e-13 relative where PAIR's tolerance is 1e-9. Where
// PAIR would loop forever (no feature left to move, as after non-finite
// gradients) or fail its assertion (the target overshot), the step ends.
//
// The logits reported are the image's; the completeness check compares the
// sum with logit(input) - logit(x'), the first step's logit.
type guidedIG struct {
	channels postproc.Channels
	steps    int
}

// GuidedIGSteps is Guided IG's default number of steps, PAIR saliency's.
const GuidedIGSteps = 200

// PAIR saliency's Guided IG settings that the command line does not change:
// the share of the features moved at a time, and how far (as a share of the
// way) a feature may run ahead of or behind the straight line.
const (
	guidedIGFraction = 0.25
	guidedIGMaxDist  = 0.02
	guidedIGEpsilon  = 1e-9 // PAIR's EPSILON: "close enough" to the step's target L1
)

func newGuidedIG(p Params) (Method, error) {
	steps := p.Steps
	if steps == 0 {
		steps = GuidedIGSteps
	}
	if steps < 1 {
		return nil, paramError("steps", "%s must be at least 1, got %d", p.Steps)
	}
	return guidedIG{p.Channels, steps}, nil
}

func (guidedIG) Name() string { return "guidedig" }

func (gi guidedIG) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	lo, _ := m.InputRange()
	res := pixelResult(m, b)
	res.Completeness = make([]Completeness, b.N*b.K)
	rows := b.N * b.K
	per := min(max(b.Rows, 1), rows)
	images := make([]float32, per*pixels)
	units := make([]int32, per)
	paths := make([]*guidedPath, per)
	start := make([]float32, per) // logit at the baseline
	for r0 := 0; r0 < rows; r0 += per {
		n := min(per, rows-r0)
		for r := range n {
			row := r0 + r
			units[r] = b.Units[row]
			paths[r] = newGuidedPath(b.image(row/b.K, pixels), float64(lo), gi.steps)
		}
		for step := range gi.steps {
			for r := range n {
				dst := images[r*pixels : (r+1)*pixels]
				for p, v := range paths[r].x {
					dst[p] = float32(v)
				}
			}
			logits, grads, err := m.Gradients(images[:n*pixels], n, units[:n], 1)
			if err != nil {
				return res, err
			}
			for r := range n {
				if step == 0 {
					start[r] = logits[r]
				}
				paths[r].step(step, grads[r*pixels:(r+1)*pixels])
			}
		}
		for r := range n {
			attr := make([]float32, pixels)
			var total float64
			for p, a := range paths[r].attr {
				attr[p] = float32(a)
				total += a
			}
			res.Completeness[r0+r] = Completeness{Sum: total, Delta: -float64(start[r])} // + logit(input), below
			res.Maps[r0+r] = gi.channels.Apply(attr, h, w, c)
		}
	}
	if err := cleanLogits(m, b, res.Logits); err != nil {
		return res, err
	}
	for row := range res.Completeness {
		cp := &res.Completeness[row]
		cp.Delta += float64(res.Logits[row])
		cp.Gap = math.Abs(cp.Sum-cp.Delta) / math.Abs(cp.Delta)
	}
	return res, nil
}

// guidedPath is one image-unit row's Guided IG path: guided_ig_impl's state.
type guidedPath struct {
	input, base []float64 // the path's ends
	x, old      []float64 // the current point; x at the start of a move
	attr        []float64
	absGrad     []float32 // |gradient|, +Inf where excluded from the selection
	scratch     []float32 // for the quantile
	l1Total     float64
	steps       int
}

func newGuidedPath(img []float32, base float64, steps int) *guidedPath {
	n := len(img)
	g := &guidedPath{input: make([]float64, n), base: make([]float64, n), x: make([]float64, n),
		old: make([]float64, n), attr: make([]float64, n), absGrad: make([]float32, n),
		scratch: make([]float32, n), steps: steps}
	for p, v := range img {
		g.input[p], g.base[p], g.x[p] = float64(v), base, base
		g.l1Total += math.Abs(float64(v) - base)
	}
	return g
}

// step is one iteration of guided_ig_impl's outer loop, with grad the
// gradient at the current point.
func (g *guidedPath) step(step int, grad []float32) {
	alpha := float64(step+1) / float64(g.steps)
	alphaMin := max(alpha-guidedIGMaxDist, 0)
	alphaMax := min(alpha+guidedIGMaxDist, 1)
	at := func(a float64, p int) float64 { return g.base[p] + (g.input[p]-g.base[p])*a } // translate_alpha_to_x
	l1Target := g.l1Total * (1 - float64(step+1)/float64(g.steps))
	for p, v := range grad {
		g.absGrad[p] = float32(math.Abs(float64(v)))
	}
	for {
		copy(g.old, g.x)
		// Features behind alphaMin move up to it; a feature whose ends agree
		// counts as at alphaMax (PAIR's NaN alpha).
		var l1Current float64
		for p := range g.x {
			if d := g.input[p] - g.base[p]; d != 0 && (g.x[p]-g.base[p])/d < alphaMin {
				g.x[p] = at(alphaMin, p)
			}
			l1Current += math.Abs(g.x[p] - g.input[p])
		}
		if isClose(l1Target, l1Current, guidedIGEpsilon) {
			g.account(grad)
			return
		}
		for p := range g.x {
			if g.x[p] == at(alphaMax, p) {
				g.absGrad[p] = float32(math.Inf(1))
			}
		}
		copy(g.scratch, g.absGrad)
		threshold := quantileLower(g.scratch, guidedIGFraction)
		selected := func(p int) bool { return g.absGrad[p] <= threshold && !math.IsInf(float64(g.absGrad[p]), 1) }
		var l1S float64
		for p := range g.x {
			if selected(p) {
				l1S += math.Abs(g.x[p] - at(alphaMax, p))
			}
		}
		gamma := math.Inf(1)
		if l1S > 0 {
			gamma = (l1Current - l1Target) / l1S
		}
		// l1S = 0 (every feature at the upper bound, or gradients that are not
		// finite) would loop forever in PAIR, and gamma <= 0 (the target
		// overshot) fail its assertion: both end the step here.
		if l1S == 0 || !(gamma > 0) {
			g.account(grad)
			return
		}
		for p := range g.x {
			if !selected(p) {
				continue
			}
			if xMax := at(alphaMax, p); gamma > 1 {
				g.x[p] = xMax
			} else {
				g.x[p] += (xMax - g.x[p]) * gamma
			}
		}
		g.account(grad)
		if gamma <= 1 { // the target reached
			return
		}
	}
}

// account adds each feature's move since old times its gradient to its
// attribution.
func (g *guidedPath) account(grad []float32) {
	for p, v := range g.x {
		if d := v - g.old[p]; d != 0 {
			g.attr[p] += d * float64(grad[p])
		}
	}
}

// isClose is Python's math.isclose with rel_tol = abs_tol = eps.
func isClose(a, b, eps float64) bool {
	if a == b {
		return true
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	d := math.Abs(a - b)
	return d <= eps*math.Abs(a) || d <= eps*math.Abs(b) || d <= eps
}

// quantileLower is numpy.quantile(a, q, method="lower"): the value of rank
// floor((len(a) - 1) q) in increasing order. It reorders a.
func quantileLower(a []float32, q float64) float32 {
	return nthSmallest(a, int(math.Floor(float64(len(a)-1)*q)))
}

// nthSmallest returns the value of rank k (from 0) of a in increasing order,
// reordering a: quickselect with a three-way partition (gradients have many
// equal values: zeros, and the excluded +Inf).
func nthSmallest(a []float32, k int) float32 {
	for len(a) > 1 {
		// Median of the first, middle and last values as the pivot.
		x, y, z := a[0], a[len(a)/2], a[len(a)-1]
		pivot := max(min(x, y), min(max(x, y), z))
		// a[:lt] < pivot, a[lt:i] == pivot, a[gt:] > pivot.
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			switch v := a[i]; {
			case v < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case v > pivot:
				gt--
				a[gt], a[i] = a[i], a[gt]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			a = a[:lt]
		case k < gt:
			return pivot
		default:
			a, k = a[gt:], k-gt
		}
	}
	return a[0]
}
