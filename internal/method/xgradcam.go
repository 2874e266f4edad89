package method

import "math"

// XGrad-CAM (Fu et al. 2020): channel weights are the gradients averaged with
// the channel's own activations as weights, w_c = sum_p A_c(p) / ||A_c||_1 *
// g_c(p), then ReLU(sum_c w_c A_c). A channel that is zero everywhere gets
// weight 0 (it adds nothing to the map either way).
func newXGradCAM(Params) (Method, error) { return camMethod{"xgradcam", xGradCAMMap}, nil }

func xGradCAMMap(acts, grads []float32, positions, channels int) []float32 {
	norm := make([]float64, channels)
	w := make([]float64, channels)
	for p := range positions {
		g := grads[p*channels : (p+1)*channels]
		for ch, a := range acts[p*channels : (p+1)*channels] {
			norm[ch] += math.Abs(float64(a))
			w[ch] += float64(a) * float64(g[ch])
		}
	}
	for ch := range w {
		if norm[ch] > 0 {
			w[ch] /= norm[ch]
		}
	}
	return weightedChannels(acts, w, positions, channels)
}
