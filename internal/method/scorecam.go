package method

import (
	"cmp"
	"math"
	"slices"

	"github.com/saliency-tool/saliency/internal/postproc"
)

// scorecam is Score-CAM (Wang et al. 2020): no gradient. Each channel k of the
// block is upsampled to the input (bilinear, as tf.image.resize), min-max
// normalised to a mask H_k in [0, 1], and the image times that mask goes
// through the model; the weight of channel k for unit u is the softmax
// probability of u on that masked image, and the map is ReLU(sum_k w_k A_k) at
// the block's size. As in the authors' code and tf-keras-vis, the masked
// images' scores are used as they are: the paper's baseline term f(X_b) (the
// same for every channel) is not subtracted.
//
// One forward pass per channel (2048 for Xception), all units of an image from
// the same pass. --max-channels N keeps the N channels with the largest spatial
// standard deviation (tf-keras-vis' faster Score-CAM, max_N); 0 keeps all.
type scorecam struct{ maxChannels int }

func newScoreCAM(p Params) (Method, error) {
	if p.MaxChannels < 0 {
		return nil, paramError("max-channels", "%s must not be negative (0: every channel), got %d", p.MaxChannels)
	}
	return scorecam{p.MaxChannels}, nil
}

func (scorecam) Name() string { return "scorecam" }

func (s scorecam) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	res := Result{Logits: make([]float32, b.N*b.K), Maps: make([][]float32, b.N*b.K)}
	per := max(b.Rows, 1)
	buf := make([]float32, per*pixels)
	for i := range b.N {
		// The block's activations: the gradcam signature, one unit (its
		// gradients are not used).
		x, units := b.image(i, pixels), b.unitsOf(i)
		cam, err := m.GradCAM(x, 1, units[:1], 1)
		if err != nil {
			return res, err
		}
		res.MapH, res.MapW = cam.H, cam.W
		positions := cam.H * cam.W
		kept := s.keptChannels(cam.Activations, positions, cam.C)
		weight := make([][]float64, b.K) // per unit, per kept channel
		for j := range weight {
			weight[j] = make([]float64, len(kept))
		}
		for lo := 0; lo < len(kept); lo += per {
			hi := min(lo+per, len(kept))
			for v, ch := range kept[lo:hi] {
				mask := channelMask(cam.Activations, positions, cam.C, ch, cam.H, cam.W, h, w)
				dst := buf[v*pixels : (v+1)*pixels]
				for p := range h * w {
					for q := range c {
						dst[p*c+q] = x[p*c+q] * mask[p]
					}
				}
			}
			logits, err := m.Logits(buf[:(hi-lo)*pixels], hi-lo)
			if err != nil {
				return res, err
			}
			classes := len(logits) / (hi - lo)
			for v := range hi - lo {
				probs := softmax(logits[v*classes : (v+1)*classes])
				for j, u := range units {
					weight[j][lo+v] = probs[u]
				}
			}
		}
		for j := range units {
			w := make([]float64, cam.C)
			for v, ch := range kept {
				w[ch] = weight[j][v]
			}
			res.Maps[i*b.K+j] = weightedChannels(cam.Activations, w, positions, cam.C)
		}
	}
	return res, cleanLogits(m, b, res.Logits)
}

// keptChannels lists the channels Score-CAM weighs: all, or the s.maxChannels
// with the largest standard deviation over the positions (ties: lower index).
func (s scorecam) keptChannels(acts []float32, positions, channels int) []int {
	all := make([]int, channels)
	for ch := range all {
		all[ch] = ch
	}
	if s.maxChannels == 0 || s.maxChannels >= channels {
		return all
	}
	mean := channelSums(acts, positions, channels)
	sq := make([]float64, channels)
	for p := range positions {
		for ch, a := range acts[p*channels : (p+1)*channels] {
			d := float64(a) - mean[ch]/float64(positions)
			sq[ch] += d * d
		}
	}
	slices.SortStableFunc(all, func(a, b int) int { return cmp.Compare(sq[b], sq[a]) })
	kept := all[:s.maxChannels]
	slices.Sort(kept)
	return kept
}

// channelMask is channel ch of the block (positions x channels, bh x bw)
// resized to h x w and min-max normalised to [0, 1] (all zeros if constant).
func channelMask(acts []float32, positions, channels, ch, bh, bw, h, w int) []float32 {
	one := make([]float32, positions)
	for p := range one {
		one[p] = acts[p*channels+ch]
	}
	mask := postproc.ResizeBilinear(one, bh, bw, h, w)
	postproc.Normalize(mask)
	return mask
}

// softmax of logits, in float64, shifted by the maximum for stability.
func softmax(logits []float32) []float64 {
	top := float64(slices.Max(logits))
	out := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		out[i] = math.Exp(float64(l) - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
