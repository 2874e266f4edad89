// Package manifest reads the description that models/export.py writes beside every
// exported SavedModel (saliency.json): the input the model expects, its label names,
// and the names of the signatures and tensors to call. It is the whole contract
// between the exporter and the Go side, so the CLI carries no model-specific code.
// It also resolves a model name given on the command line to a folder.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the manifest's name inside an exported model folder.
const FileName = "saliency.json"

// Version is the manifest format this package reads.
const Version = 1

// Manifest describes one exported model.
type Manifest struct {
	Version      int                  `json:"version"`
	Name         string               `json:"name"`
	Architecture string               `json:"architecture"`
	Weights      string               `json:"weights"`
	Input        Input                `json:"input"`
	Labels       []string             `json:"labels"`
	LabelIDs     []string             `json:"label_ids,omitempty"`
	Signatures   map[string]Signature `json:"signatures"`
	// Output says what the logits are; absent in models exported before it existed,
	// which all had linear logits.
	Output Output `json:"output"`
	// Keras and TensorFlow are the versions that exported the model.
	Keras      string `json:"keras,omitempty"`
	TensorFlow string `json:"tensorflow,omitempty"`

	// Dir is the model folder Read found the manifest in ("" after Parse).
	Dir string `json:"-"`
}

// Output describes the scores the model returns as "logits".
type Output struct {
	// Kind is "logits" (pre-softmax scores) or "log_probabilities" (a SavedModel
	// whose softmax could not be removed: the same ranking, and gradients that
	// include the log-sum-exp term).
	Kind string `json:"kind"`
	// SoftmaxRemoved says the exporter took a final softmax off the model.
	SoftmaxRemoved bool   `json:"softmax_removed"`
	Note           string `json:"note,omitempty"`
}

// OutputKind is Output.Kind, "logits" for manifests that predate it.
func (m *Manifest) OutputKind() string {
	if m.Output.Kind == "" {
		return "logits"
	}
	return m.Output.Kind
}

// Input is the image tensor a model expects: HWC float32 pixels in Range, with any
// preprocessing already inside the graph.
type Input struct {
	Height        int        `json:"height"`
	Width         int        `json:"width"`
	Channels      int        `json:"channels"`
	Range         [2]float32 `json:"range"`
	Preprocessing string     `json:"preprocessing"`
	// Preprocess is the preprocessing mode (none, tf, caffe, torch) when the
	// exporter built it in; Preprocessing describes it for people.
	Preprocess string `json:"preprocess,omitempty"`
}

// Signature names a SavedModel signature and maps the roles the Go side uses
// (images, units, logits, gradients) to the signature's input and output keys.
type Signature struct {
	Name    string            `json:"name"`
	Inputs  map[string]string `json:"inputs"`
	Outputs map[string]string `json:"outputs"`
	// Layer names the layer whose activations a gradcam signature returns.
	Layer string `json:"layer,omitempty"`
	// PooledLinear, on gradcam, says the logits are a linear function of that
	// layer's global average over positions (GlobalAveragePooling2D, then a Dense
	// without activation): the head class activation mapping needs (Zhou et al.
	// 2016). Absent in exports before it and where the head is anything else.
	PooledLinear bool `json:"pooled_linear,omitempty"`
	// SharedForward, on gradients, names the signature that explains a fixed
	// number of units per image from one forward pass, and the SavedModel that
	// has it (exports of Keras models since issue 15; nil for older exports and
	// --savedmodel ones).
	SharedForward *SharedForward `json:"shared_forward,omitempty"`
	// Dir, when set, is the SavedModel of its own that holds this signature
	// (relative to the model's folder), with the logits role's signature
	// beside it (OwnRoles): only runs that call the role load it, so the
	// main SavedModel does not carry its memory (fullgrad since issue 16).
	Dir string `json:"dir,omitempty"`
}

// OwnRoles are the roles a Signature.Dir SavedModel has besides its own: what
// a run calls to choose the units it explains.
var OwnRoles = []string{"logits"}

