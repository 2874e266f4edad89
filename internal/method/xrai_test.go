package method

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/saliency-tool/saliency/internal/gaussfilter"
)

// XRAI's parts on inputs small enough to work out by hand; xrai_model_test.go
// runs them on the trained model, and tests/test_peers.py compares the whole
// with PAIR saliency's XRAI.

// XRAIAttribution, XRAIMasks and XRAISelect expose XRAI's three steps to the
// model test (package method_test), which checks Explain against them.
func XRAIAttribution(m Model, b Batch, steps int) ([][]float32, error) {
	return xraiAttribution(m, b, steps)
}

func XRAIMasks(img []float32, h, w, c int) [][]int32 { return xraiMasks(img, h, w, c) }

// XRAISelect returns the regions in the order added and their values.
func XRAISelect(attr []float32, masks [][]int32) (pixels [][]int32, gains []float32) {
	for _, r := range xraiSelect(attr, masks) {
		pixels, gains = append(pixels, r.pixels), append(gains, r.gain)
	}
	return pixels, gains
}

// span lists the pixels lo..hi-1.
func span(lo, hi int32) []int32 {
	var s []int32
	for p := lo; p < hi; p++ {
		s = append(s, p)
	}
	return s
}

// attrOf builds an attribution of blocks of equal values: values[i] on
// pixels ends[i-1]..ends[i]-1.
func attrOf(ends []int, values []float32) []float32 {
	var a []float32
	for i, end := range ends {
		for len(a) < end {
			a = append(a, values[i])
		}
	}
	return a
}

// The greedy selection on blocks of 50 pixels of one value each, worked out by
// hand. Blocks A, B (pixels 0..99) are 10, Z (100..149) 0, E, F (150..249) 8.
// Mask 0 = Z E F has mean 800/150 = 5.33, mask 1 = A B Z 1000/150 = 6.67:
// mask 1 goes first, although it is second in the list. Mask 0 then adds only
// E F, whose mean is 8: the second region's value is higher than the first's
// (the values need not decrease along the order). Nothing is left over.
func TestXRAISelectTakesTheDensestNewPixels(t *testing.T) {
	attr := attrOf([]int{100, 150, 250}, []float32{10, 0, 8})
	masks := [][]int32{span(100, 250), span(0, 150)}
	regions := xraiSelect(attr, masks)
	want := []xraiRegion{{span(0, 150), float32(1000.0 / 150)}, {span(150, 250), 8}}
	checkRegions(t, regions, want)
	m := xraiMap(regions, len(attr))
	if m[0] != float32(1000.0/150) || m[149] != m[0] || m[150] != 8 || m[249] != 8 {
		t.Errorf("map %v", m)
	}
}

// A mask that would add fewer than 50 new pixels is dropped, and the pixels
// only it held are the last region, with their own mean. Pixels 0..99 are 3,
// 100..139 are 1, 140..199 are 5. Mask 0 = 0..119 has mean (300+20)/120 =
// 2.67, mask 1 = 80..139 (60 + 40)/60 = 1.67, mask 2 = 140..199 5. Round 1
// takes mask 2 (5), round 2 mask 0 (2.67 > 1.67); mask 1 would then add only
// 120..139, 20 pixels: dropped, and those 20 pixels of 1 are the last region,
// valued 1.
func TestXRAISelectDropsSmallAdditionsAndFillsTheRest(t *testing.T) {
	attr := attrOf([]int{100, 140, 200}, []float32{3, 1, 5})
	masks := [][]int32{span(0, 120), span(80, 140), span(140, 200)}
	want := []xraiRegion{{span(140, 200), 5}, {span(0, 120), float32(320.0 / 120)}, {span(120, 140), 1}}
	checkRegions(t, xraiSelect(attr, masks), want)
}

// Equal means: the first mask in the list wins (PAIR's strict >). Two masks
// of 60 pixels of 2, then a mask over both adds nothing and is dropped.
func TestXRAISelectTiesGoToTheFirstMask(t *testing.T) {
	attr := attrOf([]int{120}, []float32{2})
	masks := [][]int32{span(60, 120), span(0, 60), span(0, 120)}
	want := []xraiRegion{{span(60, 120), 2}, {span(0, 60), 2}}
	checkRegions(t, xraiSelect(attr, masks), want)
}

// Masks of fewer than 50 pixels are never selected: the whole image is the
// rest, valued its mean (1, 2, 3, 6: 3).
func TestXRAISelectWithoutUsableMasks(t *testing.T) {
	attr := []float32{1, 2, 3, 6}
	want := []xraiRegion{{span(0, 4), 3}}
	checkRegions(t, xraiSelect(attr, [][]int32{{0, 1}, {2}}), want)
}

