package evaluate

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPointingHit(t *testing.T) {
	box := Box{1, 1, 3, 2} // pixels (1,1) and (2,1) of a 4x3 map
	m := []float32{
		0, 0, 0, 0,
		0, 0, 0.9, 0,
		0, 0, 0, 0.5,
	}
	if !PointingHit(m, 4, box) {
		t.Fatal("maximum at (2,1) is inside the box")
	}
	m[11] = 1 // (3,2), outside
	if PointingHit(m, 4, box) {
		t.Fatal("maximum at (3,2) is outside the box")
	}
	if PointingHit(make([]float32, 12), 4, box) {
		t.Fatal("an all-zero map points nowhere")
	}
}

func TestEnergyInBoxAndUniformShare(t *testing.T) {
	box := Box{0, 0, 2, 1}
	m := []float32{1, 2, 3, 4} // 2x2: the box holds the first row
	if got := EnergyInBox(m, 2, box); math.Abs(got-0.3) > 1e-12 {
		t.Fatalf("energy = %v, want 0.3", got)
	}
	if got := UniformShare(2, 2, box); got != 0.5 {
		t.Fatalf("uniform share = %v, want 0.5", got)
	}
	uniform := []float32{1, 1, 1, 1}
	if got := EnergyInBox(uniform, 2, box); got != UniformShare(2, 2, box) {
		t.Fatalf("a uniform map's energy %v differs from the box's share", got)
	}
}

// Spearman is Pearson on average ranks (numpy.corrcoef gives the tie case): identical
// order 1, reversed -1, and with ties averaged.
func TestSpearman(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5}
	if got := Spearman(a, []float32{10, 20, 30, 40, 50}); math.Abs(got-1) > 1e-12 {
		t.Fatalf("same order: %v", got)
	}
	if got := Spearman(a, []float32{5, 4, 3, 2, 1}); math.Abs(got+1) > 1e-12 {
		t.Fatalf("reversed: %v", got)
	}
	// ranks of b = [1, 2.5, 2.5, 4, 5]; Pearson with [1..5] = 0.9746794344808963
	if got := Spearman(a, []float32{1, 2, 2, 4, 5}); math.Abs(got-0.9746794344808963) > 1e-12 {
		t.Fatalf("ties: %v", got)
	}
	if !math.IsNaN(Spearman(a, []float32{3, 3, 3, 3, 3})) {
		t.Fatal("a constant map has no rank correlation")
	}
}

func TestReadBoxes(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "boxes.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"b.png": {"label": 3, "box": [1, 2, 5, 6]}, "a.png": {"label": 0, "box": [0, 0, 1, 1]}}`)
	items, err := ReadBoxes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].File != "a.png" || items[1].Label != 3 || items[1].Box != (Box{1, 2, 5, 6}) {
		t.Fatalf("items = %+v", items)
	}
	write(`{"a.png": {"box": [0, 0, 1, 1]}}`)
	if _, err := ReadBoxes(dir); err == nil || !strings.Contains(err.Error(), "needs a label") {
		t.Fatalf("missing label: %v", err)
	}
	write(`{"a.png": {"label": 1, "box": [3, 3, 3, 9]}}`)
	if _, err := ReadBoxes(dir); err == nil || !strings.Contains(err.Error(), "empty box") {
		t.Fatalf("empty box: %v", err)
	}
}