// SharedForward is a signature with the gradients role's keys that takes
// units [N, Units] and runs the model forward once for all of them, then one
// backward pass per unit. It is in a SavedModel of its own, Dir (relative to
// the model's folder), which has the logits and gradients signatures too:
// every signature costs memory in the session whether called or not, so runs
// that do not use it load the main SavedModel without it.
type SharedForward struct {
	Units     int    `json:"units"`
	Signature string `json:"signature"`
	Dir       string `json:"dir"`
	// Top, when set, names a signature of the same SavedModel with the top1
	// role's keys that picks each image's Units highest logits (highest first,
	// ties to the lower index) and explains them from that forward pass.
	Top string `json:"top,omitempty"`
}

// SharedRoles are the roles a SharedForward SavedModel has besides its own
// signature: what a run that sends several units per image calls.
var SharedRoles = []string{"logits", "gradients"}

// Role is one kind of call the Go side makes to a model: a SavedModel signature
// that takes the Inputs keys and returns the Outputs keys, named by the manifest.
type Role struct {
	Name     string
	Inputs   []string
	Outputs  []string
	Required bool // every model must export it; the others are checked when present
}

// Roles lists every signature role the tool calls, once; models/export.py writes
// the manifest's signatures from the matching table on the Python side.
var Roles = []Role{
	{Name: "logits", Inputs: []string{"images"}, Outputs: []string{"logits"}, Required: true},
	{Name: "gradients", Inputs: []string{"images", "units"}, Outputs: []string{"logits", "gradients"}, Required: true},
	// One forward pass for the top unit and its gradient (optional: older exports).
	{Name: "top1", Inputs: []string{"images"}, Outputs: []string{"units", "logits", "gradients"}},
	// Grad-CAM's activations and their gradients (absent for wrapped SavedModels,
	// whose layers cannot be reached).
	{Name: "gradcam", Inputs: []string{"images", "units"}, Outputs: []string{"logits", "activations", "gradients"}},
	// FullGrad's decomposition (Srinivas & Fleuret 2019): the input terms
	// d logit / d x~ * x~ (x~ the preprocessed image), the bias maps summed and
	// every bias term summed (absent for wrapped SavedModels and exports before it).
	{Name: "fullgrad", Inputs: []string{"images", "units"}, Outputs: []string{"logits", "inputs", "bias", "bias_total"}},
}

// Parse decodes and validates a manifest.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Read reads and validates the manifest of the model in dir.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: not a model exported by models/export.py", dir, FileName)
	}
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	m.Dir = dir
	return m, nil
}

func (m *Manifest) validate() error {
	if m.Version != Version {
		return fmt.Errorf("manifest version %d, this saliency reads version %d", m.Version, Version)
	}
	in := m.Input
	if in.Height <= 0 || in.Width <= 0 || in.Height > 1<<14 || in.Width > 1<<14 {
		return fmt.Errorf("input size %dx%d out of range", in.Width, in.Height)
	}
	if in.Channels != 3 {
		return fmt.Errorf("input has %d channels; only RGB (3) models are supported", in.Channels)
	}
	if !holdsPixels(in.Range) {
		return fmt.Errorf("input range %v does not hold the pixel values 0..255 that saliency feeds", in.Range)
	}
	if len(m.Labels) == 0 {
		return errors.New("no labels")
	}
	if len(m.LabelIDs) != 0 && len(m.LabelIDs) != len(m.Labels) {
		return fmt.Errorf("%d label ids for %d labels", len(m.LabelIDs), len(m.Labels))
	}
	if m.Output.Kind != "" && m.Output.Kind != "logits" && m.Output.Kind != "log_probabilities" {
		return fmt.Errorf("output kind %q, want logits or log_probabilities", m.Output.Kind)
	}
	for _, role := range Roles {
		sig, ok := m.Signatures[role.Name]
		if !ok {
			if role.Required {
				return fmt.Errorf("no %q signature", role.Name)
			}
			continue
		}
		if err := sig.check(role); err != nil {
			return err
		}
		if d := sig.Dir; d != "" && (role.Required || !localDir(d)) {
			return fmt.Errorf("signature %q: dir %q: only optional roles may live in a folder inside the model's", role.Name, d)
		}
		if err := sig.SharedForward.check(); err != nil {
			return fmt.Errorf("signature %q: shared_forward: %w", role.Name, err)
		}
		if sf := sig.SharedForward; sf != nil && sf.Top != "" && m.Signatures["top1"].Name == "" {
			return fmt.Errorf("signature %q: shared_forward: top %q has no top1 signature to take its keys from", role.Name, sf.Top)
		}
	}
	return nil
}

