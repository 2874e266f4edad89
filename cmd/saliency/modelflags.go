package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/backprop"
	"github.com/saliency-tool/saliency/internal/hostcpu"
	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/method"
	"github.com/saliency-tool/saliency/internal/report"
)

// addModelFlags declares the flags that choose the model, how much of it runs
// at once and in which arithmetic, shared by explain and eval.
func addModelFlags(cmd *cobra.Command, model *string, batchSize *int, precision *string) {
	f := cmd.Flags()
	f.StringVarP(model, "model", "m", "xception", "model folder, or the name of one in the models folder")
	f.IntVarP(batchSize, "batch-size", "b", 0, "image-unit rows per TensorFlow call, images for the five-unit signature (0: one per 299x299 of model input)")
	f.StringVar(precision, "precision", "float32", "arithmetic of the model: float32, or bfloat16 (oneDNN mixed precision; CPUs with AVX512-BF16 or AMX only)")
}

// checkPrecision refuses a --precision other than float32 (or "", options
// built without flags) and bfloat16, and bfloat16 on a CPU that would only
// emulate it (slower than float32, and less exact).
func checkPrecision(p string) error {
	switch p {
	case "float32", "":
		return nil
	case "bfloat16":
		if native, model := hostcpu.BFloat16(); !native {
			return usagef("--precision bfloat16: this CPU (%s) has no native bfloat16 arithmetic "+
				"(neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo); TensorFlow would emulate it, slower than float32", model)
		}
		return nil
	}
	return usagef("--precision %q: want float32 or bfloat16", p)
}

// checkBatchSize refuses a negative --batch-size.
func checkBatchSize(n int) error {
	if n < 0 {
		return usagef("--batch-size must not be negative, got %d", n)
	}
	return nil
}

// searchPath is where a bare --model name is looked up: path when the
// options set one (tests do), else the default.
func searchPath(path []string) []string {
	if path != nil {
		return path
	}
	return defaultModelPath()
}

// defaultModelPath is $SALIENCY_MODELS, then the models that came with the
// program, then ./models. The program's models are found from where its
// executable is: a checkout's bin/saliency has them in models/ beside bin/;
// an installed tree (make install, make dist) runs PREFIX/lib/saliency/saliency
// and has them in PREFIX/share/saliency/models.
func defaultModelPath() []string {
	var path []string
	if env := os.Getenv("SALIENCY_MODELS"); env != "" {
		path = append(path, filepath.SplitList(env)...)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			dir := filepath.Dir(exe)
			if filepath.Base(dir) == "saliency" && filepath.Base(filepath.Dir(dir)) == "lib" {
				path = append(path, filepath.Join(dir, "..", "..", "share", "saliency", "models"))
			} else {
				path = append(path, filepath.Join(filepath.Dir(dir), "models"))
			}
		}
	}
	return append(path, "models")
}

// foundModel is a --model resolved on the search path with its manifest read,
// once: the flags are checked against it before the slow part, load.
type foundModel struct {
	name     string // as the user gave it
	manifest *manifest.Manifest
}

// findModel resolves a --model argument and reads its manifest. Every failure
// is a usage error.
func findModel(name string, path []string) (*foundModel, error) {
	dir, err := manifest.Resolve(name, searchPath(path))
	if err != nil {
		return nil, usageError{err}
	}
	man, err := manifest.Read(dir)
	if err != nil {
		return nil, usageError{fmt.Errorf("model %s: %w", name, err)}
	}
	return &foundModel{name: name, manifest: man}, nil
}

// load starts the model's TensorFlow session from the manifest already read.
func (f *foundModel) load(opts backprop.Options) (*backprop.Model, error) {
	m, err := backprop.Open(f.manifest, opts)
	if err != nil {
		return nil, usageError{fmt.Errorf("model %s: %w", f.name, err)}
	}
	return m, nil
}

// options are the session options for a run of the named method with k units
// per image: the SavedModel with the signature for several units from one
// forward pass when the run sends its units in groups, the one with fullgrad's
// when the method is fullgrad (each holds only what such a run calls; the main
// one, without them, is lighter for every other run).
func (f *foundModel) options(methodName string, k int, precision string) backprop.Options {
	sf := f.manifest.Signatures["gradients"].SharedForward
	return backprop.Options{
		SharedForward: sf != nil && method.SharesForward(methodName, k, sf.Units),
		Own:           method.OwnRole(methodName),
		BFloat16:      precision == "bfloat16",
	}
}

// reportModel says which model a report is about.
func (f foundModel) reportModel() report.Model {
	m := f.manifest
	name := m.Name
	if name == "" {
		name = f.name
	}
	return report.Model{Name: name, Architecture: m.Architecture, Weights: m.Weights,
		Height: m.Input.Height, Width: m.Input.Width}
}
