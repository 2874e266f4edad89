package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/postproc"
	"github.com/saliency-tool/saliency/internal/report"
)

// methodFlags are the flags that choose and tune the explaining method; explain
// and eval share them.
type methodFlags struct {
	Name     string
	Filter   string
	Reduce   string
	Samples  int
	Noise    float64
	Seed     uint64
	Steps    int
	Baseline string

	cmd *cobra.Command // to tell which flags the user set
}

func (mf *methodFlags) add(cmd *cobra.Command) {
	mf.cmd = cmd
	d := method.DefaultParams()
	f := cmd.Flags()
	f.StringVar(&mf.Name, "method", "gradients", "explaining `METHOD`: "+strings.Join(method.Names(), ", "))
	f.StringVar(&mf.Filter, "filter", "absolute", "pixel methods: keep the absolute, positive or negative part of each attribution")
	f.StringVar(&mf.Reduce, "reduce", "mean", "pixel methods: combine a pixel's colour channels by their mean or max")
	f.IntVar(&mf.Samples, "samples", d.Samples, "smoothgrad: noisy copies per map")
	f.Float64Var(&mf.Noise, "noise", d.Noise, "smoothgrad: noise standard deviation, as a share of the image's value range")
	f.Uint64Var(&mf.Seed, "seed", 0, "smoothgrad: seed of the noise")
	f.IntVar(&mf.Steps, "steps", d.Steps, "integrated: points of the trapezoidal rule from baseline to image, both ends included")
	f.StringVar(&mf.Baseline, "baseline", d.Baseline, "integrated: the path's start: "+strings.Join(method.Baselines, ", "))
}

// flagsOf lists the flags that only some methods read.
var flagsOf = map[string][]string{
	"samples":  {"smoothgrad"},
	"noise":    {"smoothgrad"},
	"seed":     {"smoothgrad"},
	"steps":    {"integrated"},
	"baseline": {"integrated"},
	"filter":   pixelMethods(),
	"reduce":   pixelMethods(),
}

// pixelMethods lists the methods the channel filter and reduction apply to.
func pixelMethods() []string {
	var names []string
	for _, n := range method.Names() {
		if method.PixelWise(n) {
			names = append(names, n)
		}
	}
	return names
}

// build checks the flags against the method and the model and returns the method.
// Every problem is a usage error: a flag the method does not read is refused
// rather than silently ignored.
// A zero methodFlags (options built without cobra, in tests) means the default
// method.
func (mf *methodFlags) build(man *manifest.Manifest) (method.Method, error) {
	if mf.Name == "" {
		d := method.DefaultParams()
		*mf = methodFlags{Name: "gradients", Filter: "absolute", Reduce: "mean",
			Samples: d.Samples, Noise: d.Noise, Steps: d.Steps, Baseline: d.Baseline}
	}
	for _, name := range []string{"samples", "noise", "seed", "steps", "baseline", "filter", "reduce"} {
		if mf.cmd != nil && mf.cmd.Flags().Changed(name) && !slices.Contains(flagsOf[name], mf.Name) {
			return nil, usagef("--%s does not apply to --method %s (it is for %s)", name, mf.Name, strings.Join(flagsOf[name], ", "))
		}
	}
	var p method.Params
	var err error
	if p.Channels.Filter, err = postproc.ParseFilter(mf.Filter); err != nil {
		return nil, usageError{fmt.Errorf("--filter: %w", err)}
	}
	if p.Channels.Reduce, err = postproc.ParseReduce(mf.Reduce); err != nil {
		return nil, usageError{fmt.Errorf("--reduce: %w", err)}
	}
	p.Samples, p.Noise, p.Seed, p.Steps, p.Baseline = mf.Samples, mf.Noise, mf.Seed, mf.Steps, mf.Baseline
	m, err := method.New(mf.Name, p)
	var bad *method.ParamError
	switch {
	case errors.As(err, &bad):
		return nil, usagef("--method %s: %s", mf.Name, bad.Named("--"+bad.Param))
	case err != nil:
		return nil, usageError{fmt.Errorf("--method %s: %w", mf.Name, err)}
	}
	if err := supports(man, mf.Name); err != nil {
		return nil, err
	}
	return m, nil
}

// params lists the parameters the chosen method reads, with their values, for
// a report.
func (mf *methodFlags) params() []report.Param {
	values := map[string]string{
		"filter": mf.Filter, "reduce": mf.Reduce, "samples": strconv.Itoa(mf.Samples),
		"noise": strconv.FormatFloat(mf.Noise, 'g', -1, 64), "seed": strconv.FormatUint(mf.Seed, 10),
		"steps": strconv.Itoa(mf.Steps), "baseline": mf.Baseline,
	}
	var ps []report.Param
	for _, name := range []string{"samples", "noise", "seed", "steps", "baseline", "filter", "reduce"} {
		if slices.Contains(flagsOf[name], mf.Name) {
			ps = append(ps, report.Param{Name: name, Value: values[name]})
		}
	}
	return ps
}

// supports refuses a method the model's manifest has no signature for: the one
// place the commands ask which methods a model can run (method.Supported).
func supports(man *manifest.Manifest, name string) error {
	if !slices.Contains(method.Supported(man), name) {
		return usagef("--method %s: model %s was exported without the %s signature (it supports %s)",
			name, man.Name, method.Role(name), strings.Join(method.Supported(man), ", "))
	}
	return nil
}