func checkRegions(t *testing.T, got, want []xraiRegion) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d regions, want %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i].pixels, want[i].pixels) || got[i].gain != want[i].gain {
			t.Errorf("region %d: pixels %v..%v (%d) value %v, want %v..%v (%d) value %v", i,
				got[i].pixels[0], got[i].pixels[len(got[i].pixels)-1], len(got[i].pixels), got[i].gain,
				want[i].pixels[0], want[i].pixels[len(want[i].pixels)-1], len(want[i].pixels), want[i].gain)
		}
	}
}

// numpy's float32 sum (gaussfilter.PairwiseSum at float32) is pairwise: 1
// followed by fifteen 2^-24 sums, in order, to 1 (each 2^-24 is half an ulp
// of 1 and rounds away); pairwise the eight running sums are 1 and seven
// 2^-23, which add up to 1 + 7 * 2^-23. A mean over a mask is that sum
// divided by the count: numpy's np.float32 values (i % 97) / 13, i < 2000,
// have the mean 0x4069934d (3.6496155; summed in order, 3.6496167), and
// gathered through every third pixel index the same as the values alone.
func TestFloat32MeanIsNumpys(t *testing.T) {
	a := []float32{1}
	for range 15 {
		a = append(a, 0x1p-24)
	}
	if got, want := gaussfilter.PairwiseSum(a), float32(1+7*0x1p-23); got != want {
		t.Errorf("PairwiseSum = %v, want %v", got, want)
	}
	var plain float32
	for _, v := range a {
		plain += v
	}
	if plain != 1 {
		t.Errorf("in order: %v, want 1", plain)
	}
	const n = 2000
	attr := make([]float32, 3*n)
	px := make([]int32, n)
	for i := range px {
		px[i] = int32(3 * i)
		attr[3*i] = float32(i%97) / 13
		attr[3*i+1] = 1e6 // not in the mask
	}
	if got := float32Mean(attr, px, make([]float32, n)); math.Float32bits(got) != 0x4069934d {
		t.Errorf("float32Mean = %v (%#x), want numpy's 3.6496155 (0x4069934d)", got, math.Float32bits(got))
	}
}

// Dilation by a disk: skimage's disk(r) holds the offsets with dx^2 + dy^2 <=
// r^2, 13 for radius 2 and 81 for 5; a one-pixel segment in the middle grows
// to that many pixels, its surroundings' mask loses nothing. Near the border the
// disk is cut: a corner pixel with radius 1 reaches 3 pixels.
func TestDilateSegmentsByHand(t *testing.T) {
	for _, c := range []struct{ radius, size, want int }{{1, 5, 5}, {2, 7, 13}, {5, 11, 81}} {
		labels := make([]int32, c.size*c.size)
		centre := c.size * c.size / 2
		labels[centre] = 1
		// Label 1 first appears at the centre; numbering does not matter here.
		masks := dilateSegments(labels, c.size, c.size, c.radius)
		if len(masks) != 2 || len(masks[1]) != c.want || len(masks[0]) != c.size*c.size {
			t.Errorf("radius %d: masks of %d and %d pixels, want %d and %d", c.radius, len(masks[0]), len(masks[1]), c.size*c.size, c.want)
		}
		if !slices.IsSorted(masks[1]) {
			t.Errorf("radius %d: pixels not in order", c.radius)
		}
	}
	// 3 x 4 labels, radius 1 (the cross):
	//	0 0 1 1
	//	0 0 1 1
	//	2 2 2 2
	labels := []int32{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 2, 2}
	masks := dilateSegments(labels, 3, 4, 1)
	want := [][]int32{{0, 1, 2, 4, 5, 6, 8, 9}, {1, 2, 3, 5, 6, 7, 10, 11}, {4, 5, 6, 7, 8, 9, 10, 11}}
	for l := range want {
		if !slices.Equal(masks[l], want[l]) {
			t.Errorf("mask %d = %v, want %v", l, masks[l], want[l])
		}
	}
	corner := make([]int32, 9)
	corner[0] = 1
	if got := dilateSegments(corner, 3, 3, 1)[1]; !slices.Equal(got, []int32{0, 1, 3}) {
		t.Errorf("corner: %v", got)
	}
}

// PAIR's _normalize_image: to [-1, 1] by the image's own range.
func TestNormalizeToUnitRange(t *testing.T) {
	if got := normalizeToUnitRange([]float32{10, 20, 30, 15}); !slices.Equal(got, []float32{-1, 0, 1, -0.5}) {
		t.Errorf("got %v", got)
	}
	if got := normalizeToUnitRange([]float32{7, 7}); !slices.Equal(got, []float32{0, 0}) {
		t.Errorf("constant image: %v", got)
	}
}

func TestLinspace01(t *testing.T) {
	for n, want := range map[int][]float64{1: {0}, 2: {0, 1}, 3: {0, 0.5, 1}, 5: {0, 0.25, 0.5, 0.75, 1}} {
		if got := linspace01(n); !slices.Equal(got, want) {
			t.Errorf("linspace01(%d) = %v, want %v", n, got, want)
		}
	}
}

