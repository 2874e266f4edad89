package method

import (
	"fmt"

	"github.com/saliency-tool/saliency/internal/postproc"
)

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

// Top is implemented by methods that can pick each image's highest-scoring
// units and explain them from the same forward pass (the model's top
// signature): k of the TopUnits the model picks, the highest first.
type Top interface {
	ExplainTop(m TopModel, images []float32, n, k, rows int) (units []int32, res Result, err error)
}

// TopModel is a Model that may have a top signature: TopUnits units per image
// from one forward pass (0: none; see backprop.Model.TopUnits).
type TopModel interface {
	Model
	TopUnits() int
	TopGradients(images []float32, n int) (units []int32, logits, grads []float32, err error)
}

func (g gradients) ExplainTop(m TopModel, images []float32, n, k, rows int) ([]int32, Result, error) {
	return inputTimesTop(m, images, n, k, rows, g.channels, nil)
}

func (g gradxinput) ExplainTop(m TopModel, images []float32, n, k, rows int) ([]int32, Result, error) {
	return inputTimesTop(m, images, n, k, rows, g.channels, timesInput)
}

// inputTimesTop is inputTimes with the units chosen by the top signature, in
// calls of up to rows images, keeping each image's first k of its TopUnits.
func inputTimesTop(m TopModel, images []float32, n, k, rows int, ch postproc.Channels, scale func(grad, x []float32)) ([]int32, Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	t := m.TopUnits()
	if k < 1 || k > t {
		return nil, Result{}, fmt.Errorf("the top signature picks %d units per image, not %d", t, k)
	}
	units := make([]int32, 0, n*k)
	res := Result{Logits: make([]float32, 0, n*k), Maps: make([][]float32, 0, n*k), MapH: h, MapW: w}
	per := max(rows, 1)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		us, logits, grads, err := m.TopGradients(images[lo*pixels:hi*pixels], hi-lo)
		if err != nil {
			return nil, res, err
		}
		for i := range hi - lo {
			for j := range k {
				row := i*t + j
				units = append(units, us[row])
				res.Logits = append(res.Logits, logits[row])
				grad := grads[row*pixels : (row+1)*pixels]
				if scale != nil {
					scale(grad, images[(lo+i)*pixels:(lo+i+1)*pixels])
				}
				res.Maps = append(res.Maps, ch.Apply(grad, h, w, c))
			}
		}
	}
	return units, res, nil
}
