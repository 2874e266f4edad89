package gaussfilter

import (
	"math"
	"math/big"
)

// kernel returns scipy's Gaussian weights for sigma from the centre out:
// k[j] weighs the values j places away, j = 0..radius, with radius
// int(4*sigma + 0.5). The full kernel, x = -radius..radius, is
// exp(-0.5/sigma² * x²) normalised by its numpy sum; the two halves are equal
// bit for bit (the same argument for x and -x), so correlate1d treats it as
// symmetric and only one half is kept.
func kernel(sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	scale := -0.5 / (sigma * sigma)
	half := make([]float64, r+1)
	full := make([]float64, 2*r+1)
	for j := range half {
		half[j] = exp(scale * float64(j*j))
		full[r-j], full[r+j] = half[j], half[j]
	}
	sum := PairwiseSum(full)
	for j := range half {
		half[j] /= sum
	}
	return half
}

// PairwiseSum adds xs in the order numpy's add.reduce does for a float64 or
// float32 array, in that type (pairwise_sum in numpy/_core/src/umath/
// loops_utils.h.src): fewer than 8 terms one after another from the first; up
// to 128 in eight interleaved partial sums, combined as
// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the remainder; more split in two
// halves, the first a multiple of 8 long. The kernel's normalisation needs it
// to match scipy's to the last bit; it is exported for the other numpy sums
// callers reproduce (the segmentation's colour distances).
func PairwiseSum[T float32 | float64](xs []T) T {
	n := len(xs)
	switch {
	case n < 8:
		var s T
		for _, x := range xs {
			s += x
		}
		return s
	case n <= 128:
		var r [8]T
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
		return PairwiseSum(xs[:h]) + PairwiseSum(xs[h:])
	}
}

// exp returns e^x correctly rounded, as numpy's exp (glibc's) gives it but
// for rare arguments; Go's math.Exp is not (at sigma 3, 3 of the 13 distinct
// weights come out 1 ulp away). Almost always expDoubleDouble settles it in
// float64 arithmetic; where its result could lie on either side of a rounding
// boundary, expBig decides. Blur IG's 201 kernels per image hold 20,200
// distinct weights: expBig alone takes about a second over them, this way
// about 20 ms (against some 20 s of blurring), so kernels are not cached.
func exp(x float64) float64 {
	if y, ok := expDoubleDouble(x); ok {
		return y
	}
	return expBig(x)
}

// ln 2 to about 160 bits as three float64 values, each the one nearest to what
// the ones before leave: ln 2 = ln2Hi + ln2Mid + ln2Lo + O(2^-164).
const (
	ln2Hi  = 0x1.62e42fefa39efp-1
	ln2Mid = 0x1.abc9e3b39803fp-56
	ln2Lo  = 0x1.7b57a079a1934p-111
)

// expTerms is how many terms of e^r's Taylor series expDoubleDouble sums:
// for |r| <= ln2/2 the first one left out, r^25/25!, is below 2^-120.
const expTerms = 24

// expDoubleDouble returns e^x correctly rounded and true, or false where it
// cannot vouch for the rounding or x is outside [-708, 709] (beyond which e^x
// need not be a normal float64). It writes x = k ln2 + r with |r| <= ln2/2, sums e^r's
// Taylor series in double-double arithmetic (about 104 bits; its relative
// error stays below 2^-98 here), and rounds to float64: if the value plus or
// minus 2^-88 of itself, far beyond the error, rounds to the same float64,
// so does e^r. Scaling by 2^k is exact in the normal range.
func expDoubleDouble(x float64) (float64, bool) {
	if !(x >= -708 && x <= 709) {
		return 0, false
	}
	k := math.Round(x / ln2Hi)
	hi, lo := twoProduct(k, ln2Hi)
	r := addDD(doubleDouble{x, 0}, doubleDouble{-hi, -lo})
	hi, lo = twoProduct(k, ln2Mid)
	r = addDD(r, doubleDouble{-hi, -lo})
	r = addDD(r, doubleDouble{-k * ln2Lo, 0})
	// Horner's scheme: e^r = 1 + r(1 + r/2(1 + r/3(...))).
	e := doubleDouble{1, 0}
	for n := expTerms; n >= 1; n-- {
		e = addDD(doubleDouble{1, 0}, divDD(mulDD(r, e), float64(n)))
	}
	margin := math.Abs(e.hi) * 0x1p-88
	y := e.hi + (e.lo - margin)
	if y != e.hi+(e.lo+margin) {
		return 0, false
	}
	return math.Ldexp(y, int(k)), true
}

// doubleDouble is the unevaluated sum hi + lo, |lo| <= ulp(hi)/2.
type doubleDouble struct{ hi, lo float64 }

// twoSum returns a + b and its rounding error, s + e = a + b exactly (Knuth).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	return s, (a - (s - bb)) + (b - bb)
}

// fastTwoSum is twoSum for |a| >= |b| (Dekker).
func fastTwoSum(a, b float64) (s, e float64) {
	s = a + b
	return s, b - (s - a)
}

// twoProduct returns a * b and its rounding error, exactly, by an FMA.
func twoProduct(a, b float64) (p, e float64) {
	p = a * b
	return p, math.FMA(a, b, -p)
}

// addDD returns a + b to about 2^-104 relative, also under cancellation (the
// QD library's ieee_add, Hida, Li & Bailey).
func addDD(a, b doubleDouble) doubleDouble {
	s, e := twoSum(a.hi, b.hi)
	t, f := twoSum(a.lo, b.lo)
	s, e = fastTwoSum(s, e+t)
	s, e = fastTwoSum(s, e+f)
	return doubleDouble{s, e}
}

// mulDD returns a * b to about 2^-104 relative.
func mulDD(a, b doubleDouble) doubleDouble {
	p, e := twoProduct(a.hi, b.hi)
	p, e = fastTwoSum(p, e+(a.hi*b.lo+a.lo*b.hi))
	return doubleDouble{p, e}
}

// divDD returns a / n to about 2^-104 relative: the quotient of hi, then of
// the exact remainder.
func divDD(a doubleDouble, n float64) doubleDouble {
	q := a.hi / n
	p, e := twoProduct(q, n)
	q2 := ((a.hi - p) - e + a.lo) / n
	q, q2 = fastTwoSum(q, q2)
	return doubleDouble{q, q2}
}

// expBig returns e^x correctly rounded, slowly: e^|x| summed as its Taylor
// series to 256 bits, all terms positive, inverted for x < 0, and rounded once
// to float64. The kernel's arguments lie in [-32, 0] (x <= 4σ+0.5 and σ >= 1/8
// when the radius is not 0), where it takes up to about 0.2 ms.
func expBig(x float64) float64 {
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
