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
	got := camMap(acts, grads, 2, 2)
	want := []float32{2, 0} // relu(3-1) = 2, relu(1-2) = 0
	if !slices.Equal(got, want) {
		t.Fatalf("camMap = %v, want %v", got, want)
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
