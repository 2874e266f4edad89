package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/inputs"
	"github.com/saliency-tool/saliency/internal/output"
	"github.com/saliency-tool/saliency/internal/render"
	"github.com/saliency-tool/saliency/internal/report"
)

// ExplainOptions is everything `saliency explain` needs, filled from flags.
type ExplainOptions struct {
	IO *IO

	Model     string
	TopK      int
	Units     []int
	BatchSize int
	Precision string // float32 or bfloat16
	OutDir    string
	Raw       bool
	JSON      bool
	Quiet     bool
	MaxPixels int
	Images    []string

	Colormap       string
	ClipPercentile float64
	Overlay        bool
	Grid           string
	Report         string

	Method methodFlags

	Recursive    bool
	Null         bool
	Shard        string
	SkipExisting bool
	Profile      bool

	// Signals stops the run gracefully when it receives; nil means SIGINT and
	// SIGTERM of this process.
	Signals <-chan os.Signal

	// ModelPath is where bare model names are looked up; nil means the default.
	ModelPath []string

	// exit ends the process when a signal asks to stop at once; nil: os.Exit.
	exit func(code int)
}

// NewCmdExplain builds `saliency explain`. Tests pass runF to inspect the parsed
// options instead of running.
func NewCmdExplain(ios *IO, runF func(*ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "explain [flags] IMAGE...",
		Short: "Write gradient saliency heatmaps for images",
		Long: `Explain runs the model on each image, picks the K highest-scoring output units
(or the units given with --units), and writes for each the absolute gradient of
the unit's logit with respect to the input pixels, averaged over the colour
channels, normalised to [0, 1] and resized to the image, as a grayscale PNG:

  IMAGE.jpg -> IMAGE.saliency.png           one map per image
  IMAGE.jpg -> IMAGE.saliency.<unit>.png    several maps per image

--method chooses another attribution (outputs then carry its name,
IMAGE.saliency.<method>[.<unit>].png):

` + methodList() + `
For the pixel methods, --filter keeps the absolute (default), positive or
negative part of each value and --reduce averages (default) or maxes the
colour channels. The class activation maps (gradcam and the ones after it)
are computed on the last convolutional block and keep what their definitions
keep. --smooth N wraps any method: the mean of its maps over N noisy copies
(--noise, --seed), or with --vargrad their variance; outputs are then named
<method>-smooth or <method>-vargrad. --tta VIEWS wraps any method in
test-time augmentation: the mean of its maps over mirrored and zoomed views
(e.g. flip,0.5,1.5,2), each mapped back onto the image; outputs <method>-tta.
Every map is then min-max normalised and resized.

Outputs go next to each image unless --out-dir is given; inputs are never
overwritten. A folder stands for the images in it (--recursive: and in its
subfolders); "-" reads image paths from standard input, one per line (-0: NUL-
separated). A file that cannot be explained is reported on stderr and the
others go on; the exit status is then 1. Usage errors exit with 2 before any
work. Ctrl-C (or SIGTERM) finishes the batch in flight and stops, exit 130
(143); --skip-existing then resumes. --shard I/N takes a fixed 1/N of the
inputs, so N machines can share a job.`,
		Example: `  # the top class of one photo, with the default model (xception)
  saliency explain cat.jpg

  # the three top classes of every JPEG in a folder, outputs elsewhere
  saliency explain --top-k 3 --out-dir maps/ photos/*.jpg

  # fixed units, raw float maps as .npy, one JSON object per image
  saliency explain --units 281,285 --raw --json cat.jpg

  # paths from another program, a folder tree, and a resumable share of a big job
  find photos -name '*.png' -print0 | saliency explain -0 -
  saliency explain --recursive photos/
  saliency explain --shard 3/8 --skip-existing --out-dir maps/ photos/

  # other methods
  saliency explain --method smoothgrad --samples 50 --seed 7 cat.jpg
  saliency explain --method integrated --baseline blur --filter positive --json cat.jpg
  saliency explain --method gradcam --overlay cat.jpg

  # pictures for people: coloured maps, overlays, one contact sheet, a page
  saliency explain --colormap inferno --overlay --grid sheet.png photos/*.jpg
  saliency explain --colormap inferno --out-dir maps/ --report maps/index.html photos/`,
		Args: cobra.MinimumNArgs(1),
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			if runF != nil {
				return runF(opts)
			}
			return explainRun(opts)
		}),
	}
	addModelFlags(cmd, &opts.Model, &opts.BatchSize, &opts.Precision)
	f := cmd.Flags()
	f.IntVarP(&opts.TopK, "top-k", "k", 1, "explain each image's `K` highest-scoring units")
	f.IntSliceVar(&opts.Units, "units", nil, "explain these unit indices instead of the top K (comma-separated)")
	f.StringVarP(&opts.OutDir, "out-dir", "o", "", "write outputs to `DIR` instead of next to each image")
	f.BoolVar(&opts.Raw, "raw", false, "also write the maps as float32 NumPy arrays, IMAGE.saliency.npy, shape [K, H, W]")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON object per image on stdout")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stdout except --json output")
	f.IntVar(&opts.MaxPixels, "max-pixels", 100_000_000, "refuse images whose declared width*height is larger")
	f.StringVar(&opts.Colormap, "colormap", "gray", "heatmap colours: "+strings.Join(render.ColormapNames(), ", "))
	f.Float64Var(&opts.ClipPercentile, "clip-percentile", 0, "clip each map at its `P`-th percentile before normalising (e.g. 99; 0: off)")
	f.BoolVar(&opts.Overlay, "overlay", false, "also write each heatmap blended over the image, IMAGE.overlay.png")
	f.StringVar(&opts.Grid, "grid", "", "also write one contact sheet of all images and their maps to `FILE` (PNG)")
	f.StringVar(&opts.Report, "report", "", "also write an HTML page of the run to `FILE`: each image, its units' labels and scores, maps, overlays (always written then), failures")
	opts.Method.add(cmd)
	f.BoolVarP(&opts.Recursive, "recursive", "r", false, "descend into subfolders of folder arguments")
	f.BoolVarP(&opts.Null, "null", "0", false, `paths read from "-" are NUL-separated (find -print0)`)
	f.StringVar(&opts.Shard, "shard", "", "process only part `I/N` of the inputs (deterministic, 1-based)")
	f.BoolVar(&opts.SkipExisting, "skip-existing", false, "skip inputs whose outputs all exist (resume an interrupted run)")
	f.BoolVar(&opts.Profile, "profile", false, "at the end, print on stderr the wall time of each stage: model load, decode, compute, postprocess, write")
	return cmd
}

