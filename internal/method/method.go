// Package method holds the explaining methods. Each turns a batch of images and
// the units to explain into one map per image and unit, at the resolution the
// method works at and before normalisation; the engine normalises and resizes.
//
// The pixel methods (gradients, smoothgrad, integrated, gradxinput) are loops and
// arithmetic around the model's one exported gradient signature: they build the
// inputs the method's definition needs (noisy copies, points on a path), send them
// to TensorFlow in calls of up to Batch.Rows image-unit rows (or Batch.Rows
// images, when the model explains five units of an image from one forward pass:
// sweep.go), and combine the gradients that come back. gradcam reads the model's gradcam signature. A method
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
	// Completeness is integrated gradients' check, one per row; nil otherwise.
	Completeness []Completeness
}

// Completeness compares the sum of integrated-gradient attributions with what
// they must add up to (Sundararajan et al. 2017, axiom of completeness).
type Completeness struct {
	Sum   float64 `json:"attribution_sum"` // sum of the attributions over pixels and channels
	Delta float64 `json:"logit_delta"`     // logit(input) - logit(baseline)
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

	Steps    int    // integrated: points of the trapezoidal rule, ends included
	Baseline string // integrated: black, white or blur
}

// DefaultParams are the command line's defaults: PAIR saliency's SmoothGrad
// settings (25 samples, 15% noise) and 64 integration points from a black image.
func DefaultParams() Params {
	return Params{Samples: 25, Noise: 0.15, Steps: 64, Baseline: "black"}
}

var constructors = map[string]func(Params) (Method, error){
	"gradients":  newGradients,
	"smoothgrad": newSmoothGrad,
	"integrated": newIntegrated,
	"gradxinput": newGradXInput,
	"gradcam":    newGradCAM,
}

// Names lists the methods New knows, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the method called name with its parameters checked.
func New(name string, p Params) (Method, error) {
	c, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (want one of %v)", name, Names())
	}
	return c(p)
}

// Role is the manifest signature role (manifest.Roles) the method calls.
func Role(name string) string {
	if name == "gradcam" {
		return "gradcam"
	}
	return "gradients"
}

// Supported lists, sorted, the methods a model can run: those whose signature
// its manifest names.
func Supported(man *manifest.Manifest) []string {
	var names []string
	for _, n := range Names() {
		if man.Has(Role(n)) {
			names = append(names, n)
		}
	}
	return names
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
func PixelWise(name string) bool { return name != "gradcam" }
