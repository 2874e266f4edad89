package method

import "fmt"

// occlusion is Zeiler & Fergus (2014)'s occlusion sensitivity: a square patch
// of the fill value (in the model's input units: 0 is black for the models
// export.py writes) slides over the image, and each pixel's attribution is the
// mean, over the patch positions that cover it, of the logit's drop, logit(x) -
// logit(x occluded), with its sign: after min-max normalisation the brightest
// pixels are those whose occlusion lowers the unit's score most, the darkest
// those whose occlusion raises it most.
// Forward passes only: every position's copy goes through the logits
// signature, all units of an image from the same pass.
//
// PAIR saliency's Occlusion slides with stride 1 and sums the drops (pixels near
// the edges, under fewer positions, get less); this takes the mean, so that
// any stride gives an even map. At --stride 1 the two differ by exactly the
// count of covering positions (README "Methods").
type occlusion struct {
	patch, stride int // 0: defaults from the input size (occlusionGeometry)
	fill          float32
}

func newOcclusion(p Params) (Method, error) {
	if p.Patch < 0 {
		return nil, paramError("patch", "%s must be positive (or 0 for 1/8 of the input), got %d", p.Patch)
	}
	if p.Stride < 0 {
		return nil, paramError("stride", "%s must be positive (or 0 for half the patch), got %d", p.Stride)
	}
	return occlusion{p.Patch, p.Stride, float32(p.Fill)}, nil
}

func (occlusion) Name() string { return "occlusion" }

// occlusionGeometry resolves the patch size and stride for an h x w input: by
// default a patch of 1/8 of the shorter side (37 pixels on Xception's 299)
// moved by half its size, which covers every pixel by 1 to 4 positions at 15 x
// 15 positions.
func (o occlusion) occlusionGeometry(h, w int) (patch, stride int, err error) {
	patch, stride = o.patch, o.stride
	if patch == 0 {
		patch = max(min(h, w)/8, 1)
	}
	if stride == 0 {
		stride = max(patch/2, 1)
	}
	if patch > min(h, w) {
		return 0, 0, fmt.Errorf("occlusion patch %d is larger than the %dx%d input", patch, w, h)
	}
	return patch, stride, nil
}

// CheckInput refuses a patch larger than an h x w input, before any work.
func (o occlusion) CheckInput(h, w int) error {
	if _, _, err := o.occlusionGeometry(h, w); err != nil {
		return paramError("patch", "%s %d is larger than the model's %dx%d input", o.patch, w, h)
	}
	return nil
}

// windowStarts lists the patch's starts along a side of n pixels: every
// stride, and the last start n - patch if the stride skips it, so the far edge
// is covered.
func windowStarts(n, patch, stride int) []int {
	var starts []int
	for s := 0; s+patch <= n; s += stride {
		starts = append(starts, s)
	}
	if last := n - patch; starts[len(starts)-1] != last {
		starts = append(starts, last)
	}
	return starts
}

func (o occlusion) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	patch, stride, err := o.occlusionGeometry(h, w)
	if err != nil {
		return Result{}, err
	}
	type window struct{ y, x int }
	var windows []window
	for _, y := range windowStarts(h, patch, stride) {
		for _, x := range windowStarts(w, patch, stride) {
			windows = append(windows, window{y, x})
		}
	}
	res := Result{Logits: make([]float32, b.N*b.K), Maps: make([][]float32, b.N*b.K), MapH: h, MapW: w}
	if err := cleanLogits(m, b, res.Logits); err != nil {
		return res, err
	}
	per := max(b.Rows, 1)
	buf := make([]float32, per*pixels)
	for i := range b.N {
		x := b.image(i, pixels)
		units := b.unitsOf(i)
		drop := make([][]float64, b.K) // per unit: summed drop at each pixel
		for j := range drop {
			drop[j] = make([]float64, h*w)
		}
		count := make([]float64, h*w) // positions covering each pixel
		for lo := 0; lo < len(windows); lo += per {
			hi := min(lo+per, len(windows))
			for v, win := range windows[lo:hi] {
				dst := buf[v*pixels : (v+1)*pixels]
				copy(dst, x)
				for y := win.y; y < win.y+patch; y++ {
					row := dst[(y*w+win.x)*c : (y*w+win.x+patch)*c]
					for p := range row {
						row[p] = o.fill
					}
				}
			}
			logits, err := m.Logits(buf[:(hi-lo)*pixels], hi-lo)
			if err != nil {
				return res, err
			}
			classes := len(logits) / (hi - lo)
			for v, win := range windows[lo:hi] {
				for j, u := range units {
					d := float64(res.Logits[i*b.K+j] - logits[v*classes+int(u)])
					addPatch(drop[j], w, win.y, win.x, patch, d)
				}
				addPatch(count, w, win.y, win.x, patch, 1)
			}
		}
		for j := range drop {
			mp := make([]float32, h*w)
			for p, d := range drop[j] {
				if count[p] > 0 {
					mp[p] = float32(d / count[p])
				}
			}
			res.Maps[i*b.K+j] = mp
		}
	}
	return res, nil
}

// addPatch adds v to the patch x patch square at (y, x) of a map w wide.
func addPatch(dst []float64, w, y, x, patch int, v float64) {
	for r := y; r < y+patch; r++ {
		row := dst[r*w+x : r*w+x+patch]
		for p := range row {
			row[p] += v
		}
	}
}
