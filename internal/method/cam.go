package method

import "fmt"

// camMethod is a class activation map of the layer the model's gradcam
// signature exports (the last convolutional block): the signature returns that
// layer's activations A and d logit / d A for every image and unit, and
// mapOf turns one image's A and one unit's gradients into the map, at the
// layer's coarse size (the engine upsamples it to the image). The pixel
// methods' filter and reduction do not apply: each definition says what it
// keeps of the signs.
type camMethod struct {
	name  string
	mapOf camFunc
}

// camFunc computes a map of positions values from acts and grads, both
// positions x channels.
type camFunc func(acts, grads []float32, positions, channels int) []float32

func (c camMethod) Name() string { return c.name }

func (c camMethod) Explain(m Model, b Batch) (Result, error) {
	var res Result
	res.Logits = make([]float32, b.N*b.K)
	res.Maps = make([][]float32, b.N*b.K)
	h, w, ch := m.InputSize()
	pixels := h * w * ch
	per := max(b.Rows/b.K, 1)
	for lo := 0; lo < b.N; lo += per {
		hi := min(lo+per, b.N)
		cam, err := m.GradCAM(b.Images[lo*pixels:hi*pixels], hi-lo, b.Units[lo*b.K:hi*b.K], b.K)
		if err != nil {
			return res, err
		}
		if res.MapH != 0 && (cam.H != res.MapH || cam.W != res.MapW) {
			return res, fmt.Errorf("%s layer changed size between calls: %dx%d, then %dx%d", c.name, res.MapW, res.MapH, cam.W, cam.H)
		}
		res.MapH, res.MapW = cam.H, cam.W
		block := cam.H * cam.W * cam.C
		for i := lo; i < hi; i++ {
			acts := cam.Activations[(i-lo)*block : (i-lo+1)*block]
			for j := range b.K {
				row := (i-lo)*b.K + j
				res.Logits[i*b.K+j] = cam.Logits[row]
				res.Maps[i*b.K+j] = c.mapOf(acts, cam.Gradients[row*block:(row+1)*block], cam.H*cam.W, cam.C)
			}
		}
	}
	return res, nil
}

// weightedChannels is ReLU(sum_c weight_c A_c) at every position: the map of
// Grad-CAM and of the methods that differ from it only in the channel weights.
func weightedChannels(acts []float32, weight []float64, positions, channels int) []float32 {
	out := make([]float32, positions)
	for p := range out {
		var sum float64
		for ch, a := range acts[p*channels : (p+1)*channels] {
			sum += weight[ch] * float64(a)
		}
		out[p] = float32(max(sum, 0))
	}
	return out
}

// channelSums is sum over positions of v, per channel (v is positions x channels).
func channelSums(v []float32, positions, channels int) []float64 {
	sum := make([]float64, channels)
	for p := range positions {
		for ch, x := range v[p*channels : (p+1)*channels] {
			sum[ch] += float64(x)
		}
	}
	return sum
}

// positionWise is ReLU(sum_c f(g_c(p)) A_c(p)) at every position p: the map of
// the methods that weight each activation by its own gradient.
func positionWise(acts, grads []float32, positions, channels int, f func(float64) float64) []float32 {
	out := make([]float32, positions)
	for p := range out {
		var sum float64
		g := grads[p*channels : (p+1)*channels]
		for ch, a := range acts[p*channels : (p+1)*channels] {
			sum += f(float64(g[ch])) * float64(a)
		}
		out[p] = float32(max(sum, 0))
	}
	return out
}
