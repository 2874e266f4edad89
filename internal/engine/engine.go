// Package engine runs the explain pipeline over a list of image files. Explain
// loads images in batches (imageio), has the method compute its maps through
// the model (method), and normalises and resizes them to each image
// (postproc); Run hands each explanation to a planned set of outputs (output)
// for `saliency explain`. The engine owns batching, the choice of units and
// the per-file error policy: a file that fails is reported and the rest of the
// batch goes on. It sees the model through the Model interface only, so it
// knows nothing of TensorFlow.
package engine

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/saliency-tool/saliency/internal/imageio"
	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// Model is what the engine needs of a loaded model (*backprop.Model has it):
// what the methods call, the names of its units, and what its scores are
// ("logits" or "log_probabilities", manifest.Manifest.OutputKind). A model
// that is also a method.TopModel with a top signature picks and explains each
// image's best units from one forward pass.
type Model interface {
	method.Model
	Labels() []string
	OutputKind() string
}

// Config says what to explain and, for Run, where and how to write it.
type Config struct {
	// TopK explains each image's K highest logits, unless Units or UnitsOf is set.
	TopK int
	// Units, when not empty, are explained for every image instead of the top K.
	Units []int
	// UnitsOf, when set, gives the units to explain for each path (all of the
	// same length), e.g. to explain a second model on the first one's units.
	UnitsOf func(path string) []int
	// Method computes the maps; nil means gradients with the default channel
	// filter and reduction.
	Method method.Method
	// BatchSize is the images read per step and bounds the image-unit rows sent
	// to TensorFlow at once; 0 means AutoBatchSize for the model.
	BatchSize int
	// MaxPixels refuses images whose declared size is larger (0: imageio's default).
	MaxPixels int
	// ClipPercentile, when in (0, 100), clips each map at that percentile before
	// normalising (PAIR saliency's visualisation; off by default).
	ClipPercentile float64
	// Timings, when not nil, adds up the wall time of each stage (--profile).
	Timings *Timings
}

// Explanation is one input explained: its maps at the image's own size, in
// [0, 1], one per unit, before anything is written.
type Explanation struct {
	Path   string
	Image  image.Image // the decoded original, upright
	Units  []int
	Labels []string
	Logits []float32 // the raw logits of Units
	Maps   [][]float32
	// Completeness is the path methods' and FullGrad's check, one per unit; nil otherwise.
	Completeness []method.Completeness
	Err          error
}

// Explain computes explanations of paths in batches and calls fn once per path,
// in order. When ctx is cancelled it finishes the batch in flight and stops,
// leaving the remaining paths unexplained. The next batch's images are decoded
// while TensorFlow works on the current one.
func Explain(ctx context.Context, m Model, paths []string, cfg Config, fn func(Explanation)) {
	size := cfg.rows(m)
	h, w, _ := m.InputSize()
	prefetch := func(start int) <-chan *loaded {
		ch := make(chan *loaded, 1) // never blocks: an abandoned prefetch does not leak
		go func() {
			began := time.Now()
			b := load(paths[start:min(start+size, len(paths))], h, w, cfg.MaxPixels)
			cfg.Timings.since(Decode, began)
			ch <- b
		}()
		return ch
	}
	var next <-chan *loaded
	if len(paths) > 0 {
		next = prefetch(0)
	}
	for start := 0; start < len(paths) && ctx.Err() == nil; start += size {
		waited := time.Now()
		b := <-next
		cfg.Timings.since(WaitDecode, waited)
		if start+size < len(paths) {
			next = prefetch(start + size)
		}
		for _, e := range explainLoaded(m, b, cfg) {
			fn(e)
		}
	}
}

// loaded is one batch of inputs, decoded: out has one entry per path (with Err
// for those that failed), tensor the model-size pixels of the others, in order.
type loaded struct {
	paths   []string
	out     []Explanation
	tensor  []float32
	decoded []int // indices into paths of the images in tensor, in order
}

// load decodes paths and resizes them to the model's input (w x h).
func load(paths []string, h, w, maxPixels int) *loaded {
	b := &loaded{paths: paths, out: make([]Explanation, len(paths))}
	for i, p := range paths {
		b.out[i].Path = p
		img, err := imageio.Load(p, maxPixels)
		if err != nil {
			b.out[i].Err = err
			continue
		}
		b.out[i].Image = img
		b.tensor = append(b.tensor, imageio.ToTensor(img, w, h)...)
		b.decoded = append(b.decoded, i)
	}
	return b
}

