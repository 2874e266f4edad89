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
}

// Input is the image tensor a model expects: HWC float32 pixels in Range, with any
// preprocessing already inside the graph.
type Input struct {
	Height        int        `json:"height"`
	Width         int        `json:"width"`
	Channels      int        `json:"channels"`
	Range         [2]float32 `json:"range"`
	Preprocessing string     `json:"preprocessing"`
}

// Signature names a SavedModel signature and maps the roles the Go side uses
// (images, units, logits, gradients) to the signature's input and output keys.
type Signature struct {
	Name    string            `json:"name"`
	Inputs  map[string]string `json:"inputs"`
	Outputs map[string]string `json:"outputs"`
	// Layer names the layer whose activations a gradcam signature returns.
	Layer string `json:"layer,omitempty"`
}

// The signature roles the tool calls, with the keys each must map.
var requiredSignatures = map[string]struct{ inputs, outputs []string }{
	"logits":    {[]string{"images"}, []string{"logits"}},
	"gradients": {[]string{"images", "units"}, []string{"logits", "gradients"}},
}

// Signature roles a model may lack (older exports); checked when present.
var optionalSignatures = map[string]struct{ inputs, outputs []string }{
	"gradcam": {[]string{"images", "units"}, []string{"logits", "activations", "gradients"}},
	"top1":    {[]string{"images"}, []string{"units", "logits", "gradients"}},
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
	if len(m.Labels) == 0 {
		return errors.New("no labels")
	}
	if len(m.LabelIDs) != 0 && len(m.LabelIDs) != len(m.Labels) {
		return fmt.Errorf("%d label ids for %d labels", len(m.LabelIDs), len(m.Labels))
	}
	for role, keys := range requiredSignatures {
		sig, ok := m.Signatures[role]
		if !ok || sig.Name == "" {
			return fmt.Errorf("no %q signature", role)
		}
		if err := sig.check(role, keys.inputs, keys.outputs); err != nil {
			return err
		}
	}
	for role, keys := range optionalSignatures {
		if sig, ok := m.Signatures[role]; ok {
			if err := sig.check(role, keys.inputs, keys.outputs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (sig Signature) check(role string, inputs, outputs []string) error {
	if sig.Name == "" {
		return fmt.Errorf("signature %q has no name", role)
	}
	for _, k := range inputs {
		if sig.Inputs[k] == "" {
			return fmt.Errorf("signature %q does not name its %q input", role, k)
		}
	}
	for _, k := range outputs {
		if sig.Outputs[k] == "" {
			return fmt.Errorf("signature %q does not name its %q output", role, k)
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
	return "", fmt.Errorf("no model named %q in %s (export one with models/export.py, or pass a folder)",
		model, strings.Join(searchPath, ", "))
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
