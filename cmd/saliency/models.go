package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/method"
)

// ModelsOptions is everything `saliency models` needs.
type ModelsOptions struct {
	IO   *IO
	JSON bool
	// ModelPath is where models are looked for; nil means the default.
	ModelPath []string
}

// NewCmdModels builds `saliency models`.
func NewCmdModels(ios *IO, runF func(*ModelsOptions) error) *cobra.Command {
	opts := &ModelsOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the models that --model NAME finds",
		Long: `Models lists the exported models on the search path ($SALIENCY_MODELS, a
colon-separated list, then the models folder beside the binary's bin/, then
./models): name, architecture, input size, number of classes, what the scores
are (logits, or log-probabilities for a SavedModel whose softmax could not be
removed), weights, and the methods its signatures support. A model folder whose
manifest cannot be read is reported on stderr, and the exit status is then 1.`,
		Args: cobra.NoArgs,
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return modelsRun(opts)
		}),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object per model")
	return cmd
}

// modelRecord is one line of `saliency models --json`.
type modelRecord struct {
	Name         string   `json:"name"`
	Path         string   `json:"path"`
	Architecture string   `json:"architecture"`
	Height       int      `json:"height"`
	Width        int      `json:"width"`
	Classes      int      `json:"classes"`
	Scores       string   `json:"scores"`
	Weights      string   `json:"weights"`
	Methods      []string `json:"methods"`
	Shadowed     bool     `json:"shadowed,omitempty"`
}

func modelsRun(opts *ModelsOptions) error {
	path := searchPath(opts.ModelPath)
	found := manifest.List(path)
	var records []modelRecord
	broken := 0
	for _, f := range found {
		if f.Err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "saliency: %s: %v\n", f.Dir, f.Err)
			broken++
			continue
		}
		m := f.Manifest
		records = append(records, modelRecord{
			Name: f.Name, Path: f.Dir, Architecture: m.Architecture,
			Height: m.Input.Height, Width: m.Input.Width, Classes: len(m.Labels),
			Scores: m.OutputKind(), Weights: m.Weights, Methods: method.Supported(m), Shadowed: f.Shadowed,
		})
	}
	if opts.JSON {
		for _, r := range records {
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("%s: cannot encode its JSON record: %w", r.Path, err)
			}
			if _, err := fmt.Fprintf(opts.IO.Out, "%s\n", b); err != nil {
				return fmt.Errorf("%s: cannot write its JSON record: %w", r.Path, err)
			}
		}
	} else {
		writeModelTable(opts, records, path)
	}
	if broken > 0 {
		return errPartial
	}
	return nil
}

func writeModelTable(opts *ModelsOptions, records []modelRecord, path []string) {
	if len(records) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "saliency: no models in %s (export one with models/export.py)\n", strings.Join(path, ", "))
		return
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCHITECTURE\tHxW\tCLASSES\tSCORES\tWEIGHTS\tMETHODS\tPATH")
	for _, r := range records {
		name := r.Name
		if r.Shadowed {
			name += " (shadowed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d\t%d\t%s\t%s\t%s\t%s\n", name, r.Architecture, r.Height, r.Width,
			r.Classes, r.Scores, shorten(r.Weights, 28), methodsColumn(r.Methods), r.Path)
	}
	tw.Flush()
}

// shorten cuts s to n runes with an ellipsis (weights can be a file's sha256).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// methodsColumn is the table's short form of a model's methods: "all", or
// "all but" the few it lacks (--json lists them in full).
func methodsColumn(supported []string) string {
	var missing []string
	for _, n := range method.Names() {
		if !slices.Contains(supported, n) {
			missing = append(missing, n)
		}
	}
	switch {
	case len(missing) == 0:
		return "all"
	case len(missing) < len(supported):
		return "all but " + strings.Join(missing, ",")
	}
	return strings.Join(supported, ",")
}
