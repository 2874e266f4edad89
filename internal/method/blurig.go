package method

import (
	"math"

	"github.com/saliency-tool/saliency/internal/gaussfilter"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// blurIG is Blur IG (Xu, Venugopalan & Sundararajan 2020, "Attribution in
// Scale and Space") as PAIR saliency 0.2.1 computes it (saliency/core/
// blur_ig.py, BlurIG.GetMask with its defaults max_sigma = 50, grad_step =
// 0.01, sqrt = False): integrated gradients along the path that blurs the image
// x from sigma = 0 (x itself) to MaxSigma, read backwards. With sigma_s = s *
// MaxSigma / Steps, s = 0..Steps-1 (a left Riemann sum: the gradient at the
// start of each of the Steps intervals),
//
//	attribution = -sum_s (sigma_{s+1} - sigma_s) * dL_s * g(L(x, sigma_s))
//
// where L(x, sigma) is gaussfilter.Filter in mode Constant (scipy's
// gaussian_filter, zero outside the image, as PAIR calls it) and dL_s = (L(x,
// sigma_s + 0.01) - L(x, sigma_s)) / 0.01, its finite difference in sigma. The
// arithmetic is PAIR's numpy float32 (the blurs are scipy's bit for bit; the
// products and the running sum are rounded to float32 in PAIR's order). At
// sigma_0 = 0 the blur is the identity and so is the radius-0 kernel of sigma
// 0.01: the first term is 0, as in PAIR. Then the channel filter and reduction.
// Its completeness check compares the sum with logit(x) - logit(L(x,
// MaxSigma)), the path's ends.
type blurIG struct {
	channels postproc.Channels
	steps    int
}

// BlurIGSteps is Blur IG's default number of steps, PAIR saliency's.
const BlurIGSteps = 100

// PAIR saliency's Blur IG settings that the command line does not change: the
// blur at the path's far end, and the step in sigma of the blur's derivative.
const (
	blurIGMaxSigma = 50
	blurIGGradStep = 0.01
)

func newBlurIG(p Params) (Method, error) {
	steps := p.Steps
	if steps == 0 {
		steps = BlurIGSteps
	}
	if steps < 1 {
		return nil, paramError("steps", "%s must be at least 1, got %d", p.Steps)
	}
	return blurIG{p.Channels, steps}, nil
}

func (blurIG) Name() string { return "blurig" }

func (bi blurIG) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	res := pixelResult(m, b)
	sigma := func(s int) float64 { return float64(s) * blurIGMaxSigma / float64(bi.steps) }
	gradStep := float32(blurIGGradStep)
	sums := make([][]float32, b.N*b.K)
	// dL_s of the points in the current call, by point, until its last unit
	// has used it.
	slopes := map[int][]float32{}
	further := make([]float32, pixels)
	err := sweep(m, b.N*bi.steps, b.K, b.Rows,
		func(v int) []int32 { return b.unitsOf(v / bi.steps) },
		func(v int, dst []float32) {
			x, s := b.image(v/bi.steps, pixels), v%bi.steps
			gaussfilter.Filter(dst, x, h, w, c, sigma(s), gaussfilter.Constant)
			gaussfilter.Filter(further, x, h, w, c, sigma(s)+blurIGGradStep, gaussfilter.Constant)
			slope := make([]float32, pixels)
			for p := range slope {
				slope[p] = (further[p] - dst[p]) / gradStep
			}
			slopes[v] = slope
		},
		func(v, j int, logit float32, grad []float32) {
			i, s := v/bi.steps, v%bi.steps
			row := i*b.K + j
			if sums[row] == nil {
				sums[row] = make([]float32, pixels)
			}
			d := float32(sigma(s+1) - sigma(s))
			slope := slopes[v]
			for p, g := range grad {
				sums[row][p] += float32(d * float32(slope[p]*g))
			}
			if s == 0 {
				res.Logits[row] = logit // sigma 0: the image itself
			}
			if j == b.K-1 {
				delete(slopes, v)
			}
		})
	if err != nil {
		return res, err
	}
	ends, err := bi.endLogits(m, b)
	if err != nil {
		return res, err
	}
	res.Completeness = make([]Completeness, b.N*b.K)
	for row, attr := range sums {
		var total float64
		for p := range attr {
			attr[p] = -attr[p]
			total += float64(attr[p])
		}
		delta := float64(res.Logits[row]) - float64(ends[row])
		res.Completeness[row] = Completeness{Sum: total, Delta: delta, Gap: math.Abs(total-delta) / math.Abs(delta)}
		res.Maps[row] = bi.channels.Apply(attr, h, w, c)
	}
	return res, nil
}

// endLogits returns, row by row, the units' logits on the images blurred at
// MaxSigma (the path's far end, which the sum does not evaluate): one forward
// pass.
func (bi blurIG) endLogits(m Model, b Batch) ([]float32, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	blurred := Batch{Images: make([]float32, len(b.Images)), N: b.N, Units: b.Units, K: b.K}
	for i := range b.N {
		gaussfilter.Filter(blurred.image(i, pixels), b.image(i, pixels), h, w, c, blurIGMaxSigma, gaussfilter.Constant)
	}
	ends := make([]float32, b.N*b.K)
	return ends, cleanLogits(m, blurred, ends)
}
