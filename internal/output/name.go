// Package output owns what `saliency explain` writes and how it is named: the
// naming rule (used both to name outputs and to tell them apart from inputs in a
// folder), the plan of a run's outputs (one stem per input, inputs whose outputs
// would collide refused, inputs already done skipped, files of the whole run
// checked against the inputs before any work), the heatmaps, overlays and raw
// arrays with their colours, the contact sheet, the per-input record that
// --json prints, and the atomic writing under all of them (a temporary file in
// the target folder, then a rename: a file that exists is whole, and
// RemoveTemporaries clears what a stopped run was writing). It is handed maps
// as Go slices and knows nothing about models or TensorFlow.
package output

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saliency-tool/saliency/internal/method"
)

// The kinds of output; raw arrays are of kind Heatmap.
const (
	Heatmap = "saliency"
	Overlay = "overlay"
)

// Name is the name of one output file. It is the one naming rule, used to name
// what is written and to recognise it among inputs (the README states it for
// people and for bench/):
//
//	<stem>.<kind>[.<method>][.<unit>]<ext>
//
// with the method there for every method but gradients, and the unit when an
// image gets several maps (a raw array holds them all and has no unit).
type Name struct {
	Stem    string // the input's file name without extension, in the output folder
	Kind    string // Heatmap or Overlay
	Method  string // "" for gradients, the default method
	Unit    int
	HasUnit bool   // the image gets several maps: Unit is in the name
	Ext     string // ".png" or ".npy"
}

// String is the file name.
func (n Name) String() string {
	s := n.Stem + "." + n.Kind
	if n.Method != "" {
		s += "." + n.Method
	}
	if n.HasUnit {
		s += "." + strconv.Itoa(n.Unit)
	}
	return s + n.Ext
}

// Parse reads a file name that String could have written, for any method
// method.New knows; ok is false for any other name. "photo.saliency.v2.png" is
// not an output: v2 is neither a method nor a unit.
func Parse(file string) (n Name, ok bool) {
	ext := filepath.Ext(file)
	stem := strings.TrimSuffix(file, ext)
	for _, kind := range []string{Heatmap, Overlay} {
		if before, found := strings.CutSuffix(stem, "."+kind); found {
			return Name{Stem: before, Kind: kind, Ext: ext}, true
		}
		i := strings.LastIndex(stem, "."+kind+".")
		if i < 0 {
			continue
		}
		n = Name{Stem: stem[:i], Kind: kind, Ext: ext}
		if readTag(&n, stem[i+len(kind)+2:]) {
			return n, true
		}
	}
	return Name{}, false
}

// readTag reads what follows the kind: a method's name, a unit, or both
// (method.unit).
func readTag(n *Name, tag string) bool {
	first, unit, hasUnit := strings.Cut(tag, ".")
	if u, err := strconv.Atoi(first); err == nil && !hasUnit {
		n.Unit, n.HasUnit = u, true
		return true
	}
	if !method.Known(first) {
		return false
	}
	n.Method = first
	if hasUnit {
		u, err := strconv.Atoi(unit)
		n.Unit, n.HasUnit = u, true
		return err == nil
	}
	return true
}

// IsOutput tells whether a file name is one saliency writes, so that a run over
// a folder does not explain its own heatmaps.
func IsOutput(file string) bool {
	_, ok := Parse(file)
	return ok
}

// methodTag is what a method puts in its outputs' names: nothing for gradients,
// the default, so that its names stay those of the first versions.
func methodTag(name string) string {
	if name == "gradients" {
		return ""
	}
	return name
}
