package main

import (
	"cmp"
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
	Patch    int
	Stride   int
	Fill     float64
	Smooth   int
	TTA      string
	MaxChan  int
	VarGrad  bool

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
	f.Float64Var(&mf.Noise, "noise", d.Noise, "smoothgrad and --smooth: noise standard deviation, as a share of the image's value range")
	f.Uint64Var(&mf.Seed, "seed", 0, "smoothgrad and --smooth: seed of the noise")
	f.IntVar(&mf.Steps, "steps", d.Steps, fmt.Sprintf("integrated: points of the trapezoidal rule from baseline to image, both ends included (the default shown); "+
		"blurig, guidedig: steps of the path, PAIR saliency's %d and %d unless set; xrai: integrated-gradient points per baseline, PAIR's %d unless set",
		method.BlurIGSteps, method.GuidedIGSteps, method.XRAISteps))
	f.StringVar(&mf.Baseline, "baseline", d.Baseline, "integrated: the path's start: "+strings.Join(method.Baselines, ", "))
	f.IntVar(&mf.Smooth, "smooth", 0, "any method: average its maps over `N` noisy copies of the image (--noise, --seed; 0: off)")
	f.BoolVar(&mf.VarGrad, "vargrad", false, "with --smooth: the maps' variance over the copies instead of their mean (VarGrad)")
	f.StringVar(&mf.TTA, "tta", "", "any method: average its maps over augmented views, `VIEWS` = flip and/or zoom scales, e.g. flip,0.5,1.5,2 (keras-explainable's tta)")
	f.IntVar(&mf.MaxChan, "max-channels", 0, "scorecam: weigh only the `N` channels that vary most over the positions (0: all)")
	f.IntVar(&mf.Patch, "patch", 0, "occlusion: the patch's side in pixels of the model's input (0: 1/8 of its shorter side)")
	f.IntVar(&mf.Stride, "stride", 0, "occlusion: pixels between patch positions (0: half the patch)")
	f.Float64Var(&mf.Fill, "fill", 0, "occlusion: the patch's value, in the model's input units (0: black for export.py's models)")
}

// methodFlagNames are the method flags that only some methods read, in the
// order reports list them.
var methodFlagNames = []string{"smooth", "vargrad", "tta", "samples", "noise", "seed", "steps", "baseline", "max-channels", "patch", "stride", "fill", "filter", "reduce"}

// reads reports whether the chosen method reads the flag: its own flags, and
// the noise's when --smooth wraps it.
func (mf *methodFlags) reads(flag string) bool {
	switch flag {
	case "smooth", "vargrad", "tta":
		return true
	case "noise", "seed":
		if mf.Smooth > 0 {
			return true
		}
	}
	return slices.Contains(flagsOf[flag], mf.Name)
}

// readers says which methods read the flag, for the refusal.
func (mf *methodFlags) readers(flag string) string {
	s := strings.Join(flagsOf[flag], ", ")
	if flag == "noise" || flag == "seed" {
		s += ", or any method with --smooth"
	}
	return s
}

// flagsOf lists the flags that only some methods read.
var flagsOf = map[string][]string{
	"samples":      {"smoothgrad"},
	"noise":        {"smoothgrad"},
	"seed":         {"smoothgrad"},
	"steps":        {"integrated", "blurig", "guidedig", "xrai"},
	"baseline":     {"integrated"},
	"max-channels": {"scorecam"},
	"patch":        {"occlusion"},
	"stride":       {"occlusion"},
	"fill":         {"occlusion"},
	"filter":       pixelMethods(),
	"reduce":       pixelMethods(),
}

// pairSteps are the --steps defaults of the methods that take PAIR saliency's.
var pairSteps = map[string]int{"blurig": method.BlurIGSteps, "guidedig": method.GuidedIGSteps, "xrai": method.XRAISteps}

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
	for _, name := range methodFlagNames {
		if mf.cmd != nil && mf.cmd.Flags().Changed(name) && !mf.reads(name) {
			return nil, usagef("--%s does not apply to --method %s (it is for %s)", name, mf.Name, mf.readers(name))
		}
	}
	if def, ok := pairSteps[mf.Name]; ok && mf.cmd != nil && !mf.cmd.Flags().Changed("steps") {
		mf.Steps = def // not integrated's 64: the value used, for the report too
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
	p.Patch, p.Stride, p.Fill = mf.Patch, mf.Stride, mf.Fill
	p.Smooth, p.VarGrad, p.MaxChannels, p.TTA = mf.Smooth, mf.VarGrad, mf.MaxChan, mf.TTA
	m, err := method.New(mf.Name, p)
	if ic, ok := m.(method.InputChecker); ok && err == nil {
		err = ic.CheckInput(man.Input.Height, man.Input.Width)
	}
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
		"patch": strconv.Itoa(mf.Patch), "stride": strconv.Itoa(mf.Stride),
		"fill":   strconv.FormatFloat(mf.Fill, 'g', -1, 64),
		"smooth": strconv.Itoa(mf.Smooth), "vargrad": strconv.FormatBool(mf.VarGrad), "tta": mf.TTA,
		"max-channels": strconv.Itoa(mf.MaxChan),
	}
	var ps []report.Param
	for _, name := range methodFlagNames {
		if mf.reads(name) && (name != "smooth" && name != "vargrad" || mf.Smooth > 0) && (name != "tta" || mf.TTA != "") {
			ps = append(ps, report.Param{Name: name, Value: values[name]})
		}
	}
	return ps
}

// supports refuses a method the model's manifest has no signature for: the one
// place the commands ask which methods a model can run (method.Supported).
func supports(man *manifest.Manifest, name string) error {
	if why := method.Unsupported(man, name); why != "" {
		return usagef("--method %s: %s (it supports %s)", name, why, strings.Join(method.Supported(man), ", "))
	}
	return nil
}

// methodList is --help's table of methods: the pixel methods first, then the
// class activation maps, each with its line from the registry.
func methodList() string {
	names := method.Names()
	slices.SortStableFunc(names, func(a, b string) int {
		return cmp.Compare(methodOrder(a), methodOrder(b))
	})
	var sb strings.Builder
	for _, n := range names {
		line := fmt.Sprintf("  %-11s", n)
		about, paper := method.About(n)
		// The paper is one unit: a line is not broken inside "(Fu et al. 2020)".
		for _, word := range append(strings.Fields(about), "("+paper+")") {
			if len(line)+1+len(word) > helpWidth {
				sb.WriteString(line + "\n")
				line = strings.Repeat(" ", 13)
			}
			line += " " + word
		}
		sb.WriteString(line + "\n")
	}
	return sb.String()
}

// helpWidth is the width --help's text is wrapped to.
const helpWidth = 80

// methodOrder puts the default first, the other pixel methods next, then
// XRAI and occlusion (regions and patches at the input's size), and the class
// activation maps last, Grad-CAM at their head.
func methodOrder(name string) int {
	switch {
	case name == "gradients":
		return 0
	case method.PixelWise(name):
		return 1
	case name == "xrai" || name == "occlusion":
		return 2
	case name == "gradcam":
		return 3
	}
	return 4
}
