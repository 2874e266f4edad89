package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/manifest"
)

// EvalOptions is everything `saliency eval` needs, filled from flags.
type EvalOptions struct {
	IO *IO

	Model       string
	RandomModel string
	Limit       int
	BatchSize   int
	JSON        bool
	Dir         string
	Method      methodFlags

	ModelPath []string
}

// NewCmdEval builds `saliency eval`.
func NewCmdEval(ios *IO, runF func(*EvalOptions) error) *cobra.Command {
	opts := &EvalOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "eval [flags] DIR",
		Short: "Score saliency maps against known object boxes",
		Long: `Eval explains every image listed in DIR/boxes.json, a JSON object mapping
each image file name to {"label": <class>, "box": [x0, y0, x1, y1]} (pixels,
x1 and y1 exclusive), with the top-1 unit and measures whether the maps point at
the object whose box is known:

  pointing game   share of maps whose maximum lies inside the box
  energy in box   mean share of a map's mass inside the box

each next to the same score of a uniform map (the box's share of the image),
and, unless --random-model none, the model-randomisation sanity check of
Adebayo et al. (2018): the same images and units explained with a re-initialised
copy of the model, reported as the mean Spearman rank correlation between the
two maps (near 0 means the maps depend on what the model learned).`,
		Example: `  saliency eval --model mymodel heldout/
  saliency eval --model mymodel --random-model mymodel-reinit --json heldout/
  saliency eval --model fashion --method smoothgrad --samples 16 heldout/`,
		Args: cobra.ExactArgs(1),
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			return evalRun(opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Model, "model", "m", "xception", "model folder, or the name of one in the models folder")
	f.StringVar(&opts.RandomModel, "random-model", "", "re-initialised copy for the sanity check (default: MODEL-random; none: skip)")
	f.IntVar(&opts.Limit, "limit", 0, "score only the first `N` composites (by file name; 0: all)")
	f.IntVarP(&opts.BatchSize, "batch-size", "b", 0, "image-unit rows per TensorFlow call (0: one per 299x299 of model input)")
	f.BoolVar(&opts.JSON, "json", false, "print the scores as one JSON object")
	opts.Method.add(cmd)
	return cmd
}

// EvalReport is the outcome of `saliency eval`, as --json prints it.
type EvalReport struct {
	Model       string `json:"model"`
	Method      string `json:"method"`
	RandomModel string `json:"random_model,omitempty"`
	Images      int    `json:"images"`
	Failed      int    `json:"failed"`
	// The scores are null in JSON when undefined (no image scored, a NaN map).
	Accuracy       jsonnum.Float64 `json:"accuracy"`
	PointingGame   jsonnum.Float64 `json:"pointing_game"`
	EnergyInBox    jsonnum.Float64 `json:"energy_in_box"`
	UniformShare   jsonnum.Float64 `json:"uniform_baseline"`
	RandomSpearman jsonnum.Float64 `json:"randomization_spearman,omitempty"`
	SpearmanImages int             `json:"randomization_images,omitempty"`
}

