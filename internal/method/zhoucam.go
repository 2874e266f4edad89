package method

// CAM, class activation mapping (Zhou et al. 2016): for a network whose logits
// are a Dense layer on the global average of the last block (the head the
// exporter marks pooled_linear), the map of unit u is sum_c W[c, u] A_c, W the
// Dense kernel; keras-explainable's cam, with the ReLU of its default
// post-processing (positive parts, then min-max). On that head
// d logit_u / d A_c(x, y) = W[c, u] / positions at every position, so the
// gradcam signature's gradients summed over the positions are W[c, u] itself:
// the method reads the kernel column from them rather than from a signature of
// its own. Its map is Grad-CAM's times the number of positions, the same after
// normalisation (Selvaraju et al. 2017, section 3.1, show Grad-CAM generalises
// CAM); it exists for the models and comparisons that name it, and refuses
// other heads (Supported), where W is not defined.
func newCAM(Params) (Method, error) { return camMethod{"cam", camMap}, nil }

// camMap computes ReLU(sum_c W_c A_c) with W_c the sum over the positions of
// grads' channel c; acts and grads are positions x channels.
func camMap(acts, grads []float32, positions, channels int) []float32 {
	return weightedChannels(acts, channelSums(grads, positions, channels), positions, channels)
}
