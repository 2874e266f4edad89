// Package method holds the explaining methods. Each turns a batch of images and
// the units to explain into one map per image and unit, at the resolution the
// method works at and before normalisation; the engine normalises and resizes.
//
// The pixel methods (gradients, smoothgrad, integrated, blurig, guidedig,
// gradxinput) are loops and arithmetic around the model's one exported gradient
// signature: they build the inputs the method's definition needs (noisy copies,
// points on a path), send them to TensorFlow in calls of up to Batch.Rows
// image-unit rows (or Batch.Rows images, when the model explains five units of
// an image from one forward pass: sweep.go), and combine the gradients that come
// back. The class activation maps (cam.go) read the model's gradcam signature;
// occlusion and Score-CAM also send masked copies through its logits. A method
// sees the model through the Model interface, in Go types only.
package method

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/postproc"
)

// Model is what the methods need of a loaded model; *backprop.Model has it. The
// methods know it only through this interface, so that this package needs
// neither TensorFlow nor cgo.
type Model interface {
	InputSize() (h, w, c int)
	InputRange() (lo, hi float32)
	Logits(images []float32, n int) ([]float32, error)
	Gradients(images []float32, n int, units []int32, k int) (logits, grads []float32, err error)
	GradCAM(images []float32, n int, units []int32, k int) (CAM, error)
}

// SharedForward is a Model whose Gradients, called with k = SharedUnits(),
// explains those k units of each image from one forward pass (1 + k passes
// instead of 2k); *backprop.Model is one for exports that have the signature.
// sweep then sends an image's units in groups of that many.
type SharedForward interface {
	SharedUnits() int
}

// CAM is what a model's gradcam signature returns for n images and k units
// each: the selected logits, the activations A of the layer the manifest names
// (one H x W x C block per image) and d logit / d A (one block per image and
// unit).
type CAM struct {
	Layer       string
	Logits      []float32 // n*k
	Activations []float32 // n*H*W*C
	Gradients   []float32 // n*k*H*W*C
	H, W, C     int
}

// Batch is one call's work: N images (NHWC, at the model's input size and in its
// input range) and K units to explain for each.
type Batch struct {
	Images []float32
	N      int
	Units  []int32 // N*K, row by row
	K      int
	// Rows bounds the image-unit rows sent to TensorFlow in one call (memory
	// grows with it); methods that need many gradients per map fill every call.
	// A call of the five-unit signature counts its images (unitGroups).
	Rows int
}

// Result is a method's output for a Batch: row r = i*K + j is image i, unit j.
type Result struct {
	Logits     []float32   // N*K logits of the units on the images themselves
	Maps       [][]float32 // N*K maps of MapH x MapW values, not normalised
	MapH, MapW int
	// Completeness is the path methods' check (integrated, blurig, guidedig)
	// and FullGrad's, one per row; nil otherwise.
	Completeness []Completeness
}

// Completeness compares the sum of a path method's attributions with what
// they must add up to, the logit's change between the path's ends
// (Sundararajan et al. 2017, axiom of completeness); for FullGrad, the sum of
// the full-gradient decomposition's terms with the logit itself (Delta).
type Completeness struct {
	Sum   float64 `json:"attribution_sum"` // sum of the attributions over pixels and channels
	Delta float64 `json:"logit_delta"`     // logit(input) - logit(baseline), the path's start
	Gap   float64 `json:"gap"`             // |Sum - Delta| / |Delta|
}

// MarshalJSON writes a value that is not finite as null: the gap is 0/0 on an
// image equal to its baseline, and the record must still be written.
func (c Completeness) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Sum   jsonnum.Float64 `json:"attribution_sum"`
		Delta jsonnum.Float64 `json:"logit_delta"`
		Gap   jsonnum.Float64 `json:"gap"`
	}{jsonnum.Float64(c.Sum), jsonnum.Float64(c.Delta), jsonnum.Float64(c.Gap)})
}

