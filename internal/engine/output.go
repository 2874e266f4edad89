package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/imageio"
	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/render"
)

// Output says where and how Run writes what Explain computes.
type Output struct {
	// OutDir receives the outputs; empty means next to each input.
	OutDir string
	// Raw also writes the post-processed maps as <stem>.saliency.npy.
	Raw bool
	// Tag goes after ".saliency" and ".overlay" in every output name (Run sets
	// it to "." + the method's name for methods other than gradients), so maps
	// of different methods sit side by side.
	Tag string
	// Colormap colours the heatmaps; nil writes 8-bit grayscale.
	Colormap *render.Colormap
	// Overlay also writes each heatmap blended over the original, <stem>.overlay*.png.
	Overlay bool
	// OverlayAlpha is the heatmap's weight in the overlay; 0 means 0.5.
	OverlayAlpha float32
	// SkipExisting skips inputs whose outputs all exist already, so that a run
	// resumes where an interrupted one stopped.
	SkipExisting bool
	// OnWritten, when set, sees each successful explanation after its files
	// are written (the grid sheet is built from it).
	OnWritten func(Explanation)
}

// Result is what happened to one input of Run.
type Result struct {
	Image  string   `json:"image"`
	Width  int      `json:"width,omitempty"`
	Height int      `json:"height,omitempty"`
	Units  []int    `json:"units,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// Logits that are not finite (a broken model) are written as null.
	Logits jsonnum.Float32s `json:"logits,omitempty"`
	// Scores says what Logits are: "logits" (pre-softmax: the exporter removes a
	// final softmax) or "log_probabilities" (a SavedModel whose softmax is inside
	// its graph), as the model's manifest says.
	Scores   string   `json:"scores,omitempty"`
	Maps     []string `json:"maps,omitempty"`
	Overlays []string `json:"overlays,omitempty"`
	Raw      string   `json:"raw,omitempty"`
	// Method names the method that drew the maps.
	Method string `json:"method,omitempty"`
	// Completeness is integrated gradients' check, one per unit.
	Completeness []method.Completeness `json:"completeness,omitempty"`
	Skipped      bool                  `json:"skipped,omitempty"`
	Err          error                 `json:"-"`
}

// Run explains every input, writes its outputs, and calls emit once per input
// (repeated paths count once), in input order. It returns the number of inputs
// that failed. When ctx is cancelled, the batch in flight is finished and
// written, and the inputs after it are not emitted at all.
func Run(ctx context.Context, m *backprop.Model, inputs []string, cfg Config, emit func(Result)) int {
	if name := cfg.methodName(); name != "gradients" {
		cfg.Tag = "." + name
	}
	jobs := plan(inputs, cfg.OutDir)
	if cfg.SkipExisting {
		for i, j := range jobs {
			if j.err == nil && cfg.Output.complete(j.stem, cfg.Units, max(len(cfg.Units), cfg.TopK)) {
				jobs[i].err = errSkipped
			}
		}
	}
	protected := make(map[string]bool, len(inputs))
	for _, in := range inputs {
		protected[absClean(in)] = true
	}
	var todo []string
	for _, j := range jobs {
		if j.err == nil {
			todo = append(todo, j.path)
		}
	}
	failed := 0
	report := func(r Result) {
		if errors.Is(r.Err, errSkipped) {
			r.Err, r.Skipped = nil, true
		}
		if r.Err != nil {
			failed++
		}
		emit(r)
	}
	next := 0 // the next job to report; refused jobs are reported in their turn
	Explain(ctx, m, todo, cfg, func(e Explanation) {
		for ; jobs[next].err != nil; next++ {
			report(Result{Image: jobs[next].path, Err: jobs[next].err})
		}
		j := jobs[next]
		next++
		r := write(j, e, cfg.Output, protected)
		if r.Err == nil {
			r.Method = cfg.methodName()
			r.Scores = m.Manifest.OutputKind()
		}
		if r.Err == nil && cfg.OnWritten != nil {
			cfg.OnWritten(e)
		}
		report(r)
	})
	// Refused and skipped jobs after the last explained one; none of those
	// behind an input that an interruption left unexplained.
	for ; next < len(jobs) && jobs[next].err != nil; next++ {
		report(Result{Image: jobs[next].path, Err: jobs[next].err})
	}
	return failed
}

// errSkipped marks jobs that SkipExisting found done; reported as Skipped.
var errSkipped = errors.New("outputs exist")

// complete tells whether every output an input would get exists already: its
// heatmaps (and overlays, and raw array, when asked for). With top-K units the
// names are not known before the model runs, so K files of each kind must be
// there; the writes are atomic, so a file that exists is whole.
func (o Output) complete(stem string, units []int, k int) bool {
	if o.Raw && !exists(stem+".saliency"+o.Tag+".npy") {
		return false
	}
	kinds := []string{".saliency" + o.Tag}
	if o.Overlay {
		kinds = append(kinds, ".overlay"+o.Tag)
	}
	for _, kind := range kinds {
		switch {
		case k == 1:
			if !exists(stem + kind + ".png") {
				return false
			}
		case len(units) > 0:
			for _, u := range units {
				if !exists(namedFor(stem+kind, u, k)) {
					return false
				}
			}
		default:
			if countUnitFiles(stem+kind) < k {
				return false
			}
		}
	}
	return true
}

// countUnitFiles counts the files named base.<unit>.png.
func countUnitFiles(base string) int {
	entries, err := os.ReadDir(filepath.Dir(base))
	if err != nil {
		return 0
	}
	prefix := filepath.Base(base) + "."
	n := 0
	for _, e := range entries {
		name := e.Name()
		if num, ok := strings.CutPrefix(name, prefix); ok {
			if num, ok = strings.CutSuffix(num, ".png"); ok {
				if _, err := strconv.Atoi(num); err == nil {
					n++
				}
			}
		}
	}
	return n
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// write writes one explanation's heatmaps, overlays and raw array.
func write(j job, e Explanation, out Output, protected map[string]bool) Result {
	if e.Err != nil {
		return Result{Image: j.path, Err: e.Err}
	}
	b := e.Image.Bounds()
	w, h := b.Dx(), b.Dy()
	r := Result{Image: j.path, Width: w, Height: h, Units: e.Units, Labels: e.Labels, Logits: e.Logits,
		Completeness: e.Completeness}
	k := len(e.Maps)
	alpha := out.OverlayAlpha
	if alpha == 0 {
		alpha = 0.5
	}
	cmap := out.Colormap
	for i, m := range e.Maps {
		heat := namedFor(j.stem+".saliency"+out.Tag, e.Units[i], k)
		err := writeOutput(heat, protected, func() error {
			if cmap == nil {
				return imageio.WriteGrayPNG(heat, m, w, h)
			}
			return imageio.WritePNG(heat, cmap.Colorize(m, w, h))
		})
		if err != nil {
			return Result{Image: j.path, Err: err}
		}
		r.Maps = append(r.Maps, heat)
		if out.Overlay {
			over := namedFor(j.stem+".overlay"+out.Tag, e.Units[i], k)
			err := writeOutput(over, protected, func() error {
				return imageio.WritePNG(over, render.Overlay(e.Image, m, overlayColormap(cmap), alpha))
			})
			if err != nil {
				return Result{Image: j.path, Err: err}
			}
			r.Overlays = append(r.Overlays, over)
		}
	}
	if out.Raw {
		raw := make([]float32, 0, k*w*h)
		for _, m := range e.Maps {
			raw = append(raw, m...)
		}
		path := j.stem + ".saliency" + out.Tag + ".npy"
		if err := writeOutput(path, protected, func() error {
			return imageio.WriteNPY(path, raw, []int{k, h, w})
		}); err != nil {
			return Result{Image: j.path, Err: err}
		}
		r.Raw = path
	}
	return r
}

// overlayColormap is the map used for overlays: gray over a photo is hard to
// read, so a grayscale run still overlays in inferno.
func overlayColormap(c *render.Colormap) *render.Colormap {
	if c != nil && c.Name() != "gray" {
		return c
	}
	inferno, _ := render.ColormapByName("inferno")
	return inferno
}

// namedFor names an output: <base>.png when an image gets one map, and
// <base>.<unit>.png when it gets several.
func namedFor(base string, unit, k int) string {
	if k == 1 {
		return base + ".png"
	}
	return base + "." + strconv.Itoa(unit) + ".png"
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
