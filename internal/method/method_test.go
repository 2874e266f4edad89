package method_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/imageio"
	. "github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/postproc"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// The methods against each other and against their definitions' properties on
// the real exported models; tests/test_methods.py checks them against Python
// references.

var (
	loadOnce sync.Once
	models   = map[string]*backprop.Model{}
	loadErr  error
)

// model loads the random-weight Xception ("xception") or the trained demo
// model ("fashion") that `make test` exports.
func model(t *testing.T, name string) *backprop.Model {
	t.Helper()
	loadOnce.Do(func() {
		for n, env := range map[string]string{"xception": testenv.Model, "fashion": testenv.Fashion} {
			dir := os.Getenv(env)
			if dir == "" {
				continue
			}
			m, err := backprop.Load(dir, backprop.Options{})
			if err != nil {
				loadErr = err
				return
			}
			models[n] = m
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	m := models[name]
	if m == nil {
		t.Fatalf("model %s not set: run the tests with `make test`", name)
	}
	return m
}

// smoothImages returns n deterministic, smooth, distinct images of m's size.
func smoothImages(m Model, n int) []float32 {
	h, w, c := m.InputSize()
	out := make([]float32, 0, n*h*w*c)
	for i := range n {
		for y := range h {
			for x := range w {
				for ch := range c {
					out = append(out, float32(127.5+120*math.Sin(float64(x*(ch+1)+y*(i+2))/37+float64(i))))
				}
			}
		}
	}
	return out
}

func batch(m *backprop.Model, n int, units ...int32) Batch {
	k := len(units)
	all := make([]int32, 0, n*k)
	for range n {
		all = append(all, units...)
	}
	return Batch{Images: smoothImages(m, n), N: n, Units: all, K: k, Rows: 4}
}

func explain(t *testing.T, name string, p Params, m *backprop.Model, b Batch) Result {
	t.Helper()
	meth, err := New(name, p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := meth.Explain(m, b)
	if err != nil {
		t.Fatal(err)
	}
	h, w, _ := m.InputSize()
	if len(res.Maps) != b.N*b.K || len(res.Logits) != b.N*b.K {
		t.Fatalf("%s: %d maps, %d logits for %d rows", name, len(res.Maps), len(res.Logits), b.N*b.K)
	}
	for _, mp := range res.Maps {
		if len(mp) != res.MapH*res.MapW {
			t.Fatalf("%s: map of %d values, want %dx%d", name, len(mp), res.MapW, res.MapH)
		}
	}
	if PixelWise(name) && (res.MapH != h || res.MapW != w) {
		t.Fatalf("%s: maps %dx%d, want the input size %dx%d", name, res.MapW, res.MapH, w, h)
	}
	return res
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func normalized(m []float32) []float32 {
	c := slices.Clone(m)
	postproc.Normalize(c)
	return c
}

// Every method gives the same logits for the same rows, whatever the number of
// rows per TensorFlow call.
func TestMethodsAgreeOnLogitsAndDoNotDependOnRows(t *testing.T) {
	m := model(t, "fashion")
	b := batch(m, 3, 0, 7)
	p := DefaultParams()
	p.Samples, p.Steps = 3, 4
	ref := explain(t, "gradients", p, m, b)
	for _, name := range Names() {
		r1 := explain(t, name, p, m, b)
		b1 := b
		b1.Rows = 1
		r2 := explain(t, name, p, m, b1)
		for row := range ref.Logits {
			if d := math.Abs(float64(r1.Logits[row] - ref.Logits[row])); d > 1e-4*math.Abs(float64(ref.Logits[row]))+1e-6 {
				t.Errorf("%s row %d: logit %g, gradients says %g", name, row, r1.Logits[row], ref.Logits[row])
			}
			if d := maxAbsDiff(normalized(r1.Maps[row]), normalized(r2.Maps[row])); !pathChaotic(name) && d > graphTolerance {
				t.Errorf("%s row %d: maps differ by %.2e between 4 and 1 rows per call", name, row, d)
			}
		}
	}
}

// graphTolerance is how far a method's normalised maps may move between two
// float32 computations of the same gradients (another batch size, the
// shared-forward graph): the methods whose maps are sums of gradients.
//
// Guided IG is not held to it, nor to any bound: every step it moves the
// features whose |gradient| is at most the 25% quantile, so a feature an ulp
// from that threshold in one computation and past it in the other follows
// another path from then on. CI measured 2.7e-5 on one map of 2 x 4 units
// (stop 23's trained model), a fresh clone's model 0.168 (2026-11-28), as far
// as another unit's map. Its logits are still compared; it reaches the
// gradients through the same calls as integrated gradients and Blur IG.
const graphTolerance = 1e-5

// pathChaotic says whether a method's map may part between two float32
// computations of the same gradients (graphTolerance).
func pathChaotic(name string) bool { return name == "guidedig" }

// K units of an image explained together with the shared-forward SavedModel
// (its signature for five units from one forward pass, padded for four, tiled
// for the rest) give each unit's map as explaining it alone with the main
// SavedModel does, for every method built on gradients.
func TestUnitsTogetherEqualUnitsAlone(t *testing.T) {
	m := model(t, "fashion")
	shared, err := backprop.Open(m.Manifest, backprop.Options{SharedForward: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	if shared.SharedUnits() != 5 {
		t.Fatalf("fashion export without the five-unit signature (SharedUnits %d)", shared.SharedUnits())
	}
	p := DefaultParams()
	p.Samples, p.Steps = 3, 4
	for _, units := range [][]int32{{0, 7, 3, 9, 5}, {2, 8, 1, 6}, {4, 0, 9, 1, 2, 7, 3}} {
		for _, name := range Names() {
			if !PixelWise(name) {
				continue
			}
			b := batch(m, 2, units...)
			b.Rows = 1
			if !SharesForward(name, len(units), 5) {
				t.Fatalf("%s with %d units does not use the five-unit signature", name, len(units))
			}
			together := explain(t, name, p, shared, b)
			for j, u := range units {
				alone := explain(t, name, p, m, batch(m, 2, u))
				for i := range 2 {
					row := i*len(units) + j
					if d := math.Abs(float64(together.Logits[row] - alone.Logits[i])); d > 1e-4*math.Abs(float64(alone.Logits[i]))+1e-6 {
						t.Errorf("%s K=%d unit %d image %d: logit %g together, %g alone", name, len(units), u, i, together.Logits[row], alone.Logits[i])
					}
					if d := maxAbsDiff(normalized(together.Maps[row]), normalized(alone.Maps[i])); !pathChaotic(name) && d > graphTolerance {
						t.Errorf("%s K=%d unit %d image %d: maps differ by %.2e", name, len(units), u, i, d)
					}
				}
			}
		}
	}
}

// SmoothGrad with no noise is the gradient; gradient x input is the gradient
// scaled by the input (checked on the positive filter's maps of a constant image).
func TestSmoothGradWithoutNoiseIsGradients(t *testing.T) {
	m := model(t, "fashion")
	b := batch(m, 2, 3)
	p := DefaultParams()
	p.Samples, p.Noise = 2, 0
	g := explain(t, "gradients", p, m, b)
	s := explain(t, "smoothgrad", p, m, b)
	for row := range g.Maps {
		if d := maxAbsDiff(normalized(g.Maps[row]), normalized(s.Maps[row])); d > 1e-5 {
			t.Errorf("row %d: smoothgrad without noise differs from gradients by %.2e", row, d)
		}
	}
	// Noise changes the map, and the seed decides how.
	p.Noise = 0.3
	s1 := explain(t, "smoothgrad", p, m, b)
	s2 := explain(t, "smoothgrad", p, m, b)
	p.Seed = 9
	s3 := explain(t, "smoothgrad", p, m, b)
	if d := maxAbsDiff(s1.Maps[0], s2.Maps[0]); d != 0 {
		t.Errorf("same seed, maps differ by %.2e", d)
	}
	if maxAbsDiff(normalized(s1.Maps[0]), normalized(s3.Maps[0])) < 1e-3 || maxAbsDiff(normalized(s1.Maps[0]), normalized(g.Maps[0])) < 1e-3 {
		t.Error("noise or seed did not change the map")
	}
}

// heldOut loads n held-out composites (SALIENCY_TEST_COMPOSITES) at m's input
// size: real inputs of the trained model, on which its top unit is confident.
func heldOut(t *testing.T, m Model, n int) []float32 {
	t.Helper()
	dir := testenv.Path(t, testenv.Composites)
	h, w, _ := m.InputSize()
	var out []float32
	for i := range n {
		img, err := imageio.Load(filepath.Join(dir, fmt.Sprintf("%06d.png", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, imageio.ToTensor(img, w, h)...)
	}
	return out
}

// Integrated gradients add up to logit(input) - logit(baseline) (completeness)
// in the limit of many steps; the trapezoidal sum converges to it. How fast
// depends on how much the trained model's path bends, which changes with every
// training run (TensorFlow 2.21 training is not reproducible): over 32 held-out
// composites one run's worst black-baseline gap was 3.3% at 64 steps and 0.26%
// at 256, and CI's model reached 4.9% at 64 on one image. So the test does not
// pin a gap at the default 64 steps; it checks, for the top unit of 4 held-out
// composites and each baseline:
//   - at 256 steps every gap is under 5%, the bound Sundararajan et al. (2017,
//     section 6) give for 20 to 300 steps, and the mean gap is under 1%;
//   - the mean gap shrinks from 32 to 256 steps (a wrong path or scaling
//     converges to a wrong total and stops shrinking), unless already < 1e-3.
//
// Every comparison is written so that NaN fails it.
func TestIntegratedGradientsCompleteness(t *testing.T) {
	m := model(t, "fashion")
	const n = 4
	images := heldOut(t, m, n)
	logits, err := m.Logits(images, n)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Images: images, N: n, Units: TopK(logits, m.NumClasses(), 1), K: 1, Rows: 64}
	for _, base := range Baselines {
		coarse := completenessGaps(t, m, b, base, 32)
		fine := completenessGaps(t, m, b, base, 256)
		for row, gap := range fine {
			if !(gap < 0.05) {
				t.Errorf("%s row %d: completeness gap %.2e at 256 steps, want < 5%%", base, row, gap)
			}
		}
		meanCoarse, meanFine := meanOf(coarse), meanOf(fine)
		t.Logf("%s: mean gap %.2e at 32 steps, %.2e at 256", base, meanCoarse, meanFine)
		if !(meanFine < 0.01) {
			t.Errorf("%s: mean completeness gap %.2e at 256 steps, want < 1%%", base, meanFine)
		}
		if !(meanFine < meanCoarse || meanFine < 1e-3) {
			t.Errorf("%s: mean gap did not shrink from 32 steps (%.2e) to 256 (%.2e)", base, meanCoarse, meanFine)
		}
	}
}

// completenessGaps runs integrated gradients from base with the given steps and
// returns each row's completeness gap, after checking that its two sides are
// finite numbers.
func completenessGaps(t *testing.T, m *backprop.Model, b Batch, base string, steps int) []float64 {
	t.Helper()
	p := DefaultParams()
	p.Baseline, p.Steps = base, steps
	res := explain(t, "integrated", p, m, b)
	gaps := make([]float64, len(res.Completeness))
	for row, c := range res.Completeness {
		t.Logf("%s, %d steps, row %d: sum %.5g, delta %.5g, gap %.2e", base, steps, row, c.Sum, c.Delta, c.Gap)
		if math.IsNaN(c.Sum) || math.IsInf(c.Sum, 0) || math.IsNaN(c.Delta) || math.IsInf(c.Delta, 0) {
			t.Errorf("%s row %d: sum %v, delta %v are not finite", base, row, c.Sum, c.Delta)
		}
		gaps[row] = c.Gap
	}
	return gaps
}

func meanOf(xs []float64) float64 {
	total := 0.0
	for _, x := range xs {
		total += x
	}
	return total / float64(len(xs))
}

// The class activation maps are at the last block's size and non-negative;
// the trained model's maps of its top units are not constant. (A random
// model's weighted sum can be negative everywhere, which the ReLU turns into a
// zero map.) Eigen-CAM ignores the unit: an image's two units share its map.
func TestClassActivationMaps(t *testing.T) {
	for _, name := range []string{"xception", "fashion"} {
		m := model(t, name)
		if !m.HasGradCAM() {
			t.Fatalf("%s has no gradcam signature", name)
		}
		b := batch(m, 2, 0, 1)
		if name == "fashion" {
			b.Images = heldOut(t, m, 2)
			logits, err := m.Logits(b.Images, 2)
			if err != nil {
				t.Fatal(err)
			}
			b.Units = TopK(logits, m.NumClasses(), 2)
		}
		for _, meth := range Names() {
			if Role(meth) != "gradcam" {
				continue
			}
			// Score-CAM on its 16 most varying channels: all 2048 of Xception's
			// would take 4096 forward passes here.
			res := explain(t, meth, Params{MaxChannels: 16}, m, b)
			h, _, _ := m.InputSize()
			if res.MapH >= h/8 || res.MapH < 2 {
				t.Errorf("%s %s: map %dx%d for a %d-pixel input", name, meth, res.MapW, res.MapH, h)
			}
			for row, mp := range res.Maps {
				if slices.Min(mp) < 0 || (name == "fashion" && slices.Max(mp) == slices.Min(mp)) {
					t.Errorf("%s %s row %d: map in [%g, %g]", name, meth, row, slices.Min(mp), slices.Max(mp))
				}
			}
			if meth == "eigencam" && !slices.Equal(res.Maps[0], res.Maps[1]) {
				t.Errorf("%s eigencam: units 0 and 1 of an image have different maps", name)
			}
		}
	}
}

func TestNewRefusesBadParameters(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Params
	}{
		{"smoothgrad", Params{Samples: 0}},
		{"smoothgrad", Params{Samples: 2, Noise: -1}},
		{"integrated", Params{Steps: 1, Baseline: "black"}},
		{"integrated", Params{Steps: 8, Baseline: "grey"}},
		{"lime", DefaultParams()},
	} {
		if _, err := New(c.name, c.p); err == nil {
			t.Errorf("New(%s, %+v) accepted", c.name, c.p)
		}
	}
}

// Both test models end in a dense layer over the global average of a ReLU
// block, so d logit / d A_c(p) = W_cu / positions at every p: Grad-CAM,
// HiResCAM and XGrad-CAM are then the same map (the ReLU of CAM, which is
// positions times it), computed four different ways; LayerCAM, Grad-CAM++ and
// Eigen-CAM are not.
func TestCAMsCoincideOnPooledLinearHeads(t *testing.T) {
	for _, name := range []string{"xception", "fashion"} {
		m := model(t, name)
		b := batch(m, 2, 0, 1)
		if name == "fashion" {
			b.Images = heldOut(t, m, 2)
		}
		want := explain(t, "gradcam", Params{}, m, b)
		for _, meth := range []string{"hirescam", "xgradcam", "cam"} {
			got := explain(t, meth, Params{}, m, b)
			for row := range want.Maps {
				// CAM's weights are the Dense kernel's column, Grad-CAM's that over
				// the number of positions: the same map, that many times larger.
				factor := float32(1)
				if meth == "cam" {
					factor = float32(got.MapH * got.MapW)
				}
				scale := float64(slices.Max(want.Maps[row]))
				for p, v := range got.Maps[row] {
					if d := math.Abs(float64(v/factor - want.Maps[row][p])); d > 1e-5*scale {
						t.Fatalf("%s %s row %d position %d: %g, gradcam %g", name, meth, row, p, v, want.Maps[row][p])
					}
				}
			}
		}
	}
}

// A patch as large as the input hides all of it: every pixel's drop is the
// logit of the image minus the logit of an image of the fill value, which the
// logits signature gives directly; with a patch of half the input and a
// stride of half that, the map is not flat.
func TestOcclusionOfTheWholeImage(t *testing.T) {
	m := model(t, "fashion")
	h, w, c := m.InputSize()
	b := batch(m, 2, 0, 1)
	b.Images = heldOut(t, m, 2)
	res := explain(t, "occlusion", Params{Patch: min(h, w), Fill: 127}, m, b)
	filled := make([]float32, h*w*c)
	for p := range filled {
		filled[p] = 127
	}
	clean, err := m.Logits(b.Images, 2)
	if err != nil {
		t.Fatal(err)
	}
	gray, err := m.Logits(filled, 1)
	if err != nil {
		t.Fatal(err)
	}
	classes := m.NumClasses()
	for row, mp := range res.Maps {
		i, u := row/b.K, b.Units[row]
		want := clean[i*classes+int(u)] - gray[u]
		if res.Logits[row] != clean[i*classes+int(u)] {
			t.Errorf("row %d: logit %g, want %g", row, res.Logits[row], clean[i*classes+int(u)])
		}
		if slices.Min(mp) != slices.Max(mp) || math.Abs(float64(mp[0]-want)) > 1e-5*max(1, math.Abs(float64(want))) {
			t.Errorf("row %d: map in [%g, %g], want %g everywhere", row, slices.Min(mp), slices.Max(mp), want)
		}
	}
	res = explain(t, "occlusion", Params{Patch: h / 2, Stride: h / 4}, m, b)
	if res.MapH != h || res.MapW != w {
		t.Fatalf("occlusion map %dx%d, want the input's %dx%d", res.MapW, res.MapH, w, h)
	}
	for row, mp := range res.Maps {
		if slices.Max(mp) == slices.Min(mp) {
			t.Errorf("row %d: a flat map, %g", row, slices.Min(mp))
		}
	}
}

// --smooth wraps any method: one copy without noise is the method itself, and
// the variance of copies without noise is zero; the names say what was wrapped.
func TestSmoothWrapsAnyMethod(t *testing.T) {
	m := model(t, "fashion")
	b := batch(m, 2, 3, 5)
	b.Images = heldOut(t, m, 2)
	for _, name := range []string{"gradients", "gradcam", "integrated"} {
		p := DefaultParams()
		p.Steps = 4
		plain := explain(t, name, p, m, b)
		p.Smooth, p.Noise = 1, 0
		meth, err := New(name, p)
		if err != nil {
			t.Fatal(err)
		}
		if meth.Name() != name+"-smooth" || Base(meth.Name()) != name || !Known(meth.Name()) || Role(meth.Name()) != Role(name) {
			t.Errorf("%s: wrapped name %q, base %q", name, meth.Name(), Base(meth.Name()))
		}
		one := explain(t, name, p, m, b)
		for row := range plain.Maps {
			// The logits come from the logits signature, the plain method's from
			// its own: equal to float32 rounding of two graphs.
			dl := math.Abs(float64(one.Logits[row] - plain.Logits[row]))
			if d := maxAbsDiff(one.Maps[row], plain.Maps[row]); d > 1e-6*float64(slices.Max(plain.Maps[row])) || dl > 1e-5*math.Abs(float64(plain.Logits[row])) {
				t.Errorf("%s row %d: --smooth 1 --noise 0 differs by %g (logit %g vs %g)", name, row, d, one.Logits[row], plain.Logits[row])
			}
		}
		p.Smooth, p.VarGrad = 3, true
		zero := explain(t, name, p, m, b)
		for row, mp := range zero.Maps {
			if float64(slices.Max(mp)) > 1e-6*float64(slices.Max(plain.Maps[row])) {
				t.Errorf("%s row %d: variance without noise up to %g", name, row, slices.Max(mp))
			}
		}
	}
	for _, p := range []Params{{Smooth: 1, VarGrad: true}, {Smooth: -1}, {Smooth: 2, Noise: -0.1}} {
		if _, err := New("gradcam", p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
