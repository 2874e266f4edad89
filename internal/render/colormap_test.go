package render

import (
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/testenv"
)

func mustColormap(t *testing.T, name string) *Colormap {
	t.Helper()
	c, err := ColormapByName(name)
	if err != nil {
		t.Fatalf("ColormapByName(%q): %v", name, err)
	}
	if c.Name() != name {
		t.Fatalf("ColormapByName(%q).Name() = %q", name, c.Name())
	}
	return c
}

// colorAt colorizes the single value v and returns its colour.
func colorAt(c *Colormap, v float32) color.NRGBA {
	return c.Colorize([]float32{v}, 1, 1).NRGBAAt(0, 0)
}

func rgb(r, g, b uint8) color.NRGBA { return color.NRGBA{r, g, b, 0xff} }

// A few entries of matplotlib's tables written out by hand (round(v*255) of
// _cm_listed.py's floats, and _jet_data sampled at i/255), a check that needs no
// Python; TestColormapsMatchMatplotlib below compares all 256 entries.
func TestColormapPublishedValues(t *testing.T) {
	tests := []struct {
		name  string
		index int
		want  color.NRGBA
	}{
		{"gray", 0, rgb(0, 0, 0)},
		{"gray", 128, rgb(128, 128, 128)},
		{"gray", 255, rgb(255, 255, 255)},
		{"viridis", 0, rgb(68, 1, 84)},       // [0.267004, 0.004874, 0.329415]
		{"viridis", 128, rgb(33, 145, 140)},  // [0.127568, 0.566949, 0.550556]
		{"viridis", 255, rgb(253, 231, 37)},  // [0.993248, 0.906157, 0.143936]
		{"inferno", 0, rgb(0, 0, 4)},         // [0.001462, 0.000466, 0.013866]
		{"inferno", 128, rgb(188, 55, 84)},   // [0.735683, 0.215906, 0.330245]
		{"inferno", 255, rgb(252, 255, 164)}, // [0.988362, 0.998364, 0.644924]
		{"jet", 0, rgb(0, 0, 128)},
		{"jet", 128, rgb(125, 255, 122)}, // x = 128/255, between green's plateau ends
		{"jet", 255, rgb(128, 0, 0)},
	}
	for _, tt := range tests {
		c := mustColormap(t, tt.name)
		if got := colorAt(c, float32(tt.index)/255); got != tt.want {
			t.Errorf("%s[%d] = %v, want %v", tt.name, tt.index, got, tt.want)
		}
	}
}

// TestColormapsMatchMatplotlib compares every entry of every colormap with the
// table of the matplotlib that requirements.txt pins, computed by
// tests/reference/colormaps.py into the file SALIENCY_COLORMAP_REFERENCE names
// (`make test` does both). The match must be exact: the reference's bytes are
// matplotlib's floats rounded half up, the rule the tables were generated with.
func TestColormapsMatchMatplotlib(t *testing.T) {
	ref := testenv.ReadColormaps(t)
	t.Logf("reference: matplotlib %s", ref.Matplotlib)
	for _, name := range ColormapNames() {
		want, ok := ref.Colormaps[name]
		if !ok {
			t.Errorf("%s: not in the reference; add it to tests/reference/colormaps.py", name)
			continue
		}
		if len(want.RGB) != 256 || len(want.Float) != 256 {
			t.Errorf("%s: reference has %d bytes and %d float entries, want 256", name, len(want.RGB), len(want.Float))
			continue
		}
		c := mustColormap(t, name)
		bad := 0
		for i, w := range want.RGB {
			// The reference's own bytes must be its floats rounded half up, so a
			// reference written with another rule (truncation, as matplotlib's
			// bytes=True does, or half-to-even) cannot pass unnoticed. The float64
			// conversion stops Go fusing the multiply-add, as numpy does not.
			for ch, f := range want.Float[i] {
				if b := math.Floor(float64(f*255) + 0.5); b != float64(w[ch]) {
					t.Fatalf("%s[%d]: reference byte %d is not round(%v*255) = %v", name, i, w[ch], f, b)
				}
			}
			// The table itself, and the colour Colorize gives the value i/255.
			got, painted := c.table[i], colorAt(c, float32(i)/255)
			if got != w || painted != rgb(w[0], w[1], w[2]) {
				if bad++; bad <= 5 {
					t.Errorf("%s[%d] = %v (Colorize(%d/255) = %v), matplotlib %s has %v (from %v)",
						name, i, got, i, painted, ref.Matplotlib, w, want.Float[i])
				}
			}
		}
		if bad > 5 {
			t.Errorf("%s: %d of 256 entries differ from matplotlib %s", name, bad, ref.Matplotlib)
		}
	}
}