// Method is one explaining method with its parameters set.
type Method interface {
	Name() string
	Explain(m Model, b Batch) (Result, error)
}

// Params are the methods' settings, as the command line gives them; each method
// reads its own.
type Params struct {
	Channels postproc.Channels // pixel methods: filter and channel reduction

	Samples int     // smoothgrad: noisy copies per map
	Noise   float64 // smoothgrad: noise standard deviation / the image's value range
	Seed    uint64  // smoothgrad: noise seed

	Steps    int    // integrated: points of the trapezoidal rule, ends included; blurig, guidedig: steps (0: PAIR saliency's default, BlurIGSteps, GuidedIGSteps)
	Baseline string // integrated: black, white or blur

	Smooth  int    // any method: noisy copies to average the maps over (0: none)
	TTA     string // any method: test-time augmentation, "flip" and zoom scales, comma-separated ("": none)
	VarGrad bool   // any method, with Smooth: the maps' variance instead of their mean

	MaxChannels int // scorecam: weigh only this many channels, those varying most over the positions (0: all)

	Patch  int     // occlusion: the patch's side in pixels (0: 1/8 of the input's shorter side)
	Stride int     // occlusion: pixels between positions (0: half the patch)
	Fill   float64 // occlusion: the patch's value, in the model's input units
}

// DefaultParams are the command line's defaults: PAIR saliency's SmoothGrad
// settings (25 samples, 15% noise) and 64 integration points from a black image.
func DefaultParams() Params {
	return Params{Samples: 25, Noise: 0.15, Steps: 64, Baseline: "black"}
}

// method is one registry line: how to build the method, the signature role it
// calls, whether the pixel filter and reduction apply, and the line --help
// shows (what it computes and its paper).
type method struct {
	build func(Params) (Method, error)
	role  string
	pixel bool
	about string
	paper string
}

var registry = map[string]method{
	"gradients":  {newGradients, "gradients", true, "d logit / d pixel, the default", "Simonyan et al. 2013"},
	"smoothgrad": {newSmoothGrad, "gradients", true, "mean gradient over --samples noisy copies", "Smilkov et al. 2017"},
	"integrated": {newIntegrated, "gradients", true, "integrated gradients from a --baseline in --steps points; --json reports the completeness gap", "Sundararajan et al. 2017"},
	"blurig":     {newBlurIG, "gradients", true, "Blur IG: integrated gradients along a path of blurs up to sigma 50, in --steps steps (PAIR saliency's); --json reports the completeness gap", "Xu et al. 2020"},
	"guidedig":   {newGuidedIG, "gradients", true, "Guided IG: integrated gradients along a path from black that moves the features of smallest gradient first, in --steps steps (PAIR saliency's); --json reports the completeness gap", "Kapishnikov et al. 2021"},
	"gradxinput": {newGradXInput, "gradients", true, "gradient times input pixel value", "Shrikumar et al. 2016"},
	"fullgrad":   {newFullGrad, "fullgrad", false, "FullGrad: |gradient x preprocessed input| plus every convolution's and BatchNormalization's |gradient x bias|, each min-max normalised and summed over channels; --json reports the completeness gap", "Srinivas & Fleuret 2019"},
	"cam":        {newCAM, "gradcam", false, "CAM: channels weighted by the unit's Dense weights; models whose logits are a Dense on the pooled block only", "Zhou et al. 2016"},
	"gradcam":    {newGradCAM, "gradcam", false, "Grad-CAM: channels weighted by their mean gradient", "Selvaraju et al. 2017"},
	"gradcampp":  {newGradCAMPP, "gradcam", false, "Grad-CAM++: weights from higher-order gradient terms", "Chattopadhay et al. 2018"},
	"layercam":   {newLayerCAM, "gradcam", false, "LayerCAM: each activation times its positive gradient", "Jiang et al. 2021"},
	"xgradcam":   {newXGradCAM, "gradcam", false, "XGrad-CAM: gradients averaged with activation weights", "Fu et al. 2020"},
	"hirescam":   {newHiResCAM, "gradcam", false, "HiResCAM: each activation times its gradient", "Draelos & Carin 2020"},
	"eigencam":   {newEigenCAM, "gradcam", false, "Eigen-CAM: first singular component of the block, no gradient", "Muhammad & Yeasin 2020"},
	"scorecam":   {newScoreCAM, "gradcam", false, "Score-CAM: each channel weighted by the unit's softmax score on the image masked by it; no gradient; --max-channels N for the faster variant", "Wang et al. 2020"},
	"occlusion":  {newOcclusion, "logits", false, "mean drop of the logit under a sliding --patch of --fill, every --stride pixels; forward passes only", "Zeiler & Fergus 2014"},
	"xrai":       {newXRAI, "gradients", false, "XRAI: regions of six Felzenszwalb segmentations ranked greedily by their mean integrated gradient (from the image's darkest and brightest values, --steps points each; PAIR saliency's)", "Kapishnikov et al. 2019"},
}

