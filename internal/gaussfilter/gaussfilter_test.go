package gaussfilter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/saliency-tool/saliency/internal/testenv"
)

// The filter by hand on small images, both modes, and bit for bit against
// scikit-image's gaussian (scipy's gaussian_filter, mode "reflect") on the
// reference tests/reference/felzenszwalb.py writes. Blur IG's own tests and
// tests/ compare the "constant" mode with PAIR saliency's blur.

// The kernel of sigma 0.5 has radius int(4 * 0.5 + 0.5) = 2 and weights
// exp(-2 x^2) / S, S = 1 + 2 e^-2 + 2 e^-8.
func halfSigmaKernel() (k0, k1, k2 float64) {
	s := 1 + 2*math.Exp(-2) + 2*math.Exp(-8)
	return 1 / s, math.Exp(-2) / s, math.Exp(-8) / s
}

// Under Constant an impulse spreads as the product of the kernel along the
// rows and along the columns, in its own channel only.
func TestConstantImpulseByHand(t *testing.T) {
	const h, w, c = 7, 9, 2
	k0, k1, k2 := halfSigmaKernel()
	k := []float64{k0, k1, k2} // by distance 0, 1, 2
	img := make([]float32, h*w*c)
	img[(3*w+4)*c+1] = 10 // row 3, column 4, channel 1
	dst := make([]float32, len(img))
	Filter(dst, img, h, w, c, 0.5, Constant)
	for y := range h {
		for x := range w {
			dy, dx := abs(y-3), abs(x-4)
			want := 0.0
			if dy <= 2 && dx <= 2 {
				want = 10 * k[dy] * k[dx]
			}
			if got := dst[(y*w+x)*c+1]; math.Abs(float64(got)-want) > 1e-6*10 {
				t.Errorf("(%d, %d): %g, want %g", y, x, got, want)
			}
			if got := dst[(y*w+x)*c]; got != 0 {
				t.Errorf("(%d, %d): the other channel is %g", y, x, got)
			}
		}
	}
}

// Outside the image every value is 0 under Constant: a 1 x 3 row [1, 2, 3]
// under sigma 0.5 loses mass at both ends, and the rows' pass of a one-row
// image only multiplies by the kernel's centre.
func TestConstantZeroBorderByHand(t *testing.T) {
	k0, k1, k2 := halfSigmaKernel()
	dst := make([]float32, 3)
	Filter(dst, []float32{1, 2, 3}, 1, 3, 1, 0.5, Constant)
	want := []float64{
		k0 * (k0*1 + k1*2 + k2*3),
		k0 * (k1*1 + k0*2 + k1*3),
		k0 * (k2*1 + k1*2 + k0*3),
	}
	for i := range want {
		if math.Abs(float64(dst[i])-want[i]) > 1e-6 {
			t.Errorf("value %d: %g, want %g (zeros beyond the border)", i, dst[i], want[i])
		}
	}
}

// Under Reflect the same row is extended as 2 1 | 1 2 3 | 3 2: no mass is
// lost, and the rows' pass of a one-row image multiplies by the whole
// kernel's sum (1 up to rounding).
func TestReflectBorderByHand(t *testing.T) {
	k0, k1, k2 := halfSigmaKernel()
	dst := make([]float64, 3)
	Filter(dst, []float64{1, 2, 3}, 1, 3, 1, 0.5, Reflect)
	want := []float64{
		k0*1 + k1*(1+2) + k2*(2+3),
		k0*2 + k1*(1+3) + k2*(1+3),
		k0*3 + k1*(2+3) + k2*(1+2),
	}
	for i := range want {
		if math.Abs(dst[i]-want[i]) > 1e-14 {
			t.Errorf("value %d: %.17g, want %.17g (reflected beyond the border)", i, dst[i], want[i])
		}
	}
}

// A radius far beyond the image (sigma 50: 200 pixels) on 3 x 3 under
// Constant: every output is the sum over the whole image of the kernel at each
// offset, the kernel normalised over all its 401 taps.
func TestConstantRadiusBeyondTheImage(t *testing.T) {
	const sigma = 50.0
	kern := gaussian(sigma)
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	dst := make([]float32, 9)
	Filter(dst, img, 3, 3, 1, sigma, Constant)
	for y := range 3 {
		for x := range 3 {
			var want float64
			for v := range 3 {
				for u := range 3 {
					want += float64(img[v*3+u]) * kern(y-v) * kern(x-u)
				}
			}
			if got := float64(dst[y*3+x]); math.Abs(got-want) > 1e-6*want {
				t.Errorf("(%d, %d): %g, want %g", y, x, got, want)
			}
		}
	}
}