// lightness returns CIE L* (0 black .. 100 white) of an sRGB colour.
func lightness(c [3]uint8) float64 {
	linear := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	y := 0.2126*linear(c[0]) + 0.7152*linear(c[1]) + 0.0722*linear(c[2])
	if y <= 216.0/24389 {
		return y * 24389 / 27
	}
	return 116*math.Cbrt(y) - 16
}

// Perceptually uniform maps must get lighter as saliency grows, or a reader would
// see a peak where there is none. matplotlib's float tables rise at every step;
// rounded to bytes, viridis has two equal neighbours (entries 112/113, 129/130) and
// two dips under 0.04 L* (94/95, 145/146), so for it the check spans two entries.
func TestPerceptualColormapsGetLighter(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stride int
	}{{"inferno", 1}, {"viridis", 2}} {
		c := mustColormap(t, tt.name)
		for i := 0; i+tt.stride < len(c.table); i++ {
			lo, hi := lightness(c.table[i]), lightness(c.table[i+tt.stride])
			if !(hi > lo) {
				t.Errorf("%s: L*[%d] = %.3f, not above L*[%d] = %.3f", tt.name, i+tt.stride, hi, i, lo)
			}
		}
		if span := lightness(c.table[255]) - lightness(c.table[0]); span < 60 {
			t.Errorf("%s: lightness spans only %.1f L*", tt.name, span)
		}
	}
}

func TestColorizeClampsAndZeroesNaN(t *testing.T) {
	c := mustColormap(t, "gray")
	tests := []struct {
		v    float32
		want uint8
	}{
		{-0.5, 0},
		{float32(math.Inf(-1)), 0},
		{float32(math.NaN()), 0},
		{0.5, 128}, // round(127.5) rounds half up
		{1.0 / 255, 1},
		{1.5, 255},
		{float32(math.Inf(1)), 255},
	}
	for _, tt := range tests {
		if got := colorAt(c, tt.v); got != rgb(tt.want, tt.want, tt.want) {
			t.Errorf("Colorize(%v) = %v, want gray %d", tt.v, got, tt.want)
		}
	}
}

func TestColorizeIsRowMajor(t *testing.T) {
	c := mustColormap(t, "gray")
	img := c.Colorize([]float32{0, 0.2, 0.4, 0.6, 0.8, 1}, 3, 2)
	if got := img.Bounds().Size(); got.X != 3 || got.Y != 2 {
		t.Fatalf("size = %v, want 3x2", got)
	}
	if got := img.NRGBAAt(2, 0); got != rgb(102, 102, 102) { // m[2] = 0.4
		t.Errorf("At(2,0) = %v, want m[2]", got)
	}
	if got := img.NRGBAAt(0, 1); got != rgb(153, 153, 153) { // m[3] = 0.6
		t.Errorf("At(0,1) = %v, want m[3]", got)
	}
}

func TestColorizePanicsOnWrongSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Colorize of 5 values as 3x2 did not panic")
		}
	}()
	mustColormap(t, "gray").Colorize(make([]float32, 5), 3, 2)
}

func TestColormapByNameUnknown(t *testing.T) {
	c, err := ColormapByName("hot")
	if err == nil {
		t.Fatalf("ColormapByName(hot) = %v, want an error", c.Name())
	}
	for _, name := range ColormapNames() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

func TestColormapNamesSortedAndComplete(t *testing.T) {
	want := []string{"gray", "inferno", "jet", "viridis"}
	if got := ColormapNames(); !slices.Equal(got, want) {
		t.Errorf("ColormapNames() = %v, want %v", got, want)
	}
}
