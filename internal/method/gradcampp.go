package method

// Grad-CAM++ (Chattopadhay et al. 2018), as the paper defines it with the
// exponential of the logit as the score (their eq. 19): with g = d logit / d A,
//
//	alpha_c(p) = g_c(p)^2 / (2 g_c(p)^2 + sum_q A_c(q) g_c(p)^3)   (0 where that is 0/0)
//	w_c        = sum_p alpha_c(p) ReLU(exp(logit) g_c(p))
//	map        = ReLU(sum_c w_c A_c)
//
// exp(logit) multiplies every weight of a map by the same positive number, so
// it is left out: the normalised map is the same, and a logit above 88 would
// overflow float32. This is keras-explainable's gradcampp. tf-keras-vis (and
// the authors' code) also divide each channel's alphas by their sum over the
// positions, which the paper does not; see the README.
func newGradCAMPP(Params) (Method, error) { return camMethod{"gradcampp", gradCAMPPMap}, nil }

func gradCAMPPMap(acts, grads []float32, positions, channels int) []float32 {
	total := channelSums(acts, positions, channels)
	w := make([]float64, channels)
	for p := range positions {
		for ch, g32 := range grads[p*channels : (p+1)*channels] {
			g := float64(g32)
			if g <= 0 {
				continue // ReLU(g) = 0: no contribution whatever alpha is
			}
			g2 := g * g
			den := 2*g2 + total[ch]*g2*g
			if den == 0 {
				continue
			}
			w[ch] += g2 / den * g
		}
	}
	return weightedChannels(acts, w, positions, channels)
}
