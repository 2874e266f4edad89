package method

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// The methods' arithmetic, without a model. method_test.go runs the methods on
// the real exported models.

func TestNormalsAreStandardAndDeterministic(t *testing.T) {
	z := make([]float32, 100001) // odd: the last pair is half used
	normals(z, 5, 2)
	var sum, sq float64
	for _, v := range z {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean, variance := sum/float64(len(z)), sq/float64(len(z))-(sum/float64(len(z)))*(sum/float64(len(z)))
	if math.Abs(mean) > 0.02 || math.Abs(variance-1) > 0.02 {
		t.Errorf("mean %.4f, variance %.4f; want 0 and 1", mean, variance)
	}
	again := make([]float32, 10)
	normals(again, 5, 2)
	other := make([]float32, 10)
	normals(other, 5, 3)
	if !slices.Equal(again, z[:10]) || slices.Equal(other, again) {
		t.Error("normals not a function of (seed, sample) alone")
	}
}

func TestGaussianBlurKeepsConstantsAndMass(t *testing.T) {
	const h, w, c = 20, 30, 3
	img := make([]float32, h*w*c)
	for i := range img {
		img[i] = 7
	}
	gaussianBlur(img, h, w, c, 2.5)
	for i, v := range img {
		if math.Abs(float64(v-7)) > 1e-4 {
			t.Fatalf("constant image changed at %d: %g", i, v)
		}
	}
	// An impulse in the middle spreads symmetrically and keeps its mass.
	clear(img)
	img[(10*w+15)*c+1] = 1
	gaussianBlur(img, h, w, c, 2)
	var mass float64
	for _, v := range img {
		mass += float64(v)
	}
	left, right := img[(10*w+13)*c+1], img[(10*w+17)*c+1]
	if math.Abs(mass-1) > 1e-4 || left != right || img[(10*w+15)*c] != 0 {
		t.Errorf("mass %g, left %g right %g, other channel %g", mass, left, right, img[(10*w+15)*c])
	}
}

func TestCAMMapByHand(t *testing.T) {
	// Two positions, two channels. alpha = (mean of grads) = (1, -1).
	acts := []float32{3, 1, 1, 2}
	grads := []float32{2, -1, 0, -1}
	got := gradCAMMap(acts, grads, 2, 2)
	want := []float32{2, 0} // relu(3-1) = 2, relu(1-2) = 0
	if !slices.Equal(got, want) {
		t.Fatalf("gradCAMMap = %v, want %v", got, want)
	}
}

// The class activation maps on the same two positions x two channels by hand:
// A = [[3, 1], [1, 2]], g = [[2, -1], [0, -1]] (rows are positions).
func TestCAMFamilyByHand(t *testing.T) {
	acts := []float32{3, 1, 1, 2}
	grads := []float32{2, -1, 0, -1}
	golden := (1 + math.Sqrt(5)) / 2
	// A A^T = [[10, 5], [5, 5]]: lambda1 = (15 + 5 sqrt 5) / 2, u1 ~ (1, 1/golden),
	// and A v1 = sqrt(lambda1) u1.
	l1 := (15 + 5*math.Sqrt(5)) / 2
	u := []float64{1, 1 / golden}
	n := math.Hypot(u[0], u[1])
	eigen := []float32{float32(math.Sqrt(l1) * u[0] / n), float32(math.Sqrt(l1) * u[1] / n)}
	for _, c := range []struct {
		name string
		f    camFunc
		want []float32
	}{
		// relu(2)*3 + relu(-1)*1 = 6; 0*1 + 0*2 = 0.
		{"layercam", layerCAMMap, []float32{6, 0}},
		// 2*3 - 1*1 = 5; 0*1 - 1*2 = -2 -> 0.
		{"hirescam", hiResCAMMap, []float32{5, 0}},
		// ||A_0||_1 = 4, ||A_1||_1 = 3: w = ((3*2 + 1*0)/4, (1*-1 + 2*-1)/3) = (1.5, -1);
		// 1.5*3 - 1 = 3.5; 1.5*1 - 2 = -0.5 -> 0.
		{"xgradcam", xGradCAMMap, []float32{3.5, 0}},
		// Channel 0: sum A = 4; at p0 g = 2: alpha = 4 / (2*4 + 4*8) = 0.1, times
		// relu(g) = 0.2; at p1 g = 0 adds nothing. Channel 1: g < 0, w = 0.
		// Map = 0.2 * A_0 = (0.6, 0.2).
		{"gradcampp", gradCAMPPMap, []float32{0.6, 0.2}},
		// W = gradient sums over the positions = (2, -2): 2*3 - 2*1 = 4; 2*1 - 2*2 = -2 -> 0.
		{"cam", camMap, []float32{4, 0}},
		{"eigencam", eigenCAMMap, eigen},
	} {
		got := c.f(acts, grads, 2, 2)
		for p := range got {
			if math.Abs(float64(got[p]-c.want[p])) > 1e-6 {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

// Eigen-CAM's sign is fixed by the map, not by the solver: -A gives A's map;
// more positions than channels takes the other Gram matrix and gives the same
// projection.
func TestEigenCAMSignAndShape(t *testing.T) {
	want := eigenCAMMap([]float32{3, 1, 1, 2}, nil, 2, 2)
	neg := eigenCAMMap([]float32{-3, -1, -1, -2}, nil, 2, 2)
	tall := eigenCAMMap([]float32{3, 1, 1, 2, 0, 0}, nil, 3, 2)
	for p := range want {
		if math.Abs(float64(neg[p]-want[p])) > 1e-6 || math.Abs(float64(tall[p]-want[p])) > 1e-6 {
			t.Fatalf("eigencam: A %v, -A %v, A with a zero row %v", want, neg, tall)
		}
	}
	if tall[2] != 0 {
		t.Errorf("eigencam: a zero row maps to %g", tall[2])
	}
	if z := eigenCAMMap(make([]float32, 6), nil, 3, 2); slices.Max(z) != 0 || slices.Min(z) != 0 {
		t.Errorf("eigencam of zeros = %v", z)
	}
}

func TestOcclusionWindows(t *testing.T) {
	for _, c := range []struct {
		n, patch, stride int
		want             []int
	}{
		{10, 4, 3, []int{0, 3, 6}},             // 6 + 4 = 10: the far edge is reached
		{10, 4, 4, []int{0, 4, 6}},             // 8 + 4 > 10: the last start is added
		{10, 4, 1, []int{0, 1, 2, 3, 4, 5, 6}}, // PAIR's positions
		{10, 10, 5, []int{0}},
	} {
		if got := windowStarts(c.n, c.patch, c.stride); !slices.Equal(got, c.want) {
			t.Errorf("windowStarts(%d, %d, %d) = %v, want %v", c.n, c.patch, c.stride, got, c.want)
		}
	}
	for _, c := range []struct {
		o                   occlusion
		h, w, patch, stride int
	}{
		{occlusion{}, 299, 299, 37, 18},
		{occlusion{}, 128, 96, 12, 6},
		{occlusion{}, 7, 5, 1, 1},
		{occlusion{patch: 15, stride: 1}, 128, 128, 15, 1},
		{occlusion{patch: 16}, 128, 128, 16, 8},
	} {
		patch, stride, err := c.o.occlusionGeometry(c.h, c.w)
		if err != nil || patch != c.patch || stride != c.stride {
			t.Errorf("%+v on %dx%d: patch %d stride %d (%v), want %d %d", c.o, c.w, c.h, patch, stride, err, c.patch, c.stride)
		}
	}
	if _, _, err := (occlusion{patch: 97}).occlusionGeometry(128, 96); err == nil {
		t.Error("a patch wider than the input was accepted")
	}
}

func TestTopK(t *testing.T) {
	logits := []float32{
		0.1, 0.9, 0.5, 0.9, // tie between units 1 and 3: the lower index first
		-3, -1, -2, -4,
	}
	got := TopK(logits, 4, 3)
	want := []int32{1, 3, 2, 5 - 4, 6 - 4, 4 - 4}
	if !slices.Equal(got, want) {
		t.Fatalf("TopK = %v, want %v", got, want)
	}
}

// A parameter error names the parameter as the caller asks.
func TestParamErrorsNameTheParameter(t *testing.T) {
	_, err := New("integrated", Params{Steps: 1, Baseline: "black"})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "steps" {
		t.Fatalf("New(integrated, steps 1): %v, want a ParamError for steps", err)
	}
	if got, want := pe.Named("--steps"), "--steps must be at least 2 (the path's two ends), got 1"; got != want {
		t.Errorf("Named = %q, want %q", got, want)
	}
	if got := err.Error(); got != "steps must be at least 2 (the path's two ends), got 1" {
		t.Errorf("Error = %q", got)
	}
}

// unitGroups: the calls an image's K units go in, and the images per call.
func TestUnitGroups(t *testing.T) {
	for _, c := range []struct {
		shared, k, rows, per int
		want                 []unitGroup
	}{
		// Tiled only (no shared signature): rows bounds image-unit rows.
		{0, 1, 1, 1, []unitGroup{{0, 1, 1}}},
		{0, 1, 4, 4, []unitGroup{{0, 1, 1}}},
		{0, 2, 4, 2, []unitGroup{{0, 2, 2}}},
		{0, 5, 2, 1, []unitGroup{{0, 2, 2}, {2, 4, 2}, {4, 5, 1}}},
		{0, 5, 1, 1, []unitGroup{{0, 1, 1}, {1, 2, 1}, {2, 3, 1}, {3, 4, 1}, {4, 5, 1}}},
		// Shared forward pass for 5: groups of 5, rows counts images.
		{5, 5, 1, 1, []unitGroup{{0, 5, 5}}},
		{5, 5, 4, 4, []unitGroup{{0, 5, 5}}},
		{5, 10, 1, 1, []unitGroup{{0, 5, 5}, {5, 10, 5}}},
		{5, 4, 1, 1, []unitGroup{{0, 4, 5}}},                       // 6 passes padded, 8 tiled
		{5, 3, 1, 1, []unitGroup{{0, 1, 1}, {1, 2, 1}, {2, 3, 1}}}, // 6 either way: tiled
		{5, 7, 1, 1, []unitGroup{{0, 5, 5}, {5, 6, 1}, {6, 7, 1}}},
		{5, 7, 4, 2, []unitGroup{{0, 5, 5}, {5, 7, 2}}},
		{5, 9, 1, 1, []unitGroup{{0, 5, 5}, {5, 9, 5}}},
		{5, 1, 3, 3, []unitGroup{{0, 1, 1}}}, // K = 1 never pads to 5
		{5, 2, 1, 1, []unitGroup{{0, 1, 1}, {1, 2, 1}}},
	} {
		got, per := unitGroups(c.shared, c.k, c.rows)
		if !slices.Equal(got, c.want) || per != c.per {
			t.Errorf("shared %d, K %d, rows %d: %v, %d images per call; want %v, %d", c.shared, c.k, c.rows, got, per, c.want, c.per)
		}
	}
	// A padded group repeats the last unit.
	if got := (unitGroup{0, 4, 5}).units(nil, []int32{3, 1, 4, 1}); !slices.Equal(got, []int32{3, 1, 4, 1, 1}) {
		t.Errorf("padded units %v", got)
	}
	if got := (unitGroup{5, 7, 2}).units([]int32{9}, []int32{0, 1, 2, 3, 4, 5, 6}); !slices.Equal(got, []int32{9, 5, 6}) {
		t.Errorf("appended units %v", got)
	}
}

// SharesForward: the runs that need the shared-forward SavedModel.
func TestSharesForward(t *testing.T) {
	for _, c := range []struct {
		name     string
		k, units int
		want     bool
	}{
		{"gradients", 5, 5, true}, {"smoothgrad", 4, 5, true}, {"integrated", 12, 5, true},
		{"gradients", 3, 5, false}, {"gradients", 1, 5, false}, {"gradcam", 5, 5, false}, {"gradients", 5, 0, false},
	} {
		if got := SharesForward(c.name, c.k, c.units); got != c.want {
			t.Errorf("SharesForward(%s, K %d, %d units) = %v", c.name, c.k, c.units, got)
		}
	}
}

// OwnRole: the runs that load fullgrad's SavedModel of its own, whatever
// wrappers are around the method.
func TestOwnRole(t *testing.T) {
	for name, want := range map[string]string{"fullgrad": "fullgrad", "fullgrad-smooth-tta": "fullgrad",
		"fullgrad-tta": "fullgrad", "gradients": "", "gradcam": "", "integrated-smooth": ""} {
		if got := OwnRole(name); got != want {
			t.Errorf("OwnRole(%s) = %q, want %q", name, got, want)
		}
	}
}

// --tta's spec: flips and scales, 1 first and each once; nothing that adds no
// view, and no scale outside 0.25..4.
func TestParseTTA(t *testing.T) {
	flip, scales, err := parseTTA("flip, 0.5,2,0.5")
	if err != nil || !flip || !slices.Equal(scales, []float64{1, 0.5, 2}) {
		t.Errorf("parseTTA = %v %v %v", flip, scales, err)
	}
	for _, bad := range []string{"1", "zoom", "8", "0.1", "flip,", "-2"} {
		if _, _, err := parseTTA(bad); err == nil {
			t.Errorf("parseTTA(%q) accepted", bad)
		}
	}
}

// The windows of a 10 x 7 input: a zoom in by 2 shows the middle 5 x 3 (sides
// truncated, offsets floored), a zoom out by 0.5 draws the image into the same.
func TestTTAWindows(t *testing.T) {
	for _, s := range []float64{2, 0.5} {
		if got := (view{scale: s}).window(10, 7); got != (window{2, 2, 5, 3}) {
			t.Errorf("scale %g: window %+v", s, got)
		}
	}
	if got := (view{scale: 1}).window(10, 7); got != (window{0, 0, 10, 7}) {
		t.Errorf("scale 1: window %+v", got)
	}
}

// A mirrored view's map is mirrored back before it is added.
func TestTTAFlipsBack(t *testing.T) {
	sum, cov := make([]float64, 6), make([]float64, 6)
	v := view{scale: 1, flip: true}
	v.addBack(sum, cov, []float32{1, 2, 3, 4, 5, 6}, 2, 3, v.window(2, 3))
	if !slices.Equal(sum, []float64{3, 2, 1, 6, 5, 4}) || !slices.Equal(cov, []float64{1, 1, 1, 1, 1, 1}) {
		t.Errorf("sum %v, coverage %v", sum, cov)
	}
}