// A radius beyond the image under Reflect (sigma 3: 12 pixels on 2 x 3 x 2):
// the kernel reaches into copies of the image mirrored again and again, built
// here by laying out the line and its reverse in turn.
func TestReflectRadiusBeyondTheImage(t *testing.T) {
	const h, w, c, sigma, r = 2, 3, 2, 3.0, 12
	kern := gaussian(sigma)
	img := []float64{1, -2, 3, 5, 4, 8, -1, 0.5, 7, 2, 6, 9}
	mirrored := func(n int) []int { // the source of indices -r..n-1+r
		var idx []int
		for period := 0; len(idx) < 2*n*(2*r/n+3); period++ {
			for i := range n {
				idx = append(idx, i)
			}
			for i := range n {
				idx = append(idx, n-1-i)
			}
		}
		start := 2 * n * (r/(2*n) + 1) // an index congruent to 0, beyond r
		return idx[start-r : start+n+r]
	}
	rows, cols := mirrored(h), mirrored(w)
	dst := make([]float64, len(img))
	Filter(dst, img, h, w, c, sigma, Reflect)
	for y := range h {
		for x := range w {
			for ch := range c {
				var want float64
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						want += img[(rows[y+dy+r]*w+cols[x+dx+r])*c+ch] * kern(dy) * kern(dx)
					}
				}
				if got := dst[(y*w+x)*c+ch]; math.Abs(got-want) > 1e-12 {
					t.Errorf("(%d, %d, %d): %.17g, want %.17g", y, x, ch, got, want)
				}
			}
		}
	}
}

// gaussian returns the normalised truncated Gaussian of sigma as a function of
// the offset, from its formula.
func gaussian(sigma float64) func(int) float64 {
	r := int(4*sigma + 0.5)
	var s float64
	for x := -r; x <= r; x++ {
		s += math.Exp(-float64(x*x) / (2 * sigma * sigma))
	}
	return func(d int) float64 { return math.Exp(-float64(d*d)/(2*sigma*sigma)) / s }
}

// Sigma 0 copies the image, and so does sigma 0.01, whose radius int(0.04 +
// 0.5) is 0: Blur IG's first slope is exactly 0, as in PAIR.
func TestIdentities(t *testing.T) {
	img := []float32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}
	for _, mode := range []Mode{Constant, Reflect} {
		for _, sigma := range []float64{0, 0.01, 0.12} {
			dst := make([]float32, len(img))
			Filter(dst, img, 2, 2, 3, sigma, mode)
			if !slices.Equal(dst, img) {
				t.Errorf("mode %d, sigma %g: %v, want the image %v", mode, sigma, dst, img)
			}
		}
		dst := make([]float32, len(img))
		Filter(dst, img, 2, 2, 3, 0.3, mode) // radius int(1.2 + 0.5) = 1
		if slices.Equal(dst, img) {
			t.Errorf("mode %d: sigma 0.3 left the image unchanged", mode)
		}
	}
}

// Filtering in place, or with one goroutine or several, gives the same bits.
func TestInPlaceAndWorkers(t *testing.T) {
	const h, w, c = 11, 7, 3
	img := make([]float32, h*w*c)
	for i := range img {
		img[i] = float32(math.Sin(float64(i)))
	}
	for _, mode := range []Mode{Constant, Reflect} {
		want := make([]float32, len(img))
		Filter(want, img, h, w, c, 1.7, mode)
		in := slices.Clone(img)
		Filter(in, in, h, w, c, 1.7, mode)
		if !slices.Equal(in, want) {
			t.Errorf("mode %d: in place differs", mode)
		}
		for _, procs := range []int{1, 3} {
			prev := runtime.GOMAXPROCS(procs)
			got := make([]float32, len(img))
			Filter(got, img, h, w, c, 1.7, mode)
			runtime.GOMAXPROCS(prev)
			if !slices.Equal(got, want) {
				t.Errorf("mode %d: %d goroutines differ", mode, procs)
			}
		}
	}
}

func TestFilterPanicsOnWrongLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for 11 values in a 2x2x3 image")
		}
	}()
	Filter(make([]float64, 11), make([]float64, 11), 2, 2, 3, 1, Reflect)
}

