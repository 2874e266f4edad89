package segment

import (
	"math"
	"math/big"
)

// smooth is scikit-image's pre-smoothing of an h x w x c image,
// gaussian(image, sigma=[sigma, sigma, 0], mode='reflect', channel_axis=-1)
// in _felzenszwalb_cython, which is scipy.ndimage.gaussian_filter with
// truncate 4: a 1-D filter down the rows (axis 0), then one along them
// (axis 1), each channel on its own, the intermediate kept in float64, with
// the image extended by reflection about its edges. A sigma of at most 1e-15
// filters nothing (gaussian_filter skips such axes). It may return im itself.
//
// Each output is summed as NI_Correlate1D does for a symmetric kernel (the
// Gaussian is symmetric bit for bit): the centre weight times the centre
// pixel, then, from the outermost pair inwards, the sum of the two pixels j
// away times their weight. The float64 conversions keep every product rounded
// before it is added, as there; Go could otherwise fuse them into FMAs.
func smooth(im []float64, h, w, c int, sigma float64) []float64 {
	if !(sigma > 1e-15) {
		return im
	}
	k := kernel(sigma)
	r := len(k) / 2
	row := w * c
	tmp := make([]float64, len(im))
	// Down the rows: whole rows at a time, each element with its own sum.
	for y := range h {
		out := tmp[y*row : (y+1)*row]
		in := im[y*row : (y+1)*row]
		for i := range out {
			out[i] = float64(in[i] * k[r])
		}
		for j := r; j >= 1; j-- {
			up := im[reflect(y-j, h)*row:][:row]
			down := im[reflect(y+j, h)*row:][:row]
			for i := range out {
				out[i] += float64((up[i] + down[i]) * k[r-j])
			}
		}
	}
	// Along the rows, each row first copied into ext with r reflected pixels
	// on either side (as NI_ExtendLine fills scipy's line buffer).
	out := make([]float64, len(im))
	ext := make([]float64, (w+2*r)*c)
	for y := range h {
		in := tmp[y*row : (y+1)*row]
		for x := -r; x < w+r; x++ {
			copy(ext[(x+r)*c:(x+r+1)*c], in[reflect(x, w)*c:])
		}
		o := out[y*row : (y+1)*row]
		for i := range o {
			centre := i + r*c
			s := float64(ext[centre] * k[r])
			for j := r; j >= 1; j-- {
				s += float64((ext[centre-j*c] + ext[centre+j*c]) * k[r-j])
			}
			o[i] = s
		}
	}
	return out
}

// reflect maps an index outside [0, n) into it as scipy's 'reflect' mode
// does (NI_ExtendLine's NI_EXTEND_REFLECT, "dcba|abcd|dcba"): the line
// mirrored about its edges, repeating with period 2n however far the kernel
// reaches past a short line.
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

// kernel returns scipy's Gaussian weights for sigma, the radius being
// int(truncate*sigma + 0.5) with truncate 4 (gaussian_filter1d) and the
// weights exp(-0.5/sigma² * x²) for x in -radius..radius divided by their sum
// (_gaussian_kernel1d), which numpy takes pairwise. The kernel is symmetric,
// so correlating (as scipy does) and convolving are the same.
func kernel(sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	c := -0.5 / (sigma * sigma)
	k := make([]float64, 2*r+1)
	for i := range k {
		x := i - r
		k[i] = exp(c * float64(x*x))
	}
	sum := pairwiseSum(k)
	for i := range k {
		k[i] /= sum
	}
	return k
}

// exp returns e^x correctly rounded. numpy's exp on x86-64 without AVX-512 is
// glibc's, which is correctly rounded but for rare arguments; Go's math.Exp
// is not (at sigma 3, 3 of the 13 distinct weights come out 1 ulp away).
// The kernel's arguments lie in [-32, 0] (x <= 4σ+0.5 and σ >= 1/8 when the
// radius is not 0), and it needs at most 2r+1 of them per image, so e^|x| is
// summed as its Taylor series to 256 bits, all terms positive, inverted for
// x < 0, and rounded once to float64.
func exp(x float64) float64 {
	const prec = 256
	a := new(big.Float).SetPrec(prec).SetFloat64(math.Abs(x))
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	n := new(big.Float).SetPrec(prec)
	for i := int64(1); term.Sign() != 0 && term.MantExp(nil) > sum.MantExp(nil)-prec-8; i++ {
		term.Mul(term, a)
		term.Quo(term, n.SetInt64(i))
		sum.Add(sum, term)
	}
	if x < 0 {
		sum.Quo(new(big.Float).SetPrec(prec).SetInt64(1), sum)
	}
	f, _ := sum.Float64()
	return f
}

// pairwiseSum adds xs in the order numpy's add.reduce does for float64
// (pairwise_sum in numpy/_core/src/umath/loops_utils.h.src): fewer than 8
// terms one after another from 0; up to 128 in eight interleaved partial sums
// combined as a tree, then the remainder; more split in two halves, the first
// a multiple of 8 long.
func pairwiseSum(xs []float64) float64 {
	n := len(xs)
	switch {
	case n < 8:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], xs[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += xs[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += xs[i]
		}
		return s
	default:
		h := n / 2
		h -= h % 8
		return pairwiseSum(xs[:h]) + pairwiseSum(xs[h:])
	}
}