func (sf *SharedForward) check() error {
	switch {
	case sf == nil:
		return nil
	case sf.Units < 2:
		return fmt.Errorf("%d units; want 2 or more", sf.Units)
	case sf.Signature == "":
		return errors.New("no signature name")
	case !localDir(sf.Dir):
		return fmt.Errorf("dir %q is not a folder inside the model's", sf.Dir)
	case sf.Top != "" && sf.Top == sf.Signature:
		return fmt.Errorf("top %q is the gradients signature's name", sf.Top)
	}
	return nil
}

// localDir reports whether dir names a folder inside the model's.
func localDir(dir string) bool {
	return dir != "" && !filepath.IsAbs(dir) && filepath.IsLocal(dir)
}

// holdsPixels reports whether an input range takes the 0..255 RGB values the
// Go side feeds unscaled; a missing range reads as [0, 0].
func holdsPixels(r [2]float32) bool { return r[0] <= 0 && r[1] >= 255 }

func (sig Signature) check(role Role) error {
	if sig.Name == "" {
		return fmt.Errorf("signature %q has no name", role.Name)
	}
	for _, k := range role.Inputs {
		if sig.Inputs[k] == "" {
			return fmt.Errorf("signature %q does not name its %q input", role.Name, k)
		}
	}
	for _, k := range role.Outputs {
		if sig.Outputs[k] == "" {
			return fmt.Errorf("signature %q does not name its %q output", role.Name, k)
		}
	}
	return nil
}

// Has reports whether the model exports the signature of role (e.g. "gradcam").
func (m *Manifest) Has(role string) bool {
	_, ok := m.Signatures[role]
	return ok
}

// Resolve turns the --model argument into a model folder. A path (anything with a
// separator, or an existing folder) is used as it is; a bare name is looked up in
// each folder of searchPath in turn.
func Resolve(model string, searchPath []string) (string, error) {
	if model == "" {
		return "", errors.New("no model given")
	}
	if strings.ContainsRune(model, os.PathSeparator) || isDir(model) {
		if !isDir(model) {
			return "", fmt.Errorf("model folder %s does not exist", model)
		}
		return model, nil
	}
	for _, dir := range searchPath {
		candidate := filepath.Join(dir, model)
		if isDir(candidate) {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("no model named %q in %s (export one: models/export.py --app %s --out DIR, "+
		"or --keras FILE or --savedmodel DIR; or pass a model folder)",
		model, strings.Join(searchPath, ", "), model)
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// Found is one model folder on the search path.
type Found struct {
	Name     string    // the folder's name, what --model NAME finds
	Dir      string    // the folder
	Manifest *Manifest // nil when Err is set
	Err      error     // the manifest is missing or invalid
	// Shadowed is true when a folder earlier on the search path has the same
	// name: --model Name finds that one, not this.
	Shadowed bool
}

// List returns the model folders in each folder of searchPath, in search order
// and by name within a folder: every subfolder that holds a manifest, valid or
// not (Err says why not). Search folders that do not exist are skipped.
func List(searchPath []string) []Found {
	var found []Found
	seen := map[string]bool{}
	roots := map[string]bool{} // the same folder twice on the path is listed once
	for _, root := range searchPath {
		if abs, err := filepath.Abs(root); err == nil {
			if roots[abs] {
				continue
			}
			roots[abs] = true
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if strings.HasPrefix(e.Name(), ".") || !isDir(dir) {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
				continue // not a model folder
			}
			f := Found{Name: e.Name(), Dir: dir, Shadowed: seen[e.Name()]}
			f.Manifest, f.Err = Read(dir)
			seen[e.Name()] = true
			found = append(found, f)
		}
	}
	return found
}