// cubic is f_u(x) = (u + 1) sum x^3 / 3, whose gradient (u + 1) x^2 makes
// PAIR's integration rule visible: on linspace(0, 1, 3) the mean of alpha^2
// is (0 + 1/4 + 1)/3 = 5/12 (the trapezoidal rule would give 3/8, the
// integral 1/3).
type cubic struct{ h, w, c int }

func (q cubic) InputSize() (int, int, int)     { return q.h, q.w, q.c }
func (q cubic) InputRange() (float32, float32) { return 0, 255 }

func (q cubic) Logits(images []float32, n int) ([]float32, error) {
	pixels := q.h * q.w * q.c
	out := make([]float32, 0, n*2)
	for i := range n {
		var s float64
		for _, v := range images[i*pixels : (i+1)*pixels] {
			s += float64(v) * float64(v) * float64(v) / 3
		}
		out = append(out, float32(s), float32(2*s))
	}
	return out, nil
}

func (q cubic) Gradients(images []float32, n int, units []int32, k int) ([]float32, []float32, error) {
	pixels := q.h * q.w * q.c
	all, _ := q.Logits(images, n)
	var logits, grads []float32
	for r, u := range units {
		logits = append(logits, all[(r/k)*2+int(u)])
		for _, v := range images[(r/k)*pixels : (r/k+1)*pixels] {
			grads = append(grads, float32(u+1)*v*v)
		}
	}
	return logits, grads, nil
}

func (q cubic) GradCAM([]float32, int, []int32, int) (CAM, error) {
	return CAM{}, errors.New("cubic: no gradcam")
}

// The base attribution by hand, 3 steps, on a 1 x 2 image of two channels,
// pixels (0, 1) and (2, 2): the baselines are 0 and 2. A channel at 0 gets
// from baseline 0 nothing and from baseline 2, along 2, 1, 0, (0 - 2)(4 + 1 +
// 0)/3 = -10/3: mean -5/3. At 1: from 0, along 0, 0.5, 1, 1 (0 + 0.25 + 1)/3 =
// 5/12; from 2, along 2, 1.5, 1, -(4 + 2.25 + 1)/3 = -29/12: mean -1. At 2: by
// symmetry +5/3. The pixels' maxima over the channels are -1 (not -5/3: the
// maximum is signed) and 5/3; unit 1 doubles them.
func TestXRAIAttributionByHand(t *testing.T) {
	q := cubic{1, 2, 2}
	b := Batch{Images: []float32{0, 1, 2, 2}, N: 1, Units: []int32{0, 1}, K: 2, Rows: 3}
	attrs, err := xraiAttribution(q, b, 3)
	if err != nil {
		t.Fatal(err)
	}
	for j, scale := range []float64{1, 2} {
		for p, want := range []float64{-1, 5.0 / 3} {
			if got := float64(attrs[j][p]); math.Abs(got-scale*want) > 1e-6 {
				t.Errorf("unit %d pixel %d: %v, want %v", j, p, got, scale*want)
			}
		}
	}
}

// On an image smaller than the 50 pixels a region must add, XRAI is one region:
// every pixel gets the mean attribution. The logits are the image's.
func TestXRAIExplainOnATinyImage(t *testing.T) {
	q := cubic{1, 2, 2}
	b := Batch{Images: []float32{0, 1, 2, 2}, N: 1, Units: []int32{1}, K: 1, Rows: 1}
	meth, err := newXRAI(Params{Steps: 3})
	if err != nil {
		t.Fatal(err)
	}
	res, err := meth.Explain(q, b)
	if err != nil {
		t.Fatal(err)
	}
	mean := (2*-1 + 2*5.0/3) / 2
	if res.MapH != 1 || res.MapW != 2 || math.Abs(float64(res.Maps[0][0])-mean) > 1e-6 || res.Maps[0][1] != res.Maps[0][0] {
		t.Errorf("map %dx%d %v, want both %v", res.MapW, res.MapH, res.Maps[0], mean)
	}
	if want := float32(2 * (1 + 8 + 8) / 3.0); math.Abs(float64(res.Logits[0]-want)) > 1e-5 {
		t.Errorf("logit %v, want %v", res.Logits[0], want)
	}
	if res.Completeness != nil {
		t.Error("XRAI reports no completeness")
	}
}

func TestXRAISteps(t *testing.T) {
	if m, err := newXRAI(Params{}); err != nil || m.(xrai).steps != XRAISteps {
		t.Errorf("default: %v, %v", m, err)
	}
	if _, err := newXRAI(Params{Steps: -1}); err == nil {
		t.Error("steps -1 accepted")
	}
}
