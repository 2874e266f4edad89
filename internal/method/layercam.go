package method

// LayerCAM (Jiang et al. 2021): every activation weighted by the ReLU of its
// own gradient, ReLU(sum_c ReLU(g_c(p)) A_c(p)); tf-keras-vis' Layercam.
func newLayerCAM(Params) (Method, error) { return camMethod{"layercam", layerCAMMap}, nil }

func layerCAMMap(acts, grads []float32, positions, channels int) []float32 {
	return positionWise(acts, grads, positions, channels, func(g float64) float64 { return max(g, 0) })
}
