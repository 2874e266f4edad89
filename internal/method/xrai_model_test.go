package method_test

import (
	"math"
	"slices"
	"testing"

	. "github.com/saliency-tool/saliency/internal/method"
)

// XRAI on the trained demo model, two held-out composites and their top two
// units, 20 integration points per baseline: Explain is its three parts
// composed (XRAIAttribution, XRAIMasks, XRAISelect, exported by
// xrai_test.go), and the parts keep XRAI's invariants:
//   - the map is at the input size and finite;
//   - the regions partition the image: every pixel is in exactly one;
//   - each region's value is its pixels' mean attribution;
//   - each region but a last leftover one is a mask's new pixels, the mask
//     adding at least 50 of them and no other such mask a higher mean (the
//     greedy choice, recomputed here in float64 over the masks).
//
// The values need not decrease along the order (a mask's mean over its new
// pixels rises when a region before it took its weaker pixels): the test logs
// how often they rise rather than assert they do not.
// tests/test_peers.py compares the maps with PAIR saliency's.
func TestXRAIOnTheTrainedModel(t *testing.T) {
	m := model(t, "fashion")
	const n, k, steps = 2, 2, 20
	h, w, c := m.InputSize()
	images := heldOut(t, m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Images: images, N: n, Units: TopK(logits, m.NumClasses(), k), K: k, Rows: 8}
	res := explain(t, "xrai", Params{Steps: steps}, m, b)
	if res.MapH != h || res.MapW != w {
		t.Fatalf("map %dx%d, want the input's %dx%d", res.MapW, res.MapH, w, h)
	}
	attrs, err := XRAIAttribution(m, b, steps)
	if err != nil {
		t.Fatal(err)
	}
	for row, mp := range res.Maps {
		if d := math.Abs(float64(res.Logits[row] - logits[row/k*m.NumClasses()+int(b.Units[row])])); d > 1e-4 {
			t.Errorf("row %d: logit %v, the model says %v", row, res.Logits[row], logits[row/k*m.NumClasses()+int(b.Units[row])])
		}
		for p, v := range mp {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("row %d pixel %d: %v", row, p, v)
			}
		}
		masks := XRAIMasks(images[row/k*h*w*c:(row/k+1)*h*w*c], h, w, c)
		regions, gains := XRAISelect(attrs[row], masks)
		checkXRAIRegions(t, row, attrs[row], masks, regions, gains)
		painted := make([]float32, h*w)
		for i, r := range regions {
			for _, p := range r {
				painted[p] = gains[i]
			}
		}
		if !slices.Equal(painted, mp) {
			t.Errorf("row %d: Explain's map is not its parts'", row)
		}
		if slices.Min(mp) == slices.Max(mp) {
			t.Errorf("row %d: constant map", row)
		}
		rises := 0
		for i := 1; i < len(gains); i++ {
			if gains[i] > gains[i-1] {
				rises++
			}
		}
		t.Logf("row %d: %d masks, %d regions, values in [%.3g, %.3g], %d rises along the order",
			row, len(masks), len(regions), slices.Min(gains), slices.Max(gains), rises)
	}
}

// checkXRAIRegions checks that regions partition the image, that each value
// is its region's mean attribution, and replays the greedy choice in float64.
func checkXRAIRegions(t *testing.T, row int, attr []float32, masks, regions [][]int32, gains []float32) {
	t.Helper()
	mean := func(px []int32) float64 {
		var s float64
		for _, p := range px {
			s += float64(attr[p])
		}
		return s / float64(len(px))
	}
	// Float32 sums of up to 16384 values of ~|attr| against float64 ones.
	var scale float64
	for _, v := range attr {
		scale = max(scale, math.Abs(float64(v)))
	}
	tol := 1e-5 * scale
	covered := make([]bool, len(attr))
	for i, r := range regions {
		if len(r) == 0 {
			t.Fatalf("row %d region %d: empty", row, i)
		}
		if d := math.Abs(mean(r) - float64(gains[i])); !(d <= tol) {
			t.Errorf("row %d region %d: value %v, its mean attribution %v", row, i, gains[i], mean(r))
		}
		// The candidates: masks still adding at least 50 pixels.
		var best float64 = math.Inf(-1)
		var matched bool
		for _, mk := range masks {
			var fresh []int32
			for _, p := range mk {
				if !covered[p] {
					fresh = append(fresh, p)
				}
			}
			if len(fresh) < 50 {
				continue
			}
			best = max(best, mean(fresh))
			matched = matched || slices.Equal(fresh, r)
		}
		switch {
		case math.IsInf(best, -1) && i != len(regions)-1:
			t.Errorf("row %d region %d: no mask left, yet regions follow", row, i)
		case math.IsInf(best, -1): // the leftover pixels: all of them
			for p, cv := range covered {
				if !cv && !slices.Contains(r, int32(p)) {
					t.Errorf("row %d: pixel %d in no region", row, p)
					break
				}
			}
		case !matched:
			t.Errorf("row %d region %d: not a mask's new pixels", row, i)
		case float64(gains[i]) < best-tol:
			t.Errorf("row %d region %d: value %v, but a mask adds pixels of mean %v", row, i, gains[i], best)
		}
		for _, p := range r {
			if covered[p] {
				t.Fatalf("row %d region %d: pixel %d already in a region", row, i, p)
			}
			covered[p] = true
		}
	}
	if i := slices.Index(covered, false); i >= 0 {
		t.Errorf("row %d: pixel %d in no region", row, i)
	}
}
