// Package testenv finds, for the Go tests, what `make test` prepares before
// them: the exported models, the held-out composites and the reference files
// computed in Python. Each is named by an environment variable; a test that
// runs without it fails rather than skips, since a skipped test proves nothing.
// Only tests import this package.
package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The variables the Makefile's TEST_ENV sets.
const (
	Model             = "SALIENCY_TEST_MODEL"           // the random-weight Xception export
	Fashion           = "SALIENCY_TEST_FASHION"         // the trained demo model
	Composites        = "SALIENCY_TEST_COMPOSITES"      // held-out composites, seed 7
	GoalComposites    = "SALIENCY_TEST_GOAL_COMPOSITES" // held-out composites, seed 5011
	ResizeReference   = "SALIENCY_RESIZE_REFERENCE"     // tf.image.resize on random maps
	ColormapReference = "SALIENCY_COLORMAP_REFERENCE"   // matplotlib's colormap tables
)

// Path returns the absolute path variable names, failing the test if it is unset.
func Path(t testing.TB, variable string) string {
	t.Helper()
	p := os.Getenv(variable)
	if p == "" {
		t.Fatalf("%s not set: run the tests with `make test`", variable)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// Colormaps is what tests/reference/colormaps.py writes: for each colormap,
// the 256 rows of matplotlib's lookup table as float64 RGB and as bytes.
type Colormaps struct {
	Matplotlib string
	Colormaps  map[string]struct {
		Float [][3]float64
		RGB   [][3]uint8
	}
}

// ReadColormaps reads the file ColormapReference names.
func ReadColormaps(t testing.TB) Colormaps {
	t.Helper()
	path := Path(t, ColormapReference)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref Colormaps
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ref
}
