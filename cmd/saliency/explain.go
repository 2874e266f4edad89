package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/manifest"
)

// ExplainOptions is everything `saliency explain` needs, filled from flags.
type ExplainOptions struct {
	IO *IO

	Model     string
	TopK      int
	Units     []int
	BatchSize int
	OutDir    string
	Raw       bool
	JSON      bool
	Quiet     bool
	MaxPixels int
	Images    []string

	// ModelPath is where bare model names are looked up; nil means the default.
	ModelPath []string
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

Outputs go next to each image unless --out-dir is given; inputs are never
overwritten. An argument "-" reads image paths from standard input, one per
line. A file that cannot be explained is reported on stderr and the others go
on; the exit status is then 1. Usage errors exit with 2 before any work.`,
		Example: `  # the top class of one photo, with the default model (xception)
  saliency explain cat.jpg

  # the three top classes of every JPEG in a folder, outputs elsewhere
  saliency explain --top-k 3 --out-dir maps/ photos/*.jpg

  # fixed units, raw float maps as .npy, one JSON object per image
  saliency explain --units 281,285 --raw --json cat.jpg

  # paths from another program
  find photos -name '*.png' | saliency explain -`,
		Args: cobra.MinimumNArgs(1),
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			if runF != nil {
				return runF(opts)
			}
			return explainRun(opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Model, "model", "m", "xception", "model folder, or the name of one in the models folder")
	f.IntVarP(&opts.TopK, "top-k", "k", 1, "explain each image's `K` highest-scoring units")
	f.IntSliceVar(&opts.Units, "units", nil, "explain these unit indices instead of the top K (comma-separated)")
	f.IntVarP(&opts.BatchSize, "batch-size", "b", 8, "images per TensorFlow call")
	f.StringVarP(&opts.OutDir, "out-dir", "o", "", "write outputs to `DIR` instead of next to each image")
	f.BoolVar(&opts.Raw, "raw", false, "also write the maps as float32 NumPy arrays, IMAGE.saliency.npy, shape [K, H, W]")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON object per image on stdout")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on stdout except --json output")
	f.IntVar(&opts.MaxPixels, "max-pixels", 100_000_000, "refuse images whose declared width*height is larger")
	return cmd
}

func explainRun(opts *ExplainOptions) error {
	if err := opts.validateFlags(); err != nil {
		return err
	}
	images, err := expandStdin(opts.Images, opts.IO.In)
	if err != nil {
		return err
	}
	dir, err := manifest.Resolve(opts.Model, opts.modelPath())
	if err != nil {
		return usageError{err}
	}
	man, err := manifest.Read(dir)
	if err != nil {
		return usageError{fmt.Errorf("model %s: %w", opts.Model, err)}
	}
	if err := opts.validateUnits(len(man.Labels)); err != nil {
		return err
	}
	model, err := backprop.Load(dir, backprop.Options{})
	if err != nil {
		return usageError{fmt.Errorf("model %s: %w", opts.Model, err)}
	}
	defer model.Close()
	if opts.OutDir != "" {
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			return usageError{fmt.Errorf("--out-dir: %w", err)}
		}
	}

	cfg := engine.Config{
		TopK:      opts.TopK,
		Units:     opts.Units,
		BatchSize: opts.BatchSize,
		OutDir:    opts.OutDir,
		Raw:       opts.Raw,
		MaxPixels: opts.MaxPixels,
	}
	failed := engine.Run(model, images, cfg, opts.report)
	if failed > 0 {
		return errPartial
	}
	return nil
}

func (opts *ExplainOptions) validateFlags() error {
	switch {
	case opts.TopK < 1:
		return usagef("--top-k must be at least 1, got %d", opts.TopK)
	case opts.BatchSize < 1:
		return usagef("--batch-size must be at least 1, got %d", opts.BatchSize)
	case opts.MaxPixels < 1:
		return usagef("--max-pixels must be positive, got %d", opts.MaxPixels)
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

// modelPath is where a bare --model name is looked up: $SALIENCY_MODELS, the
// models folder beside the binary's bin/ folder, then ./models.
func (opts *ExplainOptions) modelPath() []string {
	if opts.ModelPath != nil {
		return opts.ModelPath
	}
	var path []string
	if env := os.Getenv("SALIENCY_MODELS"); env != "" {
		path = append(path, filepath.SplitList(env)...)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			path = append(path, filepath.Join(filepath.Dir(filepath.Dir(exe)), "models"))
		}
	}
	return append(path, "models")
}

// expandStdin replaces a "-" argument with the paths read from in, one per line.
func expandStdin(args []string, in io.Reader) ([]string, error) {
	var out []string
	usedStdin := false
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		if usedStdin {
			return nil, usagef(`"-" given more than once`)
		}
		usedStdin = true
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
				out = append(out, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read paths from stdin: %w", err)
		}
	}
	return out, nil
}

// jsonResult is one line of --json output.
type jsonResult struct {
	engine.Result
	Error string `json:"error,omitempty"`
}

// report prints one input's result: errors on stderr, and a summary line or a
// JSON object on stdout.
func (opts *ExplainOptions) report(r engine.Result) {
	if r.Err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: %v\n", r.Image, r.Err)
	}
	if opts.JSON {
		out := jsonResult{Result: r}
		if r.Err != nil {
			out = jsonResult{Result: engine.Result{Image: r.Image}, Error: r.Err.Error()}
		}
		b, _ := json.Marshal(out)
		fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return
	}
	if opts.Quiet || r.Err != nil {
		return
	}
	parts := make([]string, len(r.Units))
	for i := range r.Units {
		parts[i] = fmt.Sprintf("%s (unit %d, logit %.4g)", r.Labels[i], r.Units[i], r.Logits[i])
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s -> %s\n", r.Image, strings.Join(parts, ", "), strings.Join(r.Maps, ", "))
}
