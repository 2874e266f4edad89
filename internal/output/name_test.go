package output

import (
	"testing"

	"github.com/saliency-tool/saliency/internal/method"
)

// Every name String makes, Parse reads back: for every method the registry
// knows, both kinds, with and without a unit, PNG and NumPy.
func TestParseReadsEveryNameStringMakes(t *testing.T) {
	for _, m := range append(method.Names(), "") {
		for _, kind := range []string{Heatmap, Overlay} {
			for _, n := range []Name{
				{Stem: "photo", Kind: kind, Method: m, Ext: ".png"},
				{Stem: "photo", Kind: kind, Method: m, Unit: 417, HasUnit: true, Ext: ".png"},
				{Stem: "a.b", Kind: kind, Method: m, Unit: 0, HasUnit: true, Ext: ".png"},
				{Stem: "x.saliency", Kind: kind, Method: m, Ext: ".npy"},
			} {
				got, ok := Parse(n.String())
				if !ok || got != n {
					t.Errorf("Parse(%q) = %+v, %v; want %+v", n.String(), got, ok, n)
				}
			}
		}
	}
}

// The names the README lists, and names that only look like them.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		file string
		want Name
		ok   bool
	}{
		{"cat.saliency.png", Name{Stem: "cat", Kind: Heatmap, Ext: ".png"}, true},
		{"cat.saliency.281.png", Name{Stem: "cat", Kind: Heatmap, Unit: 281, HasUnit: true, Ext: ".png"}, true},
		{"cat.overlay.gradcam.png", Name{Stem: "cat", Kind: Overlay, Method: "gradcam", Ext: ".png"}, true},
		{"cat.saliency.integrated.3.png", Name{Stem: "cat", Kind: Heatmap, Method: "integrated", Unit: 3, HasUnit: true, Ext: ".png"}, true},
		{"cat.saliency.npy", Name{Stem: "cat", Kind: Heatmap, Ext: ".npy"}, true},
		{"cat.png", Name{}, false},
		{"cat.saliency.v2.png", Name{}, false},        // neither a method nor a unit
		{"cat.saliency.gradcam.x.png", Name{}, false}, // a method, then no unit
		{"cat.saliency.3.4.png", Name{}, false},
		{"saliency.png", Name{}, false},
		{"cat.salience.png", Name{}, false},
	} {
		got, ok := Parse(c.file)
		if ok != c.ok || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", c.file, got, ok, c.want, c.ok)
		}
	}
}

// Gradients, the default method, leaves its name out of its outputs' names;
// every other method puts its name in.
func TestMethodTag(t *testing.T) {
	for _, m := range method.Names() {
		s := &Set{opts: Options{Method: m}}
		got := s.image("p", Heatmap, 5, 2)
		want := "p.saliency." + m + ".5.png"
		if m == "gradients" {
			want = "p.saliency.5.png"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", m, got, want)
		}
	}
}
