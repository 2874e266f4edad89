package method

import (
	"math"

	"github.com/saliency-tool/saliency/internal/gaussfilter"
	"github.com/saliency-tool/saliency/internal/segment"
)

// xrai is XRAI (Kapishnikov, Bolukbasi, Viégas & Terry 2019, "XRAI: Better
// Attributions Through Regions") as PAIR saliency 0.2.1 computes it
// (saliency/core/xrai.py, XRAI.GetMaskWithDetails with its defaults: steps =
// 100, algorithm "full", area_threshold 1.0, min_pixel_diff 50). It scores
// regions rather than pixels:
//
//  1. base attribution (xraiAttribution): PAIR's IntegratedGradients from two
//     baselines, the image's own darkest and brightest values (_make_baselines:
//     min(x) and max(x) over all its values, not the input range's ends),
//     averaged, then the maximum over the channels (_attr_aggregation_max:
//     signed, not |.|);
//  2. regions (xraiMasks): Felzenszwalb segmentations of the image at six
//     scales, each segment dilated by a disk of radius 5 (_get_segments_felzenszwalb);
//  3. the greedy "full" selection (xraiSelect, PAIR's _xrai): the region
//     whose not-yet-covered pixels have the highest mean attribution is added,
//     and its new pixels get that mean, until no region adds 50 new pixels; the
//     pixels left over get their own mean attribution.
//
// The map is one value per pixel at the model's input size, signed (densities
// of the attribution), so the pixel filter and reduction do not apply; the
// engine's min-max normalisation then ranks the regions. The arithmetic is
// PAIR's numpy float32, so that given the same gradients the regions are chosen
// in the same order and their values agree to the last bit (the model's
// gradients themselves differ a little between Keras and the SavedModel:
// tests/test_peers.py).
//
// One deviation: PAIR resizes the image to 224x224 (bicubic) before
// segmenting and the labels back to the image's size (nearest), a resize its
// own TODO calls unnecessary with better-chosen parameters. This segments at
// the model's input size, where the segments are what PAIR's
// _get_segments_felzenszwalb gives with resize_image=False. The segment sizes
// are in pixels (min_size 150), so on an input smaller than 224x224 they cover
// more of the image than PAIR's would (on fashion's 128x128 about three times
// as much), on a larger one less.
//
// There is no completeness record: the map's sum is that of the channels'
// maximum, not of the attribution the path integrates.
type xrai struct {
	steps int
}

// XRAISteps is XRAI's default number of integrated-gradients points per
// baseline, PAIR saliency's.
const XRAISteps = 100

// PAIR saliency's XRAI settings that the command line does not change.
const (
	xraiSigma        = 0.8 // _FELZENSZWALB_SIGMA_VALUES
	xraiMinSize      = 150 // _FELZENSZWALB_MIN_SEGMENT_SIZE, in pixels
	xraiDilation     = 5   // dilation_rad: the disk each segment is dilated by
	xraiMinPixelDiff = 50  // experimental_params["min_pixel_diff"]
	xraiAreaMax      = 1.0 // area_threshold: select until all the image is covered
)

// xraiScales are the Felzenszwalb scales PAIR segments at
// (_FELZENSZWALB_SCALE_VALUES).
var xraiScales = []float64{50, 100, 150, 250, 500, 1200}

func newXRAI(p Params) (Method, error) {
	steps := p.Steps
	if steps == 0 {
		steps = XRAISteps
	}
	if steps < 1 {
		return nil, paramError("steps", "%s must be at least 1, got %d", p.Steps)
	}
	return xrai{steps}, nil
}

func (xrai) Name() string { return "xrai" }

func (x xrai) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	res := pixelResult(m, b)
	attrs, err := xraiAttribution(m, b, x.steps)
	if err != nil {
		return res, err
	}
	for i := range b.N {
		// The regions depend on the image only: its units share them.
		masks := xraiMasks(b.image(i, h*w*c), h, w, c)
		for j := range b.K {
			row := i*b.K + j
			res.Maps[row] = xraiMap(xraiSelect(attrs[row], masks), h*w)
		}
	}
	return res, cleanLogits(m, b, res.Logits)
}

