package method

import "github.com/saliency-tool/saliency/internal/postproc"

// gradients is the Gradient Backprop of Simonyan, Vedaldi & Zisserman (2013):
// the map is d logit / d pixel, through the channel filter and reduction
// (by default mean |.|, keras-explainable's ke.gradients).
type gradients struct{ channels postproc.Channels }

func newGradients(p Params) (Method, error) { return gradients{p.Channels}, nil }

func (gradients) Name() string { return "gradients" }

func (g gradients) Explain(m Model, b Batch) (Result, error) {
	return inputTimes(m, b, g.channels, nil)
}

// gradxinput is gradient times input (Shrikumar et al. 2016): each pixel value
// of the model's input, as the model takes it (raw 0..255 for the models
// export.py writes), times the logit's derivative with respect to it.
type gradxinput struct{ channels postproc.Channels }

func newGradXInput(p Params) (Method, error) { return gradxinput{p.Channels}, nil }

func (gradxinput) Name() string { return "gradxinput" }

func (g gradxinput) Explain(m Model, b Batch) (Result, error) {
	return inputTimes(m, b, g.channels, timesInput)
}

// timesInput multiplies a gradient by the input, in place.
func timesInput(grad, x []float32) {
	for p := range grad {
		grad[p] *= x[p]
	}
}

// inputTimes runs one gradient per image and unit, lets scale change it in place
// (nil: keep it), and reduces it to a map.
func inputTimes(m Model, b Batch, ch postproc.Channels, scale func(grad, x []float32)) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	res := pixelResult(m, b)
	err := sweep(m, b.N, b.K, b.Rows, b.unitsOf,
		func(i int, dst []float32) { copy(dst, b.image(i, pixels)) },
		func(i, j int, logit float32, grad []float32) {
			if scale != nil {
				scale(grad, b.image(i, pixels))
			}
			res.Logits[i*b.K+j] = logit
			res.Maps[i*b.K+j] = ch.Apply(grad, h, w, c)
		})
	return res, err
}

// Top1 is implemented by methods that can pick each image's highest-scoring
// unit and explain it from the same forward pass (the model's top1 signature).
type Top1 interface {
	ExplainTop1(m Top1Model, images []float32, n, rows int) (units []int32, res Result, err error)
}

// Top1Model is a Model that may have the top1 signature (HasTop1 says whether
// it has).
type Top1Model interface {
	Model
	HasTop1() bool
	Top1Gradients(images []float32, n int) (units []int32, logits, grads []float32, err error)
}

func (g gradients) ExplainTop1(m Top1Model, images []float32, n, rows int) ([]int32, Result, error) {
	return inputTimesTop1(m, images, n, rows, g.channels, nil)
}

func (g gradxinput) ExplainTop1(m Top1Model, images []float32, n, rows int) ([]int32, Result, error) {
	return inputTimesTop1(m, images, n, rows, g.channels, timesInput)
}

// inputTimesTop1 is inputTimes with the units chosen by the top1 signature, in
// calls of up to rows images.
func inputTimesTop1(m Top1Model, images []float32, n, rows int, ch postproc.Channels, scale func(grad, x []float32)) ([]int32, Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	units := make([]int32, 0, n)
	res := Result{Logits: make([]float32, 0, n), Maps: make([][]float32, 0, n), MapH: h, MapW: w}
	per := max(rows, 1)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		us, logits, grads, err := m.Top1Gradients(images[lo*pixels:hi*pixels], hi-lo)
		if err != nil {
			return nil, res, err
		}
		units = append(units, us...)
		res.Logits = append(res.Logits, logits...)
		for i := range hi - lo {
			grad := grads[i*pixels : (i+1)*pixels]
			if scale != nil {
				scale(grad, images[(lo+i)*pixels:(lo+i+1)*pixels])
			}
			res.Maps = append(res.Maps, ch.Apply(grad, h, w, c))
		}
	}
	return units, res, nil
}
