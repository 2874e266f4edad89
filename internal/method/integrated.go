package method

import (
	"math"

	"github.com/saliency-tool/saliency/internal/postproc"
)

// integrated is Integrated Gradients (Sundararajan, Taly & Yan 2017): (x - x')
// times the mean gradient along the straight path from the baseline x' to the
// image x, the integral taken with the trapezoidal rule on Steps points
// alpha = 0, 1/(Steps-1), ..., 1 (both ends included, so the same calls give
// logit(baseline) and logit(input) for the completeness check). Then the
// channel filter and reduction.
type integrated struct {
	channels postproc.Channels
	steps    int
	baseline string
}

// Baselines lists the baselines integrated gradients knows.
var Baselines = []string{"black", "white", "blur"}

func newIntegrated(p Params) (Method, error) {
	if p.Steps < 2 {
		return nil, paramError("steps", "%s must be at least 2 (the path's two ends), got %d", p.Steps)
	}
	switch p.Baseline {
	case "black", "white", "blur":
	default:
		return nil, paramError("baseline", "unknown %s %q (want black, white or blur)", p.Baseline)
	}
	return integrated{p.Channels, p.Steps, p.Baseline}, nil
}

func (integrated) Name() string { return "integrated" }

func (ig integrated) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	res := pixelResult(m, b)
	res.Completeness = make([]Completeness, b.N*b.K)
	baselines := make([][]float32, b.N)
	for i := range baselines {
		baselines[i] = ig.baselineOf(m, b.image(i, pixels))
	}
	last := ig.steps - 1
	alpha := func(s int) float32 { return float32(s) / float32(last) }
	weight := func(s int) float32 {
		if s == 0 || s == last {
			return 0.5 / float32(last)
		}
		return 1 / float32(last)
	}
	sums := make([][]float32, b.N*b.K)
	start := make([]float32, b.N*b.K) // logit at the baseline
	err := sweep(m, b.N*ig.steps, b.K, b.Rows,
		func(v int) []int32 { return b.unitsOf(v / ig.steps) },
		func(v int, dst []float32) {
			i, s := v/ig.steps, v%ig.steps
			x, base, a := b.image(i, pixels), baselines[i], alpha(s)
			for p := range dst {
				dst[p] = base[p] + a*(x[p]-base[p])
			}
		},
		func(v, j int, logit float32, grad []float32) {
			i, s := v/ig.steps, v%ig.steps
			row := i*b.K + j
			if sums[row] == nil {
				sums[row] = make([]float32, pixels)
			}
			wt := weight(s)
			for p, g := range grad {
				sums[row][p] += wt * g
			}
			switch s {
			case 0:
				start[row] = logit
			case last:
				res.Logits[row] = logit
			}
		})
	if err != nil {
		return res, err
	}
	for row, attr := range sums {
		x, base := b.image(row/b.K, pixels), baselines[row/b.K]
		var total float64
		for p := range attr {
			attr[p] *= x[p] - base[p]
			total += float64(attr[p])
		}
		delta := float64(res.Logits[row]) - float64(start[row])
		res.Completeness[row] = Completeness{Sum: total, Delta: delta, Gap: math.Abs(total-delta) / math.Abs(delta)}
		res.Maps[row] = ig.channels.Apply(attr, h, w, c)
	}
	return res, nil
}

// baselineOf returns the baseline image for x: all the input range's lowest
// value (black), its highest (white), or x under a Gaussian blur (blur).
func (ig integrated) baselineOf(m Model, x []float32) []float32 {
	h, w, c := m.InputSize()
	lo, hi := m.InputRange()
	out := make([]float32, len(x))
	switch ig.baseline {
	case "black":
		for p := range out {
			out[p] = lo
		}
	case "white":
		for p := range out {
			out[p] = hi
		}
	case "blur":
		copy(out, x)
		gaussianBlur(out, h, w, c, BlurSigma(h, w))
	}
	return out
}

// BlurSigma is the standard deviation, in pixels, of the blur baseline: a
// sixteenth of the longer side (18.7 px at 299, 8 px at 128), enough to remove
// the shapes a classifier reads while keeping the colours (Sturmfels, Lundberg
// & Lee 2020, "Visualizing the Impact of Feature Attribution Baselines").
func BlurSigma(h, w int) float64 { return float64(max(h, w)) / 16 }

// gaussianBlur blurs an h x w x c image in place with a Gaussian of standard
// deviation sigma, truncated at 3 sigma and normalised, separably along rows then
// columns, repeating the edge pixels beyond the border.
func gaussianBlur(img []float32, h, w, c int, sigma float64) {
	radius := int(math.Ceil(3 * sigma))
	kernel := make([]float32, 2*radius+1)
	var sum float64
	for i := range kernel {
		d := float64(i - radius)
		sum += math.Exp(-d * d / (2 * sigma * sigma))
	}
	for i := range kernel {
		d := float64(i - radius)
		kernel[i] = float32(math.Exp(-d*d/(2*sigma*sigma)) / sum)
	}
	tmp := make([]float32, len(img))
	clamp := func(v, n int) int { return min(max(v, 0), n-1) }
	for y := range h {
		for x := range w {
			for ch := range c {
				var acc float32
				for i, k := range kernel {
					acc += k * img[(y*w+clamp(x+i-radius, w))*c+ch]
				}
				tmp[(y*w+x)*c+ch] = acc
			}
		}
	}
	for y := range h {
		for x := range w {
			for ch := range c {
				var acc float32
				for i, k := range kernel {
					acc += k * tmp[(clamp(y+i-radius, h)*w+x)*c+ch]
				}
				img[(y*w+x)*c+ch] = acc
			}
		}
	}
}