// xraiAttribution returns, row by row, XRAI's base attribution, one value per
// pixel: PAIR's IntegratedGradients.GetMask (batch_size 1) from each of the
// two baselines b = min(x) and max(x), which with alpha_s = s / (Steps - 1),
// s = 0..Steps-1 (numpy's linspace(0, 1, Steps): both ends, Steps points) is
//
//	IG_b = (sum_s g(b + alpha_s (x - b))) * (x - b) / Steps
//
// (a sum over Steps points divided by Steps: neither the trapezoidal rule of
// integrated nor a Riemann sum of Steps intervals). Then (IG_min + IG_max) / 2
// and its maximum over the channels. numpy's rounding is kept: x - b is
// float32, the points are float64 (alpha is a float64 scalar) rounded to the
// float32 the model takes, the gradients are summed in float32 in order of s.
func xraiAttribution(m Model, b Batch, steps int) ([][]float32, error) {
	h, w, c := m.InputSize()
	pixels := h * w * c
	ends := make([][2]float32, b.N) // the baselines' values
	for i := range ends {
		ends[i] = imageRange(b.image(i, pixels))
	}
	alpha := linspace01(steps)
	// Point v is image v / (2 Steps), baseline (v / Steps) % 2, step v % Steps.
	sums := make([][2][]float32, b.N*b.K)
	err := sweep(m, b.N*2*steps, b.K, b.Rows,
		func(v int) []int32 { return b.unitsOf(v / (2 * steps)) },
		func(v int, dst []float32) {
			i, base, a := v/(2*steps), ends[v/(2*steps)][v/steps%2], alpha[v%steps]
			for p, x := range b.image(i, pixels) {
				diff := x - base // float32, as numpy's x_value - x_baseline
				dst[p] = float32(float64(base) + float64(a*float64(diff)))
			}
		},
		func(v, j int, _ float32, grad []float32) {
			row, base := v/(2*steps)*b.K+j, v/steps%2
			if sums[row][base] == nil {
				sums[row][base] = make([]float32, pixels)
			}
			sum := sums[row][base]
			for p, g := range grad {
				sum[p] += g
			}
		})
	if err != nil {
		return nil, err
	}
	attrs := make([][]float32, b.N*b.K)
	for row, s := range sums {
		x, base := b.image(row/b.K, pixels), ends[row/b.K]
		attr := make([]float32, h*w)
		for q := range attr {
			best := float32(math.Inf(-1))
			for ch := range c {
				p := q*c + ch
				ig0 := float32(s[0][p]*(x[p]-base[0])) / float32(steps)
				ig1 := float32(s[1][p]*(x[p]-base[1])) / float32(steps)
				mean := float32(ig0+ig1) / 2
				if ch == 0 {
					best = mean
				} else {
					best = max(best, mean) // NaN wins, as in numpy's max
				}
			}
			attr[q] = best
		}
		attrs[row] = attr
	}
	return attrs, nil
}

// imageRange returns the smallest and largest of an image's values.
func imageRange(x []float32) [2]float32 {
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	return [2]float32{lo, hi}
}

// linspace01 is numpy's linspace(0, 1, n): s times the step 1/(n-1) (not
// s/(n-1), which can differ in the last bit), the last point exactly 1; [0]
// for n = 1.
func linspace01(n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		return out
	}
	step := 1 / float64(n-1)
	for s := range out {
		out[s] = float64(s) * step
	}
	out[n-1] = 1
	return out
}

// xraiMasks returns XRAI's candidate regions for an h x w x c image, as PAIR's
// _get_segments_felzenszwalb(resize_image=False) makes them: the image rescaled
// to [-1, 1] by its own minimum and maximum (_normalize_image, in float32 as
// numpy computes it for a float32 image), segmented by Felzenszwalb's method
// (sigma 0.8, min_size 150) at each of xraiScales, each segment of each
// segmentation a mask (_unpack_segs_to_masks: by scale, then by label), dilated
// by a disk of radius 5. Each mask is its pixels' row-major indices, ascending.
func xraiMasks(img []float32, h, w, c int) [][]int32 {
	g := segment.NewGraph(normalizeToUnitRange(img), h, w, c, xraiSigma)
	var masks [][]int32
	for _, scale := range xraiScales {
		masks = append(masks, dilateSegments(g.Segment(scale, xraiMinSize), h, w, xraiDilation)...)
	}
	return masks
}

// normalizeToUnitRange maps an image's values to [-1, 1] by its own minimum and
// maximum, with numpy's float32 steps: (x - lo) / (hi - lo) * 2 + (-1). A
// constant image, where numpy would divide 0 by 0, becomes all zeros: one
// segment at every scale.
func normalizeToUnitRange(img []float32) []float32 {
	r := imageRange(img)
	out := make([]float32, len(img))
	if r[0] == r[1] {
		return out
	}
	span := r[1] - r[0]
	for p, v := range img {
		out[p] = float32(float32((v-r[0])/span)*2) + -1
	}
	return out
}

