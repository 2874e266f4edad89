package postproc

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/saliency-tool/saliency/internal/testenv"
)

func TestMeanAbsChannels(t *testing.T) {
	// 1x2 pixels, 3 channels each, signs mixed: the mean is of absolute values.
	grad := []float32{1, -2, 3, -0.5, 0, 0.5}
	got := MeanAbsChannels(grad, 1, 2, 3)
	want := []float32{2, 1.0 / 3}
	assertClose(t, got, want, 1e-7)
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name     string
		in, want []float32
	}{
		{"range", []float32{2, 4, 6}, []float32{0, 0.5, 1}},
		{"negative", []float32{-1, 0, 3}, []float32{0, 0.25, 1}},
		{"constant map gives zeros, not NaN", []float32{7, 7, 7}, []float32{0, 0, 0}},
		{"zero map", []float32{0, 0}, []float32{0, 0}},
		{"single value", []float32{3}, []float32{0}},
		{"empty", []float32{}, []float32{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := append([]float32(nil), c.in...)
			Normalize(m)
			assertClose(t, m, c.want, 1e-7)
		})
	}
}

// Hand-computed with tf.image.resize's half-pixel rule: for 2 -> 4 the source
// coordinates are -0.25, 0.25, 0.75, 1.25, clamped at the borders.
func TestResizeBilinearUpscaleByHand(t *testing.T) {
	src := []float32{
		0, 4,
		8, 12,
	}
	got := ResizeBilinear(src, 2, 2, 4, 4)
	want := []float32{
		0, 1, 3, 4,
		2, 3, 5, 6,
		6, 7, 9, 10,
		8, 9, 11, 12,
	}
	assertClose(t, got, want, 1e-6)
}

// For 4 -> 2 the source coordinates are 0.5 and 2.5: each output averages two
// neighbours (no antialiasing over the wider footprint, as in TensorFlow).
func TestResizeBilinearDownscaleByHand(t *testing.T) {
	got := ResizeBilinear([]float32{0, 1, 2, 3}, 1, 4, 1, 2)
	assertClose(t, got, []float32{0.5, 2.5}, 1e-6)
}

func TestResizeBilinearSameSizeCopies(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6}
	got := ResizeBilinear(src, 2, 3, 2, 3)
	assertClose(t, got, src, 0)
	got[0] = 99
	if src[0] != 1 {
		t.Fatal("ResizeBilinear returned its input instead of a copy")
	}
}

// The resize keeps normalised maps in [0, 1]: a convex combination of samples.
func TestResizeBilinearStaysInRange(t *testing.T) {
	src := make([]float32, 7*5)
	for i := range src {
		src[i] = float32(i%3) / 2
	}
	for _, size := range [][2]int{{3, 2}, {13, 11}, {1, 1}, {100, 3}} {
		for _, v := range ResizeBilinear(src, 7, 5, size[0], size[1]) {
			if v < 0 || v > 1 {
				t.Fatalf("resize to %v gave %v", size, v)
			}
		}
	}
}

// TestResizeBilinearMatchesTensorFlow compares with tf.image.resize itself, on
// cases that tests/reference/resize.py computes with Python TensorFlow and writes
// to the file named by SALIENCY_RESIZE_REFERENCE (`make test` does both).
func TestResizeBilinearMatchesTensorFlow(t *testing.T) {
	path := os.Getenv(testenv.ResizeReference) // skipped, not failed: postproc is tested without Python too
	if path == "" {
		t.Skip("SALIENCY_RESIZE_REFERENCE not set; `make test` computes it with Python TensorFlow")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		SrcH, SrcW, DstH, DstW int
		Src, Want              []float32
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("reference file has no cases")
	}
	for _, c := range cases {
		got := ResizeBilinear(c.Src, c.SrcH, c.SrcW, c.DstH, c.DstW)
		assertClose(t, got, c.Want, 1e-5)
	}
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("value %d: got %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func BenchmarkMapFromGradient(b *testing.B) {
	grad := make([]float32, 299*299*3)
	for i := range grad {
		grad[i] = float32(i%17) - 8
	}
	for b.Loop() {
		m := MeanAbsChannels(grad, 299, 299, 3)
		Normalize(m)
		ResizeBilinear(m, 299, 299, 480, 640)
	}
}

// numpy.percentile([0, 1, ..., 9], 90) = 8.1 and of [5, 1, 3], 50 = 3.
func TestPercentileMatchesNumpyDefault(t *testing.T) {
	ten := []float32{9, 0, 8, 1, 7, 2, 6, 3, 5, 4}
	if got := Percentile(ten, 90); math.Abs(float64(got)-8.1) > 1e-5 {
		t.Fatalf("90th percentile = %v, want 8.1", got)
	}
	if got := Percentile([]float32{5, 1, 3}, 50); got != 3 {
		t.Fatalf("median = %v, want 3", got)
	}
	if got := Percentile(ten, 100); got != 9 {
		t.Fatalf("100th percentile = %v, want 9", got)
	}
}

// One hot pixel no longer flattens the rest of the map once clipped.
func TestClipPercentileThenNormalize(t *testing.T) {
	m := make([]float32, 1000) // the 99th percentile of this map is 9
	for i := range m {
		m[i] = float32(i % 10)
	}
	m[42] = 1000
	ClipPercentile(m, 99)
	Normalize(m)
	if m[9] < 0.9 {
		t.Fatalf("after clipping, the second-hottest value is %v of the maximum", m[9])
	}
	if m[42] != 1 {
		t.Fatalf("the hot pixel became %v, want 1", m[42])
	}
}

func TestChannelsFiltersAndReductions(t *testing.T) {
	// Two pixels, three channels.
	attr := []float32{-3, 1, 2, 0.5, -0.5, 0}
	cases := []struct {
		ch   Channels
		want []float32
	}{
		{Channels{}, []float32{2, 1.0 / 3}},
		{Channels{Filter: Positive}, []float32{1, 0.5 / 3}},
		{Channels{Filter: Negative}, []float32{1, 0.5 / 3}},
		{Channels{Filter: Absolute, Reduce: Max}, []float32{3, 0.5}},
		{Channels{Filter: Positive, Reduce: Max}, []float32{2, 0.5}},
		{Channels{Filter: Negative, Reduce: Max}, []float32{3, 0.5}},
	}
	for _, c := range cases {
		got := c.ch.Apply(attr, 1, 2, 3)
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("%v/%v: got %v, want %v", c.ch.Filter, c.ch.Reduce, got, c.want)
				break
			}
		}
	}
	if got := (Channels{}).Apply(attr, 1, 2, 3); got[0] != MeanAbsChannels(attr, 1, 2, 3)[0] {
		t.Errorf("default Channels %v differs from MeanAbsChannels", got)
	}
	for _, bad := range []string{"abs", "", "Positive"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%q) accepted", bad)
		}
	}
	if r, err := ParseReduce("max"); err != nil || r != Max {
		t.Errorf("ParseReduce(max) = %v, %v", r, err)
	}
}
