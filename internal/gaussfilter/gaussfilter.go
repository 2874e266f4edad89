// Package gaussfilter is scipy's ndimage.gaussian_filter with truncate 4.0 on
// an h x w x c image (HWC), filtering the two spatial axes and leaving the
// channels alone, to the last bit: Blur IG has to blur as PAIR saliency does
// (mode "constant", zeros outside, on float32 images) and Felzenszwalb's
// segmentation has to pre-smooth as scikit-image does (mode "reflect", on
// float64 images), and both compare with those libraries value for value.
//
// Its numerics are scipy's and numpy's, as their documentation and behaviour
// fix them:
//   - gaussian_filter runs gaussian_filter1d along axis 0 (the rows' axis), then
//     along axis 1, each 1-D pass writing an array of the input's type that the
//     next reads; an axis whose sigma is not above 1e-15 is skipped.
//   - gaussian_filter1d's kernel has radius int(truncate*sigma + 0.5) and the
//     weights exp(-0.5/sigma² * x²), x = -radius..radius, divided by their sum,
//     computed by numpy in float64: numpy's exp (glibc's on x86-64 without
//     AVX-512, correctly rounded but for rare arguments; the exp here is
//     correctly rounded, Go's math.Exp is not) and numpy's sum, which adds
//     pairwise (PairwiseSum).
//   - correlate1d, given a kernel that is symmetric bit for bit, computes each
//     output in double as w0·v[i] plus, from the outermost tap inwards,
//     (v[i-j] + v[i+j])·wj, every product rounded before it is added (no FMA
//     in scipy's x86-64 build), and stores it in the output's type. Beyond the
//     ends the line is extended by the mode: "constant" with cval 0, or
//     "reflect", d c b a | a b c d | d c b a, repeated however far the kernel
//     reaches past a short line.
//
// The package knows images as flat slices and nothing about models or files.
package gaussfilter

import (
	"fmt"
	"runtime"
	"sync"
)

// Mode is how the image is extended beyond its edges, scipy's mode argument.
type Mode int

const (
	// Constant is scipy's mode "constant" with cval 0: zeros outside the image,
	// so a blur darkens the borders (what PAIR saliency's Blur IG asks for).
	Constant Mode = iota
	// Reflect is scipy's mode "reflect" (its default, and scikit-image's
	// gaussian's): the image mirrored about its edges, the edge pixel repeated.
	Reflect
)

// Filter writes to dst the h x w x c image src filtered by scipy's
// gaussian_filter(src, sigma=[sigma, sigma, 0], mode=mode, truncate=4.0): down
// the rows' axis, then along the columns', each pass accumulated in float64
// and stored as T, the input's type, before the next reads it (so float32
// images are rounded between the passes, as scipy rounds them). A sigma of at
// most 1e-15 copies the image. dst may be src itself; otherwise the two must
// not overlap. Each pass shares its rows among GOMAXPROCS goroutines; every
// output is computed alone, so the result does not depend on how. It panics
// if len(src) or len(dst) is not h*w*c.
func Filter[T float32 | float64](dst, src []T, h, w, c int, sigma float64, mode Mode) {
	if len(src) != h*w*c || len(dst) != len(src) {
		panic(fmt.Sprintf("gaussfilter: %d values in, %d out for a %dx%dx%d image", len(src), len(dst), h, w, c))
	}
	if !(sigma > 1e-15) {
		copy(dst, src)
		return
	}
	k := kernel(sigma)
	// The columns' pass runs on the transposed image, so that both passes add
	// whole rows at a time; each value's terms come in scipy's order either way.
	// src is read only by the first pass, which is why dst may be src.
	tmp := make([]T, len(src))
	filterAxis(tmp, src, h, w*c, k, mode) // axis 0
	transpose(dst, tmp, h, w, c)          // now w x h x c
	filterAxis(tmp, dst, w, h*c, k, mode) // axis 1
	transpose(dst, tmp, w, h, c)
}

// filterAxis filters src, n rows of size values each, along its rows' axis
// into dst with the kernel k (centre first), sharing the output rows among
// GOMAXPROCS goroutines (in Blur IG, TensorFlow is idle meanwhile).
func filterAxis[T float32 | float64](dst, src []T, n, size int, k []float64, mode Mode) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { filterRows(dst, src, n, size, k, mode, i*n/workers, (i+1)*n/workers) })
	}
	wg.Wait()
}

// filterRows is filterAxis for output rows lo..hi-1, as correlate1d computes
// them. Under Constant, terms whose two values both lie outside the image add
// exactly 0 and are skipped, and a term with one value outside is that value
// times its weight (v + 0 is v): a radius beyond the image costs no more than
// the image's side. The float64 conversions keep every product rounded before
// it is added, as in scipy; Go could otherwise fuse them into FMAs.
func filterRows[T float32 | float64](dst, src []T, n, size int, k []float64, mode Mode, lo, hi int) {
	acc := make([]float64, size)
	for i := lo; i < hi; i++ {
		for p, v := range src[i*size : (i+1)*size] {
			acc[p] = float64(float64(v) * k[0])
		}
		top := len(k) - 1
		if mode == Constant {
			top = min(top, max(i, n-1-i)) // farther taps see only zeros
		}
		for j := top; j >= 1; j-- {
			before, after := line(src, i-j, n, size, mode), line(src, i+j, n, size, mode)
			switch {
			case before != nil && after != nil:
				addPairs(acc, before, after, k[j])
			case before != nil:
				addScaled(acc, before, k[j])
			default:
				addScaled(acc, after, k[j])
			}
		}
		out := dst[i*size : (i+1)*size]
		for p, v := range acc {
			out[p] = T(v)
		}
	}
}

// line returns row i of src, n rows of size values, where the mode puts it:
// the row itself inside, the mirrored row under Reflect, nil (zeros) under
// Constant.
func line[T float32 | float64](src []T, i, n, size int, mode Mode) []T {
	if i < 0 || i >= n {
		if mode == Constant {
			return nil
		}
		i = reflect(i, n)
	}
	return src[i*size : (i+1)*size]
}

// reflect maps an index outside [0, n) into it as scipy's "reflect" does
// (NI_ExtendLine's NI_EXTEND_REFLECT, "dcba|abcd|dcba"): the line mirrored
// about its edges, repeating with period 2n however far the kernel reaches
// past a short line.
func reflect(i, n int) int {
	i %= 2 * n
	if i < 0 {
		i += 2 * n
	}
	if i >= n {
		i = 2*n - 1 - i
	}
	return i
}

// addPairs adds (a[p] + b[p]) * weight to acc[p], the product rounded first.
func addPairs[T float32 | float64](acc []float64, a, b []T, weight float64) {
	a, b = a[:len(acc)], b[:len(acc)]
	for p := range acc {
		acc[p] += float64((float64(a[p]) + float64(b[p])) * weight)
	}
}

// addScaled adds a[p] * weight to acc[p], the product rounded first.
func addScaled[T float32 | float64](acc []float64, a []T, weight float64) {
	a = a[:len(acc)]
	for p := range acc {
		acc[p] += float64(float64(a[p]) * weight)
	}
}

// transpose writes the h x w x c image src to dst as w x h x c.
func transpose[T float32 | float64](dst, src []T, h, w, c int) {
	for y := range h {
		for x := range w {
			copy(dst[(x*h+y)*c:(x*h+y+1)*c], src[(y*w+x)*c:(y*w+x+1)*c])
		}
	}
}
