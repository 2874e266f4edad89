package method

// Grad-CAM (Selvaraju et al. 2017): each channel's weight is the spatial mean of
// d logit / d activation, and the map is the ReLU of the weighted sum of the
// activation channels. The ReLU is part of the definition.
func newGradCAM(Params) (Method, error) { return camMethod{"gradcam", gradCAMMap}, nil }

// gradCAMMap computes ReLU(sum_c alpha_c A_c) with alpha_c the mean over the
// positions of grads' channel c; acts and grads are positions x channels.
func gradCAMMap(acts, grads []float32, positions, channels int) []float32 {
	alpha := channelSums(grads, positions, channels)
	for ch := range alpha {
		alpha[ch] /= float64(positions)
	}
	return weightedChannels(acts, alpha, positions, channels)
}