func evalRun(opts *EvalOptions) error {
	if opts.BatchSize < 0 {
		return usagef("--batch-size must not be negative, got %d", opts.BatchSize)
	}
	items, err := evaluate.ReadBoxes(opts.Dir)
	if err != nil {
		return usageError{err}
	}
	if opts.Limit > 0 && opts.Limit < len(items) {
		items = items[:opts.Limit]
	}
	if len(items) == 0 {
		return usagef("%s: boxes.json lists no composites", opts.Dir)
	}
	model, err := loadModel(opts.Model, opts.modelPath())
	if err != nil {
		return err
	}
	defer model.Close()
	meth, err := opts.Method.build(model.Manifest)
	if err != nil {
		return err
	}
	randomName := opts.RandomModel
	if randomName == "" {
		randomName = opts.Model + "-random"
	}
	var random *backprop.Model
	if randomName != "none" {
		if random, err = loadModel(randomName, opts.modelPath()); err != nil {
			return err
		}
		defer random.Close()
		if meth.Name() == "gradcam" && !random.HasGradCAM() {
			return usagef("--method gradcam: %s was exported without the gradcam signature; export it again", randomName)
		}
	}

	paths := make([]string, len(items))
	byPath := make(map[string]evaluate.Item, len(items))
	for i, it := range items {
		paths[i] = filepath.Join(opts.Dir, it.File)
		byPath[paths[i]] = it
	}
	report := EvalReport{Model: opts.Model, Method: meth.Name()}
	maps := map[string][]float32{}
	units := map[string][]int{}
	var hits, correct int
	var energy, uniform float64
	engine.Explain(context.Background(), model, paths, engine.Config{Method: meth, TopK: 1, BatchSize: opts.BatchSize}, func(e engine.Explanation) {
		if e.Err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: %v\n", e.Path, e.Err)
			report.Failed++
			return
		}
		it, b := byPath[e.Path], e.Image.Bounds()
		report.Images++
		if evaluate.PointingHit(e.Maps[0], b.Dx(), it.Box) {
			hits++
		}
		if e.Units[0] == it.Label {
			correct++
		}
		energy += evaluate.EnergyInBox(e.Maps[0], b.Dx(), it.Box)
		uniform += evaluate.UniformShare(b.Dx(), b.Dy(), it.Box)
		maps[e.Path], units[e.Path] = e.Maps[0], e.Units
	})
	n := float64(report.Images) // 0/0 is NaN: no score without an image
	report.Accuracy, report.PointingGame = jsonnum.Float64(float64(correct)/n), jsonnum.Float64(float64(hits)/n)
	report.EnergyInBox, report.UniformShare = jsonnum.Float64(energy/n), jsonnum.Float64(uniform/n)
	if random != nil && report.Images > 0 {
		report.RandomModel = randomName
		var sum float64
		cfg := engine.Config{Method: meth, BatchSize: opts.BatchSize, UnitsOf: func(p string) []int { return units[p] }}
		explained := make([]string, 0, len(maps))
		for _, p := range paths {
			if maps[p] != nil {
				explained = append(explained, p)
			}
		}
		engine.Explain(context.Background(), random, explained, cfg, func(e engine.Explanation) {
			if e.Err != nil {
				fmt.Fprintf(opts.IO.ErrOut, "saliency: %s (%s): %v\n", e.Path, randomName, e.Err)
				return
			}
			if rho := evaluate.Spearman(maps[e.Path], e.Maps[0]); !math.IsNaN(rho) {
				sum += rho
				report.SpearmanImages++
			}
		})
		if report.SpearmanImages > 0 {
			report.RandomSpearman = jsonnum.Float64(sum / float64(report.SpearmanImages))
		}
	}
	if err := opts.print(report); err != nil {
		return err
	}
	if report.Failed > 0 {
		return errPartial
	}
	return nil
}

func (opts *EvalOptions) print(r EvalReport) error {
	if opts.JSON {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("cannot encode the JSON report: %w", err)
		}
		if _, err := fmt.Fprintf(opts.IO.Out, "%s\n", b); err != nil {
			return fmt.Errorf("cannot write the JSON report: %w", err)
		}
		return nil
	}
	out := opts.IO.Out
	fmt.Fprintf(out, "model %s, method %s, on %d composites of %s (top-1 accuracy %.3f)\n\n", r.Model, r.Method, r.Images, opts.Dir, r.Accuracy)
	fmt.Fprintf(out, "%-16s %8s %8s %8s\n", "", "maps", "uniform", "ratio")
	fmt.Fprintf(out, "%-16s %8.3f %8.3f %7.1fx\n", "pointing game", r.PointingGame, r.UniformShare, ratio(r.PointingGame, r.UniformShare))
	fmt.Fprintf(out, "%-16s %8.3f %8.3f %7.1fx\n", "energy in box", r.EnergyInBox, r.UniformShare, ratio(r.EnergyInBox, r.UniformShare))
	if r.RandomModel != "" {
		fmt.Fprintf(out, "\nrank correlation with %s (Spearman, mean of %d): %.3f\n", r.RandomModel, r.SpearmanImages, r.RandomSpearman)
	}
	if r.Failed > 0 {
		fmt.Fprintf(out, "\n%d composites failed (see stderr)\n", r.Failed)
	}
	return nil
}

func ratio(a, b jsonnum.Float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a / b)
}

func (opts *EvalOptions) modelPath() []string {
	if opts.ModelPath != nil {
		return opts.ModelPath
	}
	return defaultModelPath()
}

// loadModel resolves and loads a model, turning every failure into a usage error.
func loadModel(name string, path []string) (*backprop.Model, error) {
	dir, err := manifest.Resolve(name, path)
	if err != nil {
		return nil, usageError{err}
	}
	m, err := backprop.Load(dir, backprop.Options{})
	if err != nil {
		return nil, usageError{fmt.Errorf("model %s: %w", name, err)}
	}
	return m, nil
}
