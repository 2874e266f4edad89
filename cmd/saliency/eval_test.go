package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/jsonnum"
)

// boxesDir writes n small PNGs and a boxes.json naming a box in each.
func boxesDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var entries []string
	for i := range n {
		name := fmt.Sprintf("%03d.png", i)
		writePNG(t, filepath.Join(dir, name), 48, 40, i)
		entries = append(entries, fmt.Sprintf(`%q: {"label": %d, "box": [4, 6, 28, 30]}`, name, i))
	}
	writeFile(t, filepath.Join(dir, "boxes.json"), []byte("{"+strings.Join(entries, ", ")+"}"))
	return dir
}

// eval scores every composite and reports each score next to the uniform
// baseline; the randomisation check compares two real models' maps. The
// thresholds on the trained demo model belong to its own test (issue 3); here
// the random-weight Xception stands in, so only the bookkeeping is asserted.
func TestEvalReport(t *testing.T) {
	model := testModel(t)
	dir := boxesDir(t, 4)
	code, stdout, stderr := runMain(t, "", "eval", "--model", model, "--random-model", model, "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if r.Images != 4 || r.Failed != 0 {
		t.Fatalf("scored %d, failed %d; want 4 and 0", r.Images, r.Failed)
	}
	// The box covers 24*24 of 48*40 pixels.
	if want := jsonnum.Float64(24.0 * 24 / (48 * 40)); !(r.UniformShare > want-1e-9 && r.UniformShare < want+1e-9) {
		t.Errorf("uniform baseline %v, want %v", r.UniformShare, want)
	}
	for name, v := range map[string]jsonnum.Float64{"pointing": r.PointingGame, "energy": r.EnergyInBox, "accuracy": r.Accuracy} {
		if !(v >= 0 && v <= 1) {
			t.Errorf("%s = %v, outside [0, 1]", name, v)
		}
	}
	// The same model as its own "randomised" copy: identical maps, correlation 1.
	if r.SpearmanImages != 4 || r.RandomSpearman < 0.999 {
		t.Errorf("self rank correlation %v over %d images, want 1 over 4", r.RandomSpearman, r.SpearmanImages)
	}

	code, stdout, stderr = runMain(t, "", "eval", "--model", model, "--random-model", "none", "--limit", "2", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"on 2 composites", "pointing game", "energy in box", "uniform"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "rank correlation") {
		t.Errorf("--random-model none still ran the check:\n%s", stdout)
	}
}

func TestEvalUsageErrors(t *testing.T) {
	model := testModel(t)
	dir := boxesDir(t, 1)
	empty := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no boxes.json", []string{"eval", "--model", model, empty}, "boxes.json"},
		{"unknown model", []string{"eval", "--model", filepath.Join(empty, "nope"), dir}, "does not exist"},
		{"missing random model", []string{"eval", "--model", model, "--random-model", filepath.Join(empty, "nope"), dir}, "does not exist"},
		{"two folders", []string{"eval", dir, dir}, "accepts 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, "", c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want 2 and %q", code, stderr, stdout, c.want)
			}
		})
	}
}

// When no composite can be scored, the scores are undefined: the JSON report
// is still written, with them as null, and the exit status says it failed.
func TestEvalJSONWithNothingScored(t *testing.T) {
	model := testModel(t)
	dir := boxesDir(t, 2)
	for _, name := range []string{"000.png", "001.png"} {
		writeFile(t, filepath.Join(dir, name), []byte("not a PNG"))
	}
	code, stdout, stderr := runMain(t, "", "eval", "--model", model, "--random-model", "none", "--json", dir)
	if code != exitFailed || len(lines(stderr)) != 2 {
		t.Errorf("exit %d, stderr %q; want %d and a line per composite", code, stderr, exitFailed)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	for _, key := range []string{"accuracy", "pointing_game", "energy_in_box", "uniform_baseline"} {
		if v, present := r[key]; !present || v != nil {
			t.Errorf("%s = %v, want null: %s", key, v, stdout)
		}
	}
	if r["images"] != 0.0 || r["failed"] != 2.0 {
		t.Errorf("report %s", stdout)
	}
}
