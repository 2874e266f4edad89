package method

import (
	"github.com/saliency-tool/saliency/internal/postproc"
)

// smoothgrad is SmoothGrad (Smilkov et al. 2017): the mean of the gradients over
// Samples copies of the image with Gaussian noise of standard deviation
// Noise * (max - min of the image's values) added, then the channel filter and
// reduction. The noise of sample s depends on the seed and s only (see
// normals), so a map does not depend on the image's batch or place in it.
// Noisy copies are not clipped to the input range (as in PAIR saliency).
type smoothgrad struct {
	channels postproc.Channels
	samples  int
	noise    float64
	seed     uint64
}

func newSmoothGrad(p Params) (Method, error) {
	if p.Samples < 1 {
		return nil, paramError("samples", "%s must be at least 1, got %d", p.Samples)
	}
	if p.Noise < 0 {
		return nil, paramError("noise", "%s must not be negative, got %g", p.Noise)
	}
	return smoothgrad{p.Channels, p.Samples, p.Noise, p.Seed}, nil
}

func (smoothgrad) Name() string { return "smoothgrad" }

func (s smoothgrad) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	res := pixelResult(m, b)
	noise := make([][]float32, s.samples)
	for k := range noise {
		noise[k] = make([]float32, pixels)
		normals(noise[k], s.seed, k)
	}
	sigma := noiseScales(b, pixels, s.noise)
	sums := make([][]float32, b.N*b.K)
	err := sweep(m, b.N*s.samples, b.K, b.Rows,
		func(v int) []int32 { return b.unitsOf(v / s.samples) },
		func(v int, dst []float32) {
			i, k := v/s.samples, v%s.samples
			x, z, sd := b.image(i, pixels), noise[k], sigma[i]
			for p := range dst {
				dst[p] = x[p] + sd*z[p]
			}
		},
		func(v, j int, _ float32, grad []float32) {
			row := (v/s.samples)*b.K + j
			if sums[row] == nil {
				sums[row] = make([]float32, pixels)
			}
			for p, g := range grad {
				sums[row][p] += g
			}
		})
	if err != nil {
		return res, err
	}
	for row, sum := range sums {
		for p := range sum {
			sum[p] /= float32(s.samples)
		}
		res.Maps[row] = s.channels.Apply(sum, h, w, c)
	}
	// The logits of the clean images: one forward pass, cheap next to the sweep.
	return res, cleanLogits(m, b, res.Logits)
}

// noiseScales is each image's noise standard deviation: noise times the range
// of its values.
func noiseScales(b Batch, pixels int, noise float64) []float32 {
	sigma := make([]float32, b.N)
	for i := range sigma {
		x := b.image(i, pixels)
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		sigma[i] = float32(noise) * (hi - lo)
	}
	return sigma
}

// cleanLogits fills dst (N*K) with the batch's units' logits on the images
// themselves: one forward pass.
func cleanLogits(m Model, b Batch, dst []float32) error {
	logits, err := m.Logits(b.Images, b.N)
	if err != nil {
		return err
	}
	classes := len(logits) / b.N
	for i := range b.N {
		for j, u := range b.unitsOf(i) {
			dst[i*b.K+j] = logits[i*classes+int(u)]
		}
	}
	return nil
}
