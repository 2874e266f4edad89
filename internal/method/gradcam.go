package method

import "fmt"

// gradcam is Grad-CAM (Selvaraju et al. 2017) on the layer the model's gradcam
// signature exports (the last convolutional block): each channel's weight is the
// spatial mean of d logit / d activation, and the map is the ReLU of the
// weighted sum of the activation channels, at that layer's coarse size (the
// engine upsamples it to the image). The pixel methods' filter and reduction do
// not apply: the ReLU is part of the definition.
type gradcam struct{}

func newGradCAM(Params) (Method, error) { return gradcam{}, nil }

func (gradcam) Name() string { return "gradcam" }

func (gradcam) Explain(m Model, b Batch) (Result, error) {
	var res Result
	res.Logits = make([]float32, b.N*b.K)
	res.Maps = make([][]float32, b.N*b.K)
	h, w, c := m.InputSize()
	pixels := h * w * c
	per := max(b.Rows/b.K, 1)
	for lo := 0; lo < b.N; lo += per {
		hi := min(lo+per, b.N)
		cam, err := m.GradCAM(b.Images[lo*pixels:hi*pixels], hi-lo, b.Units[lo*b.K:hi*b.K], b.K)
		if err != nil {
			return res, err
		}
		if res.MapH != 0 && (cam.H != res.MapH || cam.W != res.MapW) {
			return res, fmt.Errorf("gradcam layer changed size between calls: %dx%d, then %dx%d", res.MapW, res.MapH, cam.W, cam.H)
		}
		res.MapH, res.MapW = cam.H, cam.W
		block := cam.H * cam.W * cam.C
		for i := lo; i < hi; i++ {
			acts := cam.Activations[(i-lo)*block : (i-lo+1)*block]
			for j := range b.K {
				row := (i-lo)*b.K + j
				res.Logits[i*b.K+j] = cam.Logits[row]
				res.Maps[i*b.K+j] = camMap(acts, cam.Gradients[row*block:(row+1)*block], cam.H*cam.W, cam.C)
			}
		}
	}
	return res, nil
}

// camMap computes ReLU(sum_c alpha_c A_c) with alpha_c the mean over the
// positions of grads' channel c; acts and grads are positions x channels.
func camMap(acts, grads []float32, positions, channels int) []float32 {
	alpha := make([]float64, channels)
	for p := range positions {
		for ch, g := range grads[p*channels : (p+1)*channels] {
			alpha[ch] += float64(g)
		}
	}
	for ch := range alpha {
		alpha[ch] /= float64(positions)
	}
	out := make([]float32, positions)
	for p := range out {
		var sum float64
		for ch, a := range acts[p*channels : (p+1)*channels] {
			sum += alpha[ch] * float64(a)
		}
		out[p] = float32(max(sum, 0))
	}
	return out
}
