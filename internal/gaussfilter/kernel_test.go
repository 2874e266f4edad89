package gaussfilter

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// scipy 1.16.3's Gaussian weights from the centre out, read off
// gaussian_filter1d of an impulse by tests/reference/felzenszwalb.py (the
// kernels of build/reference/felzenszwalb.json), which rounds to the last bit
// as numpy's exp and sum do.
var scipyKernels = map[float64][]float64{
	0.3: {0x1.fc125907ac9f7p-1, 0x1.f6d37c29b03fdp-9},
	0.8: {0x1.fea50a329ccc5p-2, 0x1.d39491a41f9e1p-3, 0x1.66fa84b3e9043p-6, 0x1.ce27258cea946p-12},
	1.7: {0x1.e09c9f68ddeebp-3, 0x1.9441a834fe23fp-3, 0x1.e124bbff172a3p-4, 0x1.9526c2350be94p-5,
		0x1.e2bdf93668747p-7, 0x1.96f27c01b3878p-9, 0x1.e56b0ffd38c59p-12, 0x1.99a7e586392dfp-15},
	3.0: {0x1.105a329f98197p-3, 0x1.01a25f86eb137p-3, 0x1.b42a57d56c0bep-4, 0x1.4a614d1afd337p-4,
		0x1.bfde9c12bec92p-5, 0x1.0fa58939b528fp-5, 0x1.26defcaeb0202p-6, 0x1.1e6bccad344bap-7,
		0x1.f1e9915139406p-9, 0x1.8345966f69518p-10, 0x1.0d8a5ad43c165p-11, 0x1.4fbe39149e277p-13,
		0x1.763a210dfb306p-15},
}

func TestKernelMatchesScipy(t *testing.T) {
	for sigma, want := range scipyKernels {
		if got := kernel(sigma); !slices.Equal(got, want) {
			t.Errorf("sigma %v: kernel\n got %x\nwant %x", sigma, got, want)
		}
	}
}

// The radius is int(4 sigma + 0.5): 0 below sigma 0.125, 200 at sigma 50.
func TestKernelRadius(t *testing.T) {
	for _, tt := range []struct {
		sigma  float64
		radius int
	}{{0.01, 0}, {0.12, 0}, {0.13, 1}, {0.5, 2}, {0.8, 3}, {25.01, 100}, {50, 200}} {
		if got := len(kernel(tt.sigma)) - 1; got != tt.radius {
			t.Errorf("sigma %v: radius %d, want %d", tt.sigma, got, tt.radius)
		}
	}
}

func TestExpIsCorrectlyRounded(t *testing.T) {
	// e^x to 40 digits (Python's decimal at 50), which Go's parser rounds
	// correctly; math.Exp is 1 ulp off on the last three.
	for _, tt := range []struct{ x, want float64 }{
		{0, 1},
		{-1, 0.3678794411714423215955237701614608674458},
		{-0.5, 0.6065306597126334236037995349911804534419},
		{-8, 0.0003354626279025118388213891257808610193109},
		{-3.5555555555555554, 0.02856550078455037828153822201989826253297},
		{-0.05555555555555555, 0.9459594689067654658108990189904253717660},
	} {
		for name, f := range map[string]func(float64) float64{"exp": exp, "expBig": expBig} {
			if got := f(tt.x); got != tt.want {
				t.Errorf("%s(%v) = %v, want %v", name, tt.x, got, tt.want)
			}
		}
		if got, ok := expDoubleDouble(tt.x); !ok || got != tt.want {
			t.Errorf("expDoubleDouble(%v) = %v, %v; want %v, true", tt.x, got, ok, tt.want)
		}
	}
}

