package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/report"
)

// EvalOptions is everything `saliency eval` needs, filled from flags.
type EvalOptions struct {
	IO *IO

	Model       string
	RandomModel string
	Limit       int
	BatchSize   int
	Precision   string // float32 or bfloat16
	JSON        bool
	Report      string
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
  saliency eval --model fashion --method smoothgrad --samples 16 heldout/
  saliency eval --model fashion --report eval.html heldout/`,
		Args: cobra.ExactArgs(1),
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			return evalRun(opts)
		}),
	}
	addModelFlags(cmd, &opts.Model, &opts.BatchSize, &opts.Precision)
	f := cmd.Flags()
	f.StringVar(&opts.RandomModel, "random-model", "", "re-initialised copy for the sanity check (default: MODEL-random; none: skip)")
	f.IntVar(&opts.Limit, "limit", 0, "score only the first `N` composites (by file name; 0: all)")
	f.BoolVar(&opts.JSON, "json", false, "print the scores as one JSON object")
	f.StringVar(&opts.Report, "report", "", "also write an HTML page to `FILE`: the scores and a sample of composites with their boxes and maps")
	opts.Method.add(cmd)
	return cmd
}

func evalRun(opts *EvalOptions) error {
	started := time.Now()
	if err := checkPrecision(opts.Precision); err != nil {
		return err
	}
	if err := checkBatchSize(opts.BatchSize); err != nil {
		return err
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
	// Both models are found and checked against the flags before either loads.
	found, err := findModel(opts.Model, opts.ModelPath)
	if err != nil {
		return err
	}
	meth, err := opts.Method.build(found.manifest)
	if err != nil {
		return err
	}
	randomName := opts.RandomModel
	if randomName == "" {
		randomName = opts.Model + "-random"
	}
	var randomFound *foundModel
	if randomName != "none" {
		if randomFound, err = findModel(randomName, opts.ModelPath); err != nil {
			return err
		}
		if err := supports(randomFound.manifest, meth.Name()); err != nil {
			return err
		}
	}
	model, err := found.load(found.options(meth.Name(), 1, opts.Precision))
	if err != nil {
		return err
	}
	defer model.Close()
	var random engine.Model // stays nil, not a nil *backprop.Model, without one
	if randomFound != nil {
		m, err := randomFound.load(randomFound.options(meth.Name(), 1, opts.Precision))
		if err != nil {
			return err
		}
		defer m.Close()
		random = m
	}
	page := report.Eval{
		Model: found.reportModel(), Method: meth.Name(), Params: opts.Method.params(), Dir: opts.Dir,
		Command: os.Args, Started: started, Labels: found.manifest.Labels,
	}
	every, seen := report.SampleEvery(len(items)), 0
	scores, err := evaluate.Run(context.Background(), model, random, items, evaluate.Config{
		Dir: opts.Dir, Method: meth, BatchSize: opts.BatchSize, ModelName: opts.Model, RandomName: randomName,
		Failed: func(image string, inRandom bool, err error) {
			if inRandom {
				image += " (" + randomName + ")"
			}
			fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: %v\n", image, err)
			page.Failures = append(page.Failures, fmt.Sprintf("%s: %v", image, err))
		},
		Scored: func(s evaluate.Scored) {
			switch {
			case opts.Report == "":
			case seen%every == 0:
				page.Samples = append(page.Samples, s)
			case !s.Hit && len(page.Misses) < report.EvalMisses:
				page.Misses = append(page.Misses, s)
			}
			seen++
		},
	})
	if err != nil {
		return err
	}
	if err := opts.print(scores); err != nil {
		return err
	}
	failed := scores.Failed > 0
	if opts.Report != "" {
		page.Scores, page.Elapsed = scores, time.Since(started)
		if err := page.Write(opts.Report); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "saliency: --report %s: %v\n", opts.Report, err)
			failed = true
		}
	}
	if failed {
		return errPartial
	}
	return nil
}

func (opts *EvalOptions) print(r evaluate.Report) error {
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
