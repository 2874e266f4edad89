package method

// HiResCAM (Draelos & Carin 2020): every activation times its own gradient,
// summed over the channels, ReLU(sum_c g_c(p) A_c(p)), the ReLU as in
// Grad-CAM. For a model whose logits are a linear layer over the global
// average of the block it equals CAM (Zhou et al. 2016), divided by the number
// of positions.
func newHiResCAM(Params) (Method, error) { return camMethod{"hirescam", hiResCAMMap}, nil }

func hiResCAMMap(acts, grads []float32, positions, channels int) []float32 {
	return positionWise(acts, grads, positions, channels, func(g float64) float64 { return g })
}