// The fast path against the slow one on every argument of the kernels Blur IG
// and the segmentation build at a few sigmas, and on random arguments in the
// kernels' range [-32, 0] and beyond: the same float64, and the fast path
// settles (almost) all of them itself.
func TestExpDoubleDoubleAgreesWithExpBig(t *testing.T) {
	var xs []float64
	for _, sigma := range []float64{0.13, 0.3, 0.5, 0.8, 1.7, 3, 12.5, 25.01, 50} {
		scale := -0.5 / (sigma * sigma)
		for j := range int(4*sigma+0.5) + 1 {
			xs = append(xs, scale*float64(j*j))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		xs = append(xs, -32*rng.Float64(), 200*(rng.Float64()-0.5))
	}
	declined := 0
	for _, x := range xs {
		got, ok := expDoubleDouble(x)
		if !ok {
			declined++
			continue
		}
		if want := expBig(x); got != want {
			t.Errorf("expDoubleDouble(%v) = %x, expBig %x", x, got, want)
		}
	}
	if declined > 1 {
		t.Errorf("the fast path declined %d of %d arguments", declined, len(xs))
	}
	for _, x := range []float64{-709, 710, math.Inf(-1), math.NaN()} {
		if _, ok := expDoubleDouble(x); ok {
			t.Errorf("expDoubleDouble(%v) vouched for a result outside its range", x)
		}
	}
}

// ln2Hi + ln2Mid + ln2Lo against ln 2's first 100 published digits (OEIS
// A002162).
func TestLn2Constants(t *testing.T) {
	const digits = "0.6931471805599453094172321214581765680755001343602552541206800094933936219696947156058633269964186875"
	want, _, err := big.ParseFloat(digits, 10, 600, big.ToNearestEven)
	if err != nil {
		t.Fatal(err)
	}
	got := new(big.Float).SetPrec(600).SetFloat64(ln2Hi)
	got.Add(got, new(big.Float).SetFloat64(ln2Mid))
	got.Add(got, new(big.Float).SetFloat64(ln2Lo))
	diff, _ := got.Sub(got, want).Float64()
	if math.Abs(diff) > 0x1p-160 {
		t.Errorf("ln2Hi + ln2Mid + ln2Lo is %g away from ln 2", diff)
	}
}

// numpy's pairwise sum: 1 followed by fifteen 2^-53 is 1 summed in order (each
// half-ulp is rounded away) but 1 + 7 * 2^-52 by numpy (eight running sums of
// the 16 values, then pairs of pairs), which np.sum prints.
func TestPairwiseSumIsNumpys(t *testing.T) {
	a := []float64{1}
	for range 15 {
		a = append(a, 0x1p-53)
	}
	if got, want := PairwiseSum(a), 1+7*0x1p-52; got != want {
		t.Errorf("PairwiseSum = %v, want %v", got, want)
	}
	// 1e16 + 1 + 1 + ... loses every 1 added one at a time, but numpy adds the
	// terms 8 apart first: with 16 terms, seven lanes hold 1 + 1 = 2 and one
	// holds 1e16 + 1 = 1e16, and the tree keeps the 14.
	xs := make([]float64, 16)
	for i := range xs {
		xs[i] = 1
	}
	xs[0] = 1e16
	if got, want := PairwiseSum(xs), 1e16+14; got != want {
		t.Errorf("PairwiseSum = %v, want %v", got, want)
	}
	if got := PairwiseSum(xs[:7]); got != 1e16 { // one after another
		t.Errorf("PairwiseSum of 7 = %v, want 1e16", got)
	}
	// Long sums split in halves of multiples of 8 and agree with the plain sum
	// of exactly representable values.
	b := make([]float64, 1001)
	var plain float64
	for i := range b {
		b[i] = float64(i % 17)
		plain += b[i]
	}
	if got := PairwiseSum(b); got != plain {
		t.Errorf("PairwiseSum of small integers = %v, want %v", got, plain)
	}
}

// In float32 the same order with float32 rounding: 1 and fifteen 2^-24 add
// up to 1 + 7 * 2^-23, where one after another they stay 1.
func TestPairwiseSumFloat32(t *testing.T) {
	a := []float32{1}
	for range 15 {
		a = append(a, 0x1p-24)
	}
	if got, want := PairwiseSum(a), float32(1+7*0x1p-23); got != want {
		t.Errorf("PairwiseSum = %v, want %v", got, want)
	}
}
