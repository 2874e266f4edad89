// Package engine runs the explain pipeline over a list of image files: it plans
// the output names, loads images in batches, asks the model for logits and input
// gradients (backprop), turns gradients into maps (postproc) and writes them
// (imageio). It owns batching and the per-file error policy: a file that fails is
// reported and the rest of the batch goes on.
package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/imageio"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// Config says what to explain and where to write it.
type Config struct {
	// TopK explains each image's K highest logits, unless Units is set.
	TopK int
	// Units, when not empty, are explained for every image instead of the top K.
	Units []int
	// BatchSize is the number of images sent to TensorFlow at once.
	BatchSize int
	// OutDir receives the outputs; empty means next to each input.
	OutDir string
	// Raw also writes the post-processed maps as <stem>.saliency.npy.
	Raw bool
	// MaxPixels refuses images whose declared size is larger (0: imageio's default).
	MaxPixels int
}

// Result is what happened to one input.
type Result struct {
	Image  string    `json:"image"`
	Width  int       `json:"width,omitempty"`
	Height int       `json:"height,omitempty"`
	Units  []int     `json:"units,omitempty"`
	Labels []string  `json:"labels,omitempty"`
	Logits []float32 `json:"logits,omitempty"`
	Maps   []string  `json:"maps,omitempty"`
	Raw    string    `json:"raw,omitempty"`
	Err    error     `json:"-"`
}

// job is one input with the outputs planned for it.
type job struct {
	path string
	stem string // output path without the ".saliency..." suffix
	err  error  // set when the job is refused before any work
}

// Run explains every input and calls emit once per input, in input order. It
// returns the number of inputs that failed.
func Run(m *backprop.Model, inputs []string, cfg Config, emit func(Result)) int {
	jobs := plan(inputs, cfg.OutDir)
	failed := 0
	report := func(r Result) {
		if r.Err != nil {
			failed++
		}
		emit(r)
	}
	protected := make(map[string]bool, len(inputs))
	for _, in := range inputs {
		protected[absClean(in)] = true
	}
	batch := max(cfg.BatchSize, 1)
	for start := 0; start < len(jobs); start += batch {
		end := min(start+batch, len(jobs))
		for _, r := range runBatch(m, jobs[start:end], cfg, protected) {
			report(r)
		}
	}
	return failed
}

// plan drops repeated inputs and assigns output stems; an input whose stem another
// input already claimed (a.jpg and a.png in one folder) is rejected rather than
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

// loaded is an image of the batch that decoded.
type loaded struct {
	job
	width, height int
}

// runBatch explains up to BatchSize jobs with one logits call and one gradient
// call, and returns their results in order.
func runBatch(m *backprop.Model, jobs []job, cfg Config, protected map[string]bool) []Result {
	results := make([]Result, len(jobs))
	h, w, c := m.InputSize()
	pixels := h * w * c
	tensor := make([]float32, 0, len(jobs)*pixels)
	var ok []int // indices into jobs of the images in tensor
	var sizes []loaded
	for i, j := range jobs {
		results[i].Image = j.path
		if j.err != nil {
			results[i].Err = j.err
			continue
		}
		img, err := imageio.Load(j.path, cfg.MaxPixels)
		if err != nil {
			results[i].Err = err
			continue
		}
		b := img.Bounds()
		tensor = append(tensor, imageio.ToTensor(img, w, h)...)
		ok = append(ok, i)
		sizes = append(sizes, loaded{job: j, width: b.Dx(), height: b.Dy()})
	}
	if len(ok) == 0 {
		return results
	}
	units, k, err := chooseUnits(m, tensor, len(ok), cfg)
	if err != nil {
		for _, i := range ok {
			results[i].Err = err
		}
		return results
	}
	// The gradient call runs K copies of each image; chunking it keeps the rows
	// per call at BatchSize, so memory does not grow with K.
	per := max(cfg.BatchSize/k, 1)
	for lo := 0; lo < len(ok); lo += per {
		hi := min(lo+per, len(ok))
		logits, grads, err := m.Gradients(tensor[lo*pixels:hi*pixels], hi-lo, units[lo*k:hi*k], k)
		for bi := lo; bi < hi; bi++ {
			i := ok[bi]
			if err != nil {
				results[i].Err = err
				continue
			}
			off := bi - lo
			results[i] = explainOne(m, sizes[bi], units[bi*k:(bi+1)*k], logits[off*k:(off+1)*k],
				grads[off*k*pixels:(off+1)*k*pixels], cfg, protected)
		}
	}
	return results
}

// chooseUnits returns the n*k units to explain: the fixed ones, or each image's
// top K by logit.
func chooseUnits(m *backprop.Model, tensor []float32, n int, cfg Config) ([]int32, int, error) {
	if len(cfg.Units) > 0 {
		k := len(cfg.Units)
		units := make([]int32, 0, n*k)
		for range n {
			for _, u := range cfg.Units {
				units = append(units, int32(u))
			}
		}
		return units, k, nil
	}
	logits, err := m.Logits(tensor, n)
	if err != nil {
		return nil, 0, err
	}
	return backprop.TopK(logits, m.NumClasses(), cfg.TopK), cfg.TopK, nil
}

// explainOne post-processes one image's k gradients into maps at the image's own
// size and writes them.
func explainOne(m *backprop.Model, img loaded, units []int32, logits, grads []float32, cfg Config, protected map[string]bool) Result {
	h, w, c := m.InputSize()
	k := len(units)
	r := Result{Image: img.path, Width: img.width, Height: img.height, Logits: logits}
	raw := make([]float32, 0, k*img.width*img.height)
	for j, u := range units {
		r.Units = append(r.Units, int(u))
		r.Labels = append(r.Labels, m.Manifest.Labels[u])
		saliency := postproc.MeanAbsChannels(grads[j*h*w*c:(j+1)*h*w*c], h, w, c)
		postproc.Normalize(saliency)
		resized := postproc.ResizeBilinear(saliency, h, w, img.height, img.width)
		out := mapPath(img.stem, int(u), k)
		if err := writeOutput(out, protected, func() error {
			return imageio.WriteGrayPNG(out, resized, img.width, img.height)
		}); err != nil {
			return Result{Image: img.path, Err: err}
		}
		r.Maps = append(r.Maps, out)
		if cfg.Raw {
			raw = append(raw, resized...)
		}
	}
	if cfg.Raw {
		out := img.stem + ".saliency.npy"
		if err := writeOutput(out, protected, func() error {
			return imageio.WriteNPY(out, raw, []int{k, img.height, img.width})
		}); err != nil {
			return Result{Image: img.path, Err: err}
		}
		r.Raw = out
	}
	return r
}

// mapPath names a heatmap: <stem>.saliency.png when an image gets one map, and
// <stem>.saliency.<unit>.png when it gets several.
func mapPath(stem string, unit, k int) string {
	if k == 1 {
		return stem + ".saliency.png"
	}
	return stem + ".saliency." + strconv.Itoa(unit) + ".png"
}

// errWouldOverwriteInput guards the one thing the tool must never do.
var errWouldOverwriteInput = errors.New("output would overwrite an input of this call")

func writeOutput(path string, protected map[string]bool, write func() error) error {
	if protected[absClean(path)] {
		return fmt.Errorf("%w: %s", errWouldOverwriteInput, path)
	}
	if err := write(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