func explainRun(opts *ExplainOptions) error {
	started := time.Now()
	if err := opts.validateFlags(); err != nil {
		return err
	}
	stopper := opts.watchSignals()
	defer stopper.stop()
	images, empty, err := inputs.Collect(opts.Images, inputs.Options{Recursive: opts.Recursive, Null: opts.Null, Stdin: opts.IO.In})
	if err != nil {
		return usageError{err}
	}
	collected := len(images)
	if opts.Shard != "" {
		shard, err := inputs.ParseShard(opts.Shard)
		if err != nil {
			return usageError{fmt.Errorf("--shard %w", err)}
		}
		images = shard.Keep(images)
	}
	found, err := findModel(opts.Model, opts.ModelPath)
	if err != nil {
		return err
	}
	if err := opts.validateUnits(len(found.manifest.Labels)); err != nil {
		return err
	}
	meth, err := opts.Method.build(found.manifest)
	if err != nil {
		return err
	}
	cmap, err := render.ColormapByName(opts.Colormap)
	if err != nil {
		return usageError{fmt.Errorf("--colormap: %w", err)}
	}
	// A folder that stands for nothing fails like an input that cannot be
	// read, and a run left with nothing to do says so: a batch script must be
	// able to tell "done" from "did nothing".
	failed := 0
	for _, e := range empty {
		opts.report(output.Record{Image: e.Dir, Err: e})
		failed++
	}
	if len(images) == 0 {
		return opts.nothingToExplain(collected)
	}
	// A report shows each map over its image, so it has the overlays written.
	outputs, refused := output.Plan(images, output.Options{
		Dir: opts.OutDir, Method: meth.Name(), Raw: opts.Raw, Colormap: cmap, Overlay: opts.Overlay || opts.Report != "",
		SkipExisting: opts.SkipExisting, Units: opts.Units, PerImage: max(len(opts.Units), opts.TopK),
		Sheet: opts.Grid, Report: opts.Report,
	})
	var problems []string // the run's own errors, for the report
	for _, err := range refused {
		msg := fmt.Sprintf("%s %v", runFileFlag[err.File], err)
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s\n", msg)
		problems = append(problems, msg)
		failed++
	}
	var page *report.Explain
	if path := outputs.Report(); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return usageError{fmt.Errorf("--report: %w", err)}
		}
		page = report.NewExplain(path, found.manifest.Labels)
		for _, e := range empty {
			page.Add(output.Record{Image: e.Dir, Err: e})
		}
	}
	prof := &runProfile{started: started}
	loading := time.Now()
	model, err := found.load(found.options(meth.Name(), max(len(opts.Units), opts.TopK), opts.Precision))
	if err != nil {
		return err
	}
	defer model.Close()
	prof.modelLoad = time.Since(loading)
	if opts.Profile {
		defer prof.write(opts.IO.ErrOut, len(images))
	}
	if opts.OutDir != "" {
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			return usageError{fmt.Errorf("--out-dir: %w", err)}
		}
	}

	cfg := engine.Config{
		Method:         meth,
		TopK:           opts.TopK,
		Units:          opts.Units,
		BatchSize:      opts.BatchSize,
		MaxPixels:      opts.MaxPixels,
		ClipPercentile: opts.ClipPercentile,
	}
	if opts.Profile {
		cfg.Timings = &prof.stages
	}
	bar := newProgress(opts.IO.ErrOut, len(images), !opts.Quiet && !opts.JSON && isTerminal(opts.IO.ErrOut))
	stopper.startWork(len(images))
	failed += engine.Run(stopper.ctx, model, outputs, cfg, func(r output.Record) {
		bar.Clear() // the line below goes where the bar was; the bar is drawn again under it
		r.Err = withFlagHint(r.Err)
		if !opts.report(r) && r.Err == nil {
			failed++ // the outputs are there, but its record is not
		}
		if page != nil {
			page.Add(r)
		}
		stopper.finished()
		bar.Add(1)
	})
	bar.Finish()
	run := report.Run{
		Model: found.reportModel(), Method: meth.Name(), Params: opts.Method.params(), Colormap: cmap.Name(),
		Command: os.Args, Started: started,
	}
	if sig, done := stopper.caught(), stopper.reported(); sig != nil && done < len(images) {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: interrupted: %d of %d inputs done; run again with --skip-existing to resume\n",
			done, len(images))
		run.Stopped = fmt.Sprintf("stopped by a signal (%v): %d of %d inputs done", sig, done, len(images))
		opts.writeReport(page, run, problems)
		return interrupted{sig}
	}
	if err := outputs.Finish(); err != nil {
		msg := fmt.Sprintf("--grid %v", err)
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s\n", msg)
		problems = append(problems, msg)
		failed++
	}
	if !opts.writeReport(page, run, problems) {
		failed++
	}
	if failed > 0 {
		return errPartial
	}
	return nil
}

