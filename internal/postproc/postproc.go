// Package postproc turns raw input gradients into saliency maps. Every function is a
// pure computation on float32 slices in row-major order; nothing here knows about
// TensorFlow, files or pixels.
//
// The convention is keras-explainable's: the gradient method's filter takes the
// absolute value and averages it over the channel axis (methods.gradient.gradients
// with gradient_filter=tf.abs), and the post-processing filter is
// filters.absolute_normalize: subtract the map's minimum, then divide by the new
// maximum, where a zero maximum gives zeros (tf.math.divide_no_nan) rather than
// NaN. Maps are resized to the image last, with tf.image.resize's default bilinear
// sampling (half-pixel centres, no antialiasing). PAIR saliency's convention (sum
// over channels, 99th-percentile clip) and Captum's are different; they are not
// mixed in here.
package postproc

import (
	"math"
	"slices"
)

// MeanAbsChannels reduces a gradient of h*w pixels with c channels each (HWC order)
// to one value per pixel: the mean of the channels' absolute values.
func MeanAbsChannels(grad []float32, h, w, c int) []float32 {
	out := make([]float32, h*w)
	for p := range out {
		var sum float32
		for _, g := range grad[p*c : (p+1)*c] {
			sum += float32(math.Abs(float64(g)))
		}
		out[p] = sum / float32(c)
	}
	return out
}

// Normalize rescales m in place to [0, 1]: subtract the minimum, divide by the
// maximum of what remains. A constant map becomes all zeros, so a unit whose
// gradient vanishes everywhere gives a black map instead of NaNs.
func Normalize(m []float32) {
	if len(m) == 0 {
		return
	}
	lo := m[0]
	for _, v := range m {
		lo = min(lo, v)
	}
	var hi float32
	for i, v := range m {
		m[i] = v - lo
		hi = max(hi, m[i])
	}
	if hi == 0 {
		clear(m)
		return
	}
	for i := range m {
		m[i] /= hi
	}
}

// ClipPercentile caps m in place at its p-th percentile (0 < p < 100, computed
// as numpy.percentile's default, linear interpolation between the closest
// ranks). Google's PAIR saliency draws maps clipped at the 99th percentile so that
// a few very hot pixels do not leave the rest of a normalised map black; it is
// applied before Normalize and is not part of keras-explainable's convention.
func ClipPercentile(m []float32, p float64) {
	if len(m) == 0 {
		return
	}
	limit := Percentile(m, p)
	for i, v := range m {
		m[i] = min(v, limit)
	}
}

// Percentile returns the p-th percentile (0..100) of m, as numpy.percentile does
// by default.
func Percentile(m []float32, p float64) float32 {
	sorted := slices.Clone(m)
	slices.Sort(sorted)
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(sorted)-1)
	frac := float32(rank - float64(lo))
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// ResizeBilinear resamples a sh x sw map to dh x dw the way tf.image.resize does by
// default (bilinear, half_pixel_centers, antialias off), so maps match a Python
// pipeline that resizes with TensorFlow. Equal sizes return a copy unchanged.
func ResizeBilinear(src []float32, sh, sw, dh, dw int) []float32 {
	dst := make([]float32, dh*dw)
	if sh == dh && sw == dw {
		copy(dst, src)
		return dst
	}
	ys := interpolationWeights(sh, dh)
	xs := interpolationWeights(sw, dw)
	for y, wy := range ys {
		top := src[wy.lower*sw : (wy.lower+1)*sw]
		bottom := src[wy.upper*sw : (wy.upper+1)*sw]
		row := dst[y*dw : (y+1)*dw]
		for x, wx := range xs {
			t := top[wx.lower] + (top[wx.upper]-top[wx.lower])*wx.lerp
			b := bottom[wx.lower] + (bottom[wx.upper]-bottom[wx.lower])*wx.lerp
			row[x] = t + (b-t)*wy.lerp
		}
	}
	return dst
}

// weight says which two source samples an output sample lies between and how far
// along it is from the lower one.
type weight struct {
	lower, upper int
	lerp         float32
}

// interpolationWeights follows TensorFlow's resize_bilinear_op.cc: the source
// coordinate of output i is (i + 0.5) * in/out - 0.5, clamped to the image, and the
// arithmetic is float32 as in the kernel.
func interpolationWeights(in, out int) []weight {
	scale := float32(in) / float32(out)
	ws := make([]weight, out)
	for i := range ws {
		pos := (float32(i)+0.5)*scale - 0.5
		floor := float32(math.Floor(float64(pos)))
		ws[i] = weight{
			lower: max(int(floor), 0),
			upper: min(int(math.Ceil(float64(pos))), in-1),
			lerp:  pos - floor,
		}
	}
	return ws
}