// dilateSegments turns labels 0..n-1 (every label present, as Felzenszwalb
// numbers them) into n masks, mask l being the pixels within Euclidean distance
// radius of a pixel labelled l: skimage.morphology.dilation of label == l by
// disk(radius). Its default "reflect" border adds nothing a disk does not
// already reach inside the image (a reflected neighbour is nearer on both
// axes), so pixels outside are simply skipped. Masks list their pixels
// ascending.
func dilateSegments(labels []int32, h, w, radius int) [][]int32 {
	type offset struct{ dy, dx int }
	var disk []offset
	for dy := -radius; dy <= radius; dy++ {
		for dx := -radius; dx <= radius; dx++ {
			if dx*dx+dy*dy <= radius*radius {
				disk = append(disk, offset{dy, dx})
			}
		}
	}
	n := int32(0)
	for _, l := range labels {
		n = max(n, l+1)
	}
	masks := make([][]int32, n)
	last := make([]int32, n) // the last pixel added to each mask, to add it once
	for l := range last {
		last[l] = -1
	}
	for y := range h {
		for x := range w {
			p := int32(y*w + x)
			for _, o := range disk {
				yy, xx := y+o.dy, x+o.dx
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					continue
				}
				if l := labels[yy*w+xx]; last[l] != p {
					last[l] = p
					masks[l] = append(masks[l], p)
				}
			}
		}
	}
	return masks
}

// xraiRegion is one region of XRAI's map: the pixels it added (row-major,
// ascending) and their mean attribution, which they all get.
type xraiRegion struct {
	pixels []int32
	gain   float32
}

// xraiSelect is PAIR's _xrai (the "full" algorithm, gain _gain_density):
// starting from nothing covered, each round drops the masks that would add
// fewer than xraiMinPixelDiff new pixels, then adds the mask whose new pixels
// have the highest mean attribution (the first such mask in the list on a tie,
// as PAIR's strict >), until no mask is left. The pixels no mask added (those
// only in dropped masks) are the last region, with their own mean. It returns
// the regions in the order added; their gains need not decrease along it (a
// mask's mean over its new pixels rises when a region added before it took
// its weaker pixels). PAIR fails on a round where every gain is NaN (from
// non-finite gradients); this then takes the first mask.
//
// Each mean is numpy's float32 mean of attr over the new pixels in row-major
// order (float32Mean), so that ties and near-ties resolve as in PAIR.
func xraiSelect(attr []float32, masks [][]int32) []xraiRegion {
	n := len(attr)
	covered := make([]bool, n)
	area := 0
	// Each live mask's pixels not yet covered, ascending, shrunk as the
	// covered area grows.
	fresh := make([][]int32, len(masks))
	live := make([]int, len(masks))
	for k, mk := range masks {
		fresh[k] = append([]int32(nil), mk...)
		live[k] = k
	}
	var regions []xraiRegion
	scratch := make([]float32, n)
	for float64(area)/float64(n) <= xraiAreaMax {
		best, bestGain := -1, float32(math.Inf(-1))
		kept := live[:0]
		for _, k := range live {
			fresh[k] = uncovered(fresh[k], covered)
			if len(fresh[k]) < xraiMinPixelDiff {
				continue
			}
			kept = append(kept, k)
			if g := float32Mean(attr, fresh[k], scratch); g > bestGain {
				best, bestGain = k, g
			}
		}
		live = kept
		if len(live) == 0 {
			break
		}
		if best < 0 { // every gain NaN (or -Inf)
			best = live[0]
			bestGain = float32Mean(attr, fresh[best], scratch)
		}
		added := fresh[best]
		regions = append(regions, xraiRegion{added, bestGain})
		for _, p := range added {
			covered[p] = true
		}
		area += len(added)
		live = removeValue(live, best)
	}
	var rest []int32
	for p, cv := range covered {
		if !cv {
			rest = append(rest, int32(p))
		}
	}
	if len(rest) > 0 {
		regions = append(regions, xraiRegion{rest, float32Mean(attr, rest, scratch)})
	}
	return regions
}

// uncovered drops the covered pixels from px, in place.
func uncovered(px []int32, covered []bool) []int32 {
	out := px[:0]
	for _, p := range px {
		if !covered[p] {
			out = append(out, p)
		}
	}
	return out
}

// removeValue removes the first k from s, in place, keeping the order.
func removeValue(s []int, k int) []int {
	for i, v := range s {
		if v == k {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// xraiMap paints each region's gain on its pixels: n values, PAIR's
// attribution_mask.
func xraiMap(regions []xraiRegion, n int) []float32 {
	out := make([]float32, n)
	for _, r := range regions {
		for _, p := range r.pixels {
			out[p] = r.gain
		}
	}
	return out
}

// float32Mean is numpy's attr[mask].mean() for a float32 attr: the values at
// px gathered in order (scratch holds them), summed in float32 by numpy's
// pairwise summation (gaussfilter.PairwiseSum, whose float32 rounding this
// keeps), the sum divided by the count in float64 (numpy divides the float32
// sum by an intp count, which promotes to float64) and rounded back to
// float32.
func float32Mean(attr []float32, px []int32, scratch []float32) float32 {
	vals := scratch[:len(px)]
	for i, p := range px {
		vals[i] = attr[p]
	}
	return float32(float64(gaussfilter.PairwiseSum(vals)) / float64(len(px)))
}
