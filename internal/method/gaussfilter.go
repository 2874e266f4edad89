package method

import (
	"math"
	"runtime"
	"sync"
)

// gaussianFilter writes to dst the h x w x c image img blurred along its two
// spatial axes as PAIR saliency's Blur IG blurs it (saliency/core/blur_ig.py,
// gaussian_blur): scipy.ndimage.gaussian_filter(img, sigma=[sigma, sigma, 0],
// mode="constant") on a float32 image, with scipy's numerics:
//   - the kernel (scipy/ndimage/_filters.py, _gaussian_kernel1d and
//     gaussian_filter1d): radius int(4 sigma + 0.5) (truncate = 4), weights
//     exp(-0.5 / sigma^2 * x^2) for x = -radius..radius, divided by their sum,
//     in float64;
//   - the rows' axis (0) is filtered first, then the columns' (1); the channel
//     axis (sigma 0) is left alone, and sigma 0 copies the image (scipy skips
//     an axis whose sigma is not above 1e-15);
//   - each axis's pass (ni_filters.c, NI_Correlate1D, a symmetric kernel)
//     accumulates in float64 as w[0] v[i] + sum over j = radius..1 of
//     (v[i-j] + v[i+j]) w[j], and rounds its output to float32, the input's
//     type, before the next axis reads it;
//   - outside the image every value is 0 (mode "constant", cval 0): the blur
//     darkens the borders. (scipy's own default, "reflect", is not what PAIR
//     asks for.)
//
// Terms whose two values both lie outside the image add exactly 0 and are
// skipped, so a radius beyond the image costs no more than the image's side.
// The columns' pass runs on the transposed image, so that both passes add whole
// rows at a time (the order of each value's terms is scipy's either way).
// dst and img must not overlap.
func gaussianFilter(dst, img []float32, h, w, c int, sigma float64) {
	if !(sigma > 1e-15) {
		copy(dst, img)
		return
	}
	kernel := gaussianKernel(sigma)
	a := make([]float64, len(img))
	b := make([]float64, len(img))
	for p, v := range img {
		a[p] = float64(v)
	}
	filterRows(b, a, h, w*c, kernel) // axis 0
	transpose(a, b, h, w, c)         // now w x h x c
	filterRows(b, a, w, h*c, kernel) // axis 1
	for y := range h {
		for x := range w {
			copy64to32(dst[(y*w+x)*c:(y*w+x+1)*c], b[(x*h+y)*c:(x*h+y+1)*c])
		}
	}
}

// filterRows filters src, n rows of size values each, along its rows' axis
// into dst with the kernel (centre first), as NI_Correlate1D does for a
// symmetric kernel and zeros outside, each output rounded to float32. The
// output rows are shared among GOMAXPROCS goroutines (TensorFlow is idle
// meanwhile); each is computed alone, so the result does not depend on how.
func filterRows(dst, src []float64, n, size int, kernel []float64) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() { filterRowRange(dst, src, n, size, kernel, k*n/workers, (k+1)*n/workers) })
	}
	wg.Wait()
}

// filterRowRange is filterRows for output rows lo..hi-1.
func filterRowRange(dst, src []float64, n, size int, kernel []float64, lo, hi int) {
	for i := lo; i < hi; i++ {
		acc := dst[i*size : (i+1)*size]
		for p, v := range src[i*size : (i+1)*size] {
			acc[p] = v * kernel[0]
		}
		for j := min(len(kernel)-1, max(i, n-1-i)); j >= 1; j-- {
			k := kernel[j]
			switch {
			case i-j >= 0 && i+j < n:
				before, after := src[(i-j)*size:(i-j+1)*size], src[(i+j)*size:(i+j+1)*size]
				for p := range acc {
					acc[p] += (before[p] + after[p]) * k
				}
			case i-j >= 0:
				before := src[(i-j)*size : (i-j+1)*size]
				for p := range acc {
					acc[p] += before[p] * k
				}
			default:
				after := src[(i+j)*size : (i+j+1)*size]
				for p := range acc {
					acc[p] += after[p] * k
				}
			}
		}
		for p, v := range acc {
			acc[p] = float64(float32(v))
		}
	}
}

// transpose writes the h x w x c image src to dst as w x h x c.
func transpose(dst, src []float64, h, w, c int) {
	for y := range h {
		for x := range w {
			copy(dst[(x*h+y)*c:(x*h+y+1)*c], src[(y*w+x)*c:(y*w+x+1)*c])
		}
	}
}

func copy64to32(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

// gaussianKernel returns scipy's truncated Gaussian kernel for sigma from its
// centre out: kernel[j] is the weight of the values j places away, j = 0..radius.
func gaussianKernel(sigma float64) []float64 {
	radius := int(4*sigma + 0.5)
	full := make([]float64, 2*radius+1)
	for i := range full {
		x := float64((i - radius) * (i - radius))
		full[i] = math.Exp(-0.5 / (sigma * sigma) * x)
	}
	sum := pairwiseSum(full)
	kernel := make([]float64, radius+1)
	for j := range kernel {
		kernel[j] = full[radius+j] / sum
	}
	return kernel
}

// pairwiseSum adds a as numpy's sum of a float64 array does (pairwise_sum in
// numpy's loops_utils.h: eight running sums in blocks of up to 128 values,
// halves above that), so that scipy's kernel is normalised to the last bit.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		var s float64
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for k := range r {
				r[k] += a[i+k]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	}
	half := n / 2
	half -= half % 8
	return pairwiseSum(a[:half]) + pairwiseSum(a[half:])
}