// runFileFlag is the flag that asked for each file of the whole run.
var runFileFlag = map[output.RunFile]string{output.SheetFile: "--grid", output.ReportFile: "--report"}

// writeReport writes the run's page, when one was asked for, and says on
// stderr when it cannot.
func (opts *ExplainOptions) writeReport(page *report.Explain, run report.Run, problems []string) bool {
	if page == nil {
		return true
	}
	run.Problems, run.Elapsed = problems, time.Since(run.Started)
	if err := page.Write(run); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: --report %s: %v\n", opts.Report, err)
		return false
	}
	return true
}

// withFlagHint adds to an input's error the flag that avoids it.
func withFlagHint(err error) error {
	var collision *output.CollisionError
	if errors.As(err, &collision) {
		return fmt.Errorf("%w; explain them in separate calls or with --out-dir", err)
	}
	return err
}

// nothingToExplain ends a run whose arguments left no image. With no input at
// all the run failed. A shard that holds none of the inputs did its part of
// the job (with few inputs and many shards, hashing leaves some empty), so it
// only says so and succeeds, or a job array would count it as failed.
func (opts *ExplainOptions) nothingToExplain(collected int) error {
	if opts.Shard != "" && collected > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: shard %s holds none of the %s; nothing to do\n", opts.Shard, plural(collected, "input"))
		return nil
	}
	return errors.New("no images to explain")
}

