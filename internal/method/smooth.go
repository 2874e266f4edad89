package method

import "strings"

// smoothed wraps any method in noise (--smooth N): the method explains N
// copies of each image with Gaussian noise added, of standard deviation noise
// times the image's value range (the noise of smoothgrad, from the same seeded
// generator), and the map is the mean of the N maps (SmoothGrad's averaging
// around any method, as PAIR saliency's smoothed masks and keras-explainable's
// `smooth` do) or, with variance set (--vargrad), their variance (VarGrad,
// Adebayo et al. 2018). The maps averaged are the method's own, before
// normalisation: a pixel method's after its channel filter and reduction (so
// `gradients --smooth` is keras-explainable's smooth(gradients), which differs
// from `smoothgrad`, the mean gradient filtered after), a class activation
// map after its ReLU. The logits reported are the clean images'.
// keras-explainable counts the clean image as one of its N samples and adds
// noise of a fixed standard deviation; this follows PAIR (N noisy copies,
// noise relative to the range).
type smoothed struct {
	inner    Method
	samples  int
	noise    float64
	seed     uint64
	variance bool
}

// Meta-method suffixes of a method's name, in its outputs' names and in
// --json: gradcam-smooth, gradients-vargrad.
const (
	smoothSuffix  = "-smooth"
	varGradSuffix = "-vargrad"
)

// Base is the method a name wraps: "gradcam" for "gradcam-smooth" and for
// "gradcam-smooth-tta" (--tta wraps --smooth).
func Base(name string) string {
	b := strings.TrimSuffix(name, ttaSuffix)
	for _, s := range []string{smoothSuffix, varGradSuffix} {
		if inner, ok := strings.CutSuffix(b, s); ok {
			b = inner
			break
		}
	}
	if registry[b].build != nil {
		return b
	}
	return name
}

// smooth wraps inner when p asks for it.
func smooth(inner Method, p Params) (Method, error) {
	if p.VarGrad && p.Smooth < 2 {
		return nil, paramError("vargrad", "%s needs --smooth 2 or more (a variance over that many noisy copies)")
	}
	if p.Smooth < 0 {
		return nil, paramError("smooth", "%s must not be negative, got %d", p.Smooth)
	}
	if p.Smooth == 0 {
		return inner, nil
	}
	if p.Noise < 0 {
		return nil, paramError("noise", "%s must not be negative, got %g", p.Noise)
	}
	return smoothed{inner, p.Smooth, p.Noise, p.Seed, p.VarGrad}, nil
}

func (s smoothed) Name() string {
	if s.variance {
		return s.inner.Name() + varGradSuffix
	}
	return s.inner.Name() + smoothSuffix
}

func (s smoothed) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	sigma := noiseScales(b, pixels, s.noise)
	noisy := b
	noisy.Images = make([]float32, len(b.Images))
	z := make([]float32, pixels)
	var res Result
	// Welford's running mean and sum of squared deviations: a variance without
	// the cancellation of E[x^2] - E[x]^2.
	var mean, m2 [][]float64
	for k := range s.samples {
		normals(z, s.seed, k)
		for i := range b.N {
			x, dst, sd := b.image(i, pixels), noisy.image(i, pixels), sigma[i]
			for p := range dst {
				dst[p] = x[p] + sd*z[p]
			}
		}
		r, err := s.inner.Explain(m, noisy)
		if err != nil {
			return res, err
		}
		if k == 0 {
			res.MapH, res.MapW = r.MapH, r.MapW
			mean, m2 = make([][]float64, len(r.Maps)), make([][]float64, len(r.Maps))
			for row := range r.Maps {
				mean[row], m2[row] = make([]float64, len(r.Maps[row])), make([]float64, len(r.Maps[row]))
			}
		}
		for row, mp := range r.Maps {
			mu, sq := mean[row], m2[row]
			for p, v := range mp {
				d := float64(v) - mu[p]
				mu[p] += d / float64(k+1)
				sq[p] += d * (float64(v) - mu[p])
			}
		}
	}
	res.Maps = make([][]float32, len(mean))
	for row := range mean {
		mp := make([]float32, len(mean[row]))
		for p := range mp {
			if s.variance {
				mp[p] = float32(m2[row][p] / float64(s.samples)) // the population variance
			} else {
				mp[p] = float32(mean[row][p])
			}
		}
		res.Maps[row] = mp
	}
	res.Logits = make([]float32, b.N*b.K)
	return res, cleanLogits(m, b, res.Logits)
}

// CheckInput passes the wrapped method's check on.
func (s smoothed) CheckInput(h, w int) error {
	if ic, ok := s.inner.(InputChecker); ok {
		return ic.CheckInput(h, w)
	}
	return nil
}