func TestReflect(t *testing.T) {
	// scipy's 'reflect' on abc: ...cba|abc|cba|abc...
	want := map[int]int{-8: 1, -7: 0, -6: 0, -4: 2, -3: 2, -2: 1, -1: 0, 0: 0, 2: 2, 3: 2, 5: 0, 6: 0, 8: 2, 9: 2}
	for i, w := range want {
		if got := reflect(i, 3); got != w {
			t.Errorf("reflect(%d, 3) = %d, want %d", i, got, w)
		}
	}
	for _, i := range []int{-5, -1, 0, 1, 4} {
		if got := reflect(i, 1); got != 0 {
			t.Errorf("reflect(%d, 1) = %d, want 0", i, got)
		}
	}
}

// referenceEnv names the file tests/reference/felzenszwalb.py writes with
// scikit-image (`make test` computes it; the Makefile's TEST_ENV sets this).
const referenceEnv = "SALIENCY_FELZENSZWALB_REFERENCE"

// TestReflectMatchesScikitImage compares the kernels and the pre-smoothed
// images of the segmentation's reference bit for bit: scipy's kernels, and
// skimage.filters.gaussian(image, sigma=[s, s, 0], mode="reflect") of float64
// images, some shorter than the kernel.
func TestReflectMatchesScikitImage(t *testing.T) {
	path := testenv.Path(t, referenceEnv) // fails, not skips, when unset
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Kernels []struct {
			Sigma   float64
			Weights []float64
		}
		Images map[string]struct {
			H, W, C  int
			Pixels   []byte // little-endian float32, HWC
			Smoothed []struct {
				Sigma  float64
				Pixels []byte // little-endian float64
			}
		}
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, k := range ref.Kernels {
		r := len(k.Weights) / 2
		if got := kernel(k.Sigma); !slices.Equal(got, k.Weights[r:]) {
			t.Errorf("sigma %v: kernel\n got %v\nwant %v", k.Sigma, got, k.Weights[r:])
		}
	}
	checked := 0
	for name, im := range ref.Images {
		n := im.H * im.W * im.C
		px := decode[float32](t, im.Pixels, n)
		for _, s := range im.Smoothed {
			got := make([]float64, n)
			for i, v := range px {
				got[i] = float64(v)
			}
			Filter(got, got, im.H, im.W, im.C, s.Sigma, Reflect)
			want := decode[float64](t, s.Pixels, n)
			bad := 0
			for i := range got {
				if got[i] != want[i] {
					if bad++; bad <= 3 {
						t.Errorf("%s sigma %v: value %d = %v, scikit-image %v", name, s.Sigma, i, got[i], want[i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%s sigma %v: %d of %d values differ", name, s.Sigma, bad, n)
			}
			checked++
		}
	}
	if checked == 0 || len(ref.Kernels) == 0 {
		t.Fatalf("%s has no smoothed images or no kernels", path)
	}
}

// decode reads n little-endian values of type T from b.
func decode[T float32 | float64](t *testing.T, b []byte, n int) []T {
	t.Helper()
	out := make([]T, n)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil || binary.Size(out) != len(b) {
		t.Fatalf("%d bytes for %d values of %d bytes: %v", len(b), n, binary.Size(out)/max(n, 1), err)
	}
	return out
}

func abs(x int) int { return max(x, -x) }

// Blur IG's blurs: a 299 x 299 x 3 float32 image (Xception's input) at its
// largest sigma and at its second smallest; it blurs at 200 sigmas per image.
func BenchmarkBlurIG(b *testing.B) {
	img := make([]float32, 299*299*3)
	for i := range img {
		img[i] = float32(math.Sin(float64(i) * 0.001))
	}
	dst := make([]float32, len(img))
	for _, bm := range []struct {
		name  string
		sigma float64
	}{{"sigma50", 50}, {"sigma0.5", 0.5}} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				Filter(dst, img, 299, 299, 3, bm.sigma, Constant)
			}
		})
	}
}

// The kernels alone, at the largest sigma, and the correctly rounded exp's two
// paths on a large argument.
func BenchmarkKernel(b *testing.B) {
	b.Run("sigma50", func(b *testing.B) {
		for b.Loop() {
			kernel(50)
		}
	})
	b.Run("expDoubleDouble", func(b *testing.B) {
		for b.Loop() {
			expDoubleDouble(-31.9)
		}
	})
	b.Run("expBig", func(b *testing.B) {
		for b.Loop() {
			expBig(-31.9)
		}
	})
}

// The segmentation's smoothing for XRAI: 224 x 224 x 3 float64 at sigma 0.8.
func BenchmarkReflectXRAI(b *testing.B) {
	img := make([]float64, 224*224*3)
	for i := range img {
		img[i] = math.Sin(float64(i) * 0.001)
	}
	dst := make([]float64, len(img))
	for b.Loop() {
		Filter(dst, img, 224, 224, 3, 0.8, Reflect)
	}
}