func (opts *ExplainOptions) validateFlags() error {
	if opts.TopK < 1 {
		return usagef("--top-k must be at least 1, got %d", opts.TopK)
	}
	if err := checkPrecision(opts.Precision); err != nil {
		return err
	}
	if err := checkBatchSize(opts.BatchSize); err != nil {
		return err
	}
	switch {
	case opts.MaxPixels < 1:
		return usagef("--max-pixels must be positive, got %d", opts.MaxPixels)
	case opts.ClipPercentile < 0 || opts.ClipPercentile >= 100:
		return usagef("--clip-percentile must be in [0, 100), got %g", opts.ClipPercentile)
	}
	return nil
}

// validateUnits checks --top-k and --units against the model's number of classes.
func (opts *ExplainOptions) validateUnits(classes int) error {
	if len(opts.Units) == 0 && opts.TopK > classes {
		return usagef("--top-k %d is more than the model's %d classes", opts.TopK, classes)
	}
	seen := map[int]bool{}
	for _, u := range opts.Units {
		if u < 0 || u >= classes {
			return usagef("--units: unit %d out of range: the model has units 0 to %d", u, classes-1)
		}
		if seen[u] {
			return usagef("--units: unit %d given twice", u)
		}
		seen[u] = true
	}
	return nil
}

// jsonResult is one line of --json output.
type jsonResult struct {
	output.Record
	Error string `json:"error,omitempty"`
}

// report prints one input's result: errors on stderr, and a summary line or a
// JSON object on stdout. It returns false when the result could not be written
// whole: its --json record is then replaced by one carrying the error, and the
// reason is on stderr.
func (opts *ExplainOptions) report(r output.Record) bool {
	if r.Err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: %v\n", r.Image, r.Err)
	}
	if opts.JSON {
		return opts.writeJSON(r)
	}
	if opts.Quiet || r.Err != nil {
		return true
	}
	if r.Skipped {
		fmt.Fprintf(opts.IO.Out, "%s: skipped, outputs exist\n", r.Image)
		return true
	}
	parts := make([]string, len(r.Units))
	for i := range r.Units {
		parts[i] = fmt.Sprintf("%s (unit %d, %s)", r.Labels[i], r.Units[i], output.ScoreText(r.Scores, r.Logits[i]))
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s -> %s\n", r.Image, strings.Join(parts, ", "), strings.Join(r.Maps, ", "))
	return true
}

// writeJSON prints r's --json record. Numbers JSON cannot hold are null
// already (jsonnum); should encoding still fail, the record is written with
// the image and the error, which cannot fail, so no input loses its line.
func (opts *ExplainOptions) writeJSON(r output.Record) bool {
	rec := jsonResult{Record: r}
	if r.Err != nil {
		rec = jsonResult{Record: output.Record{Image: r.Image}, Error: r.Err.Error()}
	}
	ok := true
	b, err := json.Marshal(rec)
	if err != nil {
		ok = false
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: cannot encode its JSON record: %v\n", r.Image, err)
		b, _ = json.Marshal(jsonResult{Record: output.Record{Image: r.Image}, Error: "cannot encode its JSON record: " + err.Error()})
	}
	if _, err := fmt.Fprintf(opts.IO.Out, "%s\n", b); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: cannot write its JSON record: %v\n", r.Image, err)
		return false
	}
	return ok
}

// plural is "1 input", "2 inputs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