// explainLoaded explains a decoded batch with the configured method, sending at
// most BatchSize image-unit rows to TensorFlow per call.
func explainLoaded(m Model, b *loaded, cfg Config) []Explanation {
	out, tensor, decoded, paths := b.out, b.tensor, b.decoded, b.paths
	if len(decoded) == 0 {
		return out
	}
	meth := cfg.Method
	if meth == nil {
		meth, _ = method.New("gradients", method.Params{})
	}
	var units []int32
	var k int
	var res method.Result
	var err error
	computed := time.Now()
	if fused, top := fusedTop(m, meth, cfg); fused != nil {
		units, res, err = fused.ExplainTop(top, tensor, len(decoded), cfg.TopK, cfg.rows(m))
		k = cfg.TopK
	} else {
		units, k, err = chooseUnits(m, tensor, paths, decoded, cfg)
		if err == nil {
			res, err = meth.Explain(m, method.Batch{Images: tensor, N: len(decoded), Units: units, K: k, Rows: cfg.rows(m)})
		}
	}
	if err == nil {
		cfg.Timings.computed(computed, len(decoded)*k)
	}
	defer cfg.Timings.since(Postprocess, time.Now())
	for bi, i := range decoded {
		e := &out[i]
		if err != nil {
			*e = Explanation{Path: e.Path, Err: err}
			continue
		}
		fillMaps(m, e, units[bi*k:(bi+1)*k], res, bi*k, cfg)
	}
	return out
}

// AutoBatchSize is the default rows per TensorFlow call for a model whose
// input is h x w: one row of a 299x299 input (Xception), proportionally more
// for smaller inputs. Measured on 2 cores (README, "Performance"): Xception's
// throughput is within 5% from 1 to 8 rows per call while peak memory grows
// from 0.8 to 2.1 GB; a 128x128 model runs integrated gradients twice as fast
// with 5 rows per call as with 1.
func AutoBatchSize(h, w int) int { return max(1, 299*299/(h*w)) }

func (cfg Config) rows(m Model) int {
	if cfg.BatchSize > 0 {
		return cfg.BatchSize
	}
	h, w, _ := m.InputSize()
	return AutoBatchSize(h, w)
}

// fusedTop returns the method and model as their top variants when each
// image's best units are wanted and both can find and explain them in one
// pass; nil otherwise. A top signature of T units serves K = T, and K below it
// while its 1 + T passes cost less than the top-K pass plus the K units' own
// (K > T/2: for T = 5, K = 3 to 5).
func fusedTop(m Model, meth method.Method, cfg Config) (method.Top, method.TopModel) {
	fused, ok := meth.(method.Top)
	top, hasTop := m.(method.TopModel)
	if !ok || !hasTop || !cfg.autoTop() {
		return nil, nil
	}
	if t := top.TopUnits(); cfg.TopK > t || 2*cfg.TopK <= t {
		return nil, nil
	}
	return fused, top
}

// autoTop tells whether each image's best units are wanted (neither fixed
// units nor units per path), which a top signature finds and explains in one
// forward pass.
func (cfg Config) autoTop() bool {
	return len(cfg.Units) == 0 && cfg.UnitsOf == nil
}

// chooseUnits returns the units to explain for the images in tensor, k per
// image: UnitsOf's, the fixed Units, or each image's top K by logit.
func chooseUnits(m Model, tensor []float32, paths []string, decoded []int, cfg Config) ([]int32, int, error) {
	var units []int32
	switch {
	case cfg.UnitsOf != nil:
		k := -1
		for _, i := range decoded {
			us := cfg.UnitsOf(paths[i])
			if k >= 0 && len(us) != k {
				return nil, 0, fmt.Errorf("UnitsOf gave %d units for %s, %d for others", len(us), paths[i], k)
			}
			k = len(us)
			units = appendUnits(units, us)
		}
		return units, k, nil
	case len(cfg.Units) > 0:
		for range decoded {
			units = appendUnits(units, cfg.Units)
		}
		return units, len(cfg.Units), nil
	}
	logits, err := m.Logits(tensor, len(decoded))
	if err != nil {
		return nil, 0, err
	}
	return method.TopK(logits, len(m.Labels()), cfg.TopK), cfg.TopK, nil
}

func appendUnits(dst []int32, units []int) []int32 {
	for _, u := range units {
		dst = append(dst, int32(u))
	}
	return dst
}

// fillMaps normalises one image's k maps, rows first..first+k-1 of res, and
// resizes them to the image.
func fillMaps(m Model, e *Explanation, units []int32, res method.Result, first int, cfg Config) {
	b := e.Image.Bounds()
	e.Logits = res.Logits[first : first+len(units)]
	if res.Completeness != nil {
		e.Completeness = res.Completeness[first : first+len(units)]
	}
	for j, u := range units {
		e.Units = append(e.Units, int(u))
		e.Labels = append(e.Labels, m.Labels()[u])
		saliency := res.Maps[first+j]
		if cfg.ClipPercentile > 0 && cfg.ClipPercentile < 100 {
			postproc.ClipPercentile(saliency, cfg.ClipPercentile)
		}
		postproc.Normalize(saliency)
		e.Maps = append(e.Maps, postproc.ResizeBilinear(saliency, res.MapH, res.MapW, b.Dy(), b.Dx()))
	}
}