// Names lists the methods New knows, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Known reports whether name is a method New builds, wrapped (gradcam-smooth)
// or not.
func Known(name string) bool {
	_, ok := registry[Base(name)]
	return ok
}

// About is the method's one-line description for --help, and its paper
// ("Authors year").
func About(name string) (about, paper string) { return registry[name].about, registry[name].paper }

// New returns the method called name with its parameters checked.
func New(name string, p Params) (Method, error) {
	c, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (want one of %v)", name, Names())
	}
	m, err := c.build(p)
	if err != nil {
		return nil, err
	}
	if m, err = smooth(m, p); err != nil {
		return nil, err
	}
	return tta(m, p)
}

// Role is the manifest signature role (manifest.Roles) the method calls.
func Role(name string) string { return registry[Base(name)].role }

// Supported lists, sorted, the methods a model can run: those whose signature
// its manifest names.
func Supported(man *manifest.Manifest) []string {
	var names []string
	for _, n := range Names() {
		if Unsupported(man, n) == "" {
			names = append(names, n)
		}
	}
	return names
}

// Unsupported says why the model cannot run the method ("" when it can): the
// manifest lacks the signature the method calls, or, for CAM, the head it is
// defined on.
func Unsupported(man *manifest.Manifest, name string) string {
	role := Role(name)
	switch {
	case !man.Has(role):
		return fmt.Sprintf("model %s was exported without the %s signature", man.Name, role)
	case Base(name) == "cam" && !man.Signatures[role].PooledLinear:
		return fmt.Sprintf("model %s's logits are not a Dense layer on the global average of its %s layer "+
			"(the head CAM is defined on; models/export.py records it as pooled_linear): use gradcam, which generalises CAM",
			man.Name, man.Signatures[role].Layer)
	}
	return ""
}

// InputChecker is a method whose parameters must fit the model's input size
// (occlusion's patch); CheckInput then says whether they do.
type InputChecker interface {
	CheckInput(h, w int) error
}

// ParamError is a parameter outside what its method accepts. Its message names
// the parameter through Named, so that a caller can call it what its user
// knows it as (the command line: its flag).
type ParamError struct {
	Param  string // the parameter, as Params calls it, in lower case: "samples"
	format string // the message, with %s where the parameter's name goes
	args   []any
}

func paramError(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, format: format, args: args}
}

func (e *ParamError) Error() string { return e.Named(e.Param) }

// Named is the message with the parameter called name.
func (e *ParamError) Named(name string) string {
	return fmt.Sprintf(e.format, append([]any{name}, e.args...)...)
}

// PixelWise reports whether the method attributes to input pixels and channels,
// so that --filter and --reduce apply to it.
func PixelWise(name string) bool { return registry[Base(name)].pixel }
