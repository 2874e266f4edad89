// Package engine runs the explain pipeline over a list of image files. Explain
// loads images in batches, asks the model for logits and input gradients
// (backprop) and turns gradients into maps at each image's size (postproc); Run
// adds the output side for `saliency explain`: it plans the output names, then
// writes heatmaps, overlays and raw arrays (imageio, render). The engine owns
// batching and the per-file error policy: a file that fails is reported and the
// rest of the batch goes on.
package engine

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"strings"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/imageio"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// Config says what to explain and, for Run, where and how to write it.
type Config struct {
	// TopK explains each image's K highest logits, unless Units or UnitsOf is set.
	TopK int
	// Units, when not empty, are explained for every image instead of the top K.
	Units []int
	// UnitsOf, when set, gives the units to explain for each path (all of the
	// same length), e.g. to explain a second model on the first one's units.
	UnitsOf func(path string) []int
	// BatchSize bounds the image-unit pairs sent to TensorFlow at once.
	BatchSize int
	// MaxPixels refuses images whose declared size is larger (0: imageio's default).
	MaxPixels int
	// ClipPercentile, when in (0, 100), clips each map at that percentile before
	// normalising (PAIR saliency's visualisation; off by default).
	ClipPercentile float64

	Output // Run only
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
	Err    error
}

// Explain computes explanations of paths in batches and calls fn once per path,
// in order. When ctx is cancelled it finishes the batch in flight and stops,
// leaving the remaining paths unexplained.
func Explain(ctx context.Context, m *backprop.Model, paths []string, cfg Config, fn func(Explanation)) {
	batch := max(cfg.BatchSize, 1)
	for start := 0; start < len(paths) && ctx.Err() == nil; start += batch {
		end := min(start+batch, len(paths))
		for _, e := range explainBatch(m, paths[start:end], cfg) {
			fn(e)
		}
	}
}

// explainBatch explains up to BatchSize images with one logits call and as few
// gradient calls as keep BatchSize image-unit pairs per call.
func explainBatch(m *backprop.Model, paths []string, cfg Config) []Explanation {
	out := make([]Explanation, len(paths))
	h, w, c := m.InputSize()
	pixels := h * w * c
	tensor := make([]float32, 0, len(paths)*pixels)
	var ok []int // indices into paths of the images in tensor
	for i, p := range paths {
		out[i].Path = p
		img, err := imageio.Load(p, cfg.MaxPixels)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Image = img
		tensor = append(tensor, imageio.ToTensor(img, w, h)...)
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return out
	}
	units, k, err := chooseUnits(m, tensor, paths, ok, cfg)
	if err != nil {
		for _, i := range ok {
			out[i] = Explanation{Path: paths[i], Err: err}
		}
		return out
	}
	per := max(cfg.BatchSize/k, 1)
	for lo := 0; lo < len(ok); lo += per {
		hi := min(lo+per, len(ok))
		logits, grads, err := m.Gradients(tensor[lo*pixels:hi*pixels], hi-lo, units[lo*k:hi*k], k)
		for bi := lo; bi < hi; bi++ {
			e := &out[ok[bi]]
			if err != nil {
				*e = Explanation{Path: e.Path, Err: err}
				continue
			}
			off := bi - lo
			fillMaps(m, e, units[bi*k:(bi+1)*k], logits[off*k:(off+1)*k], grads[off*k*pixels:(off+1)*k*pixels], cfg)
		}
	}
	return out
}

// chooseUnits returns the units to explain for the images in tensor, k per
// image: UnitsOf's, the fixed Units, or each image's top K by logit.
func chooseUnits(m *backprop.Model, tensor []float32, paths []string, ok []int, cfg Config) ([]int32, int, error) {
	var units []int32
	switch {
	case cfg.UnitsOf != nil:
		k := -1
		for _, i := range ok {
			us := cfg.UnitsOf(paths[i])
			if k >= 0 && len(us) != k {
				return nil, 0, fmt.Errorf("UnitsOf gave %d units for %s, %d for others", len(us), paths[i], k)
			}
			k = len(us)
			units = appendUnits(units, us)
		}
		return units, k, nil
	case len(cfg.Units) > 0:
		for range ok {
			units = appendUnits(units, cfg.Units)
		}
		return units, len(cfg.Units), nil
	}
	logits, err := m.Logits(tensor, len(ok))
	if err != nil {
		return nil, 0, err
	}
	return backprop.TopK(logits, m.NumClasses(), cfg.TopK), cfg.TopK, nil
}

func appendUnits(dst []int32, units []int) []int32 {
	for _, u := range units {
		dst = append(dst, int32(u))
	}
	return dst
}

// fillMaps post-processes one image's k gradients into maps at the image's size.
func fillMaps(m *backprop.Model, e *Explanation, units []int32, logits, grads []float32, cfg Config) {
	h, w, c := m.InputSize()
	b := e.Image.Bounds()
	e.Logits = logits
	for j, u := range units {
		e.Units = append(e.Units, int(u))
		e.Labels = append(e.Labels, m.Manifest.Labels[u])
		saliency := postproc.MeanAbsChannels(grads[j*h*w*c:(j+1)*h*w*c], h, w, c)
		if cfg.ClipPercentile > 0 && cfg.ClipPercentile < 100 {
			postproc.ClipPercentile(saliency, cfg.ClipPercentile)
		}
		postproc.Normalize(saliency)
		e.Maps = append(e.Maps, postproc.ResizeBilinear(saliency, h, w, b.Dy(), b.Dx()))
	}
}

// job is one input of Run with the output stem planned for it.
type job struct {
	path string
	stem string // output path without the ".saliency..." suffix
	err  error  // set when the job is refused before any work
}

// plan drops repeated inputs and assigns output stems; an input whose stem another
// input already claimed (a.jpg and a.png in one folder) is refused rather than
// allowed to overwrite the other's maps.
func plan(inputs []string, outDir string) []job {
	seen := map[string]bool{}
	claimed := map[string]string{}
	var jobs []job
	for _, in := range inputs {
		key := absClean(in)
		if seen[key] {
			continue
		}
		seen[key] = true
		dir := filepath.Dir(in)
		if outDir != "" {
			dir = outDir
		}
		base := filepath.Base(in)
		stem := filepath.Join(dir, strings.TrimSuffix(base, filepath.Ext(base)))
		var err error
		if other, ok := claimed[absClean(stem)]; ok {
			err = fmt.Errorf("its outputs would overwrite those of %s (same name); explain them in separate calls or with --out-dir", other)
		} else {
			claimed[absClean(stem)] = in
		}
		jobs = append(jobs, job{path: in, stem: stem, err: err})
	}
	return jobs
}

func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
