package engine_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/output"
)

// TestTimingsCountEveryStage runs a batch of 5 images, K = 2, 2 images per
// step, with one unreadable file among them, and checks that each stage was
// timed and that rows count only explained image-unit pairs.
func TestTimingsCountEveryStage(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for i := range 5 {
		p := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		writePNG(t, p, 40+i, 30, i)
		inputs = append(inputs, p)
	}
	broken := filepath.Join(dir, "broken.png")
	writeFile(t, broken, []byte("not a png"))
	inputs = append(inputs, broken)

	var tm engine.Timings
	began := time.Now()
	got, failed := run(t, inputs, engine.Config{TopK: 2, BatchSize: 2, Timings: &tm}, output.Options{Dir: t.TempDir()})
	wall := time.Since(began)
	if failed != 1 || len(got) != len(inputs) {
		t.Fatalf("%d results, %d failed; want %d and 1", len(got), failed, len(inputs))
	}
	if tm.Rows() != 5*2 {
		t.Errorf("rows %d, want 10 (5 decoded images x K 2)", tm.Rows())
	}
	for _, s := range engine.Stages() {
		if s == engine.WaitDecode {
			continue // the prefetch may always be ready in time
		}
		if tm.Time(s) <= 0 {
			t.Errorf("stage %s: %v, want > 0", s, tm.Time(s))
		}
	}
	// Stages on the run's own goroutine cannot add up to more than the run.
	var serial time.Duration
	for _, s := range []engine.Stage{engine.WaitDecode, engine.Compute, engine.Postprocess, engine.Write} {
		serial += tm.Time(s)
	}
	if serial > wall {
		t.Errorf("wait+compute+postprocess+write = %v, more than the run's %v", serial, wall)
	}
	// The batch size 2 makes the first batch 2 images x 2 units.
	first, firstRows := tm.FirstBatch()
	if firstRows != 4 || first <= 0 || first > tm.Time(engine.Compute) {
		t.Errorf("first batch %v with %d rows; want 4 rows and a share of compute %v", first, firstRows, tm.Time(engine.Compute))
	}
}

func TestStageNames(t *testing.T) {
	want := []string{"decode", "wait for decode", "compute", "postprocess", "write"}
	stages := engine.Stages()
	if len(stages) != len(want) {
		t.Fatalf("%d stages, want %d", len(stages), len(want))
	}
	for i, s := range stages {
		if s.String() != want[i] {
			t.Errorf("stage %d is %q, want %q", i, s, want[i])
		}
	}
}
