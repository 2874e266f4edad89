package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// Goals of the demo-model issue, asserted on held-out composites that `make
// test` generates (models/fashion.py composites --split test --seed 5011): a
// seed drawn after the training recipe was frozen, never used to choose it
// (seed 7, the set the recipe was tuned against, serves the other tests).
// The accuracy aim of the issue is 0.85; models trained under TensorFlow 2.21
// reach 0.81 to 0.84 on 500 composites (training is not reproducible run to
// run), so 0.80 guards against a regression without pretending the aim is met.
const (
	minAccuracy       = 0.80
	minPointingGame   = 0.85
	minEnergyRatio    = 3.0 // energy in box over the uniform baseline
	maxRandomSpearman = 0.3
)

func fashionFixtures(t *testing.T) (model, composites string) {
	t.Helper()
	return testenv.Path(t, testenv.Fashion), testenv.Path(t, testenv.Composites)
}

// The trained model's maps point at the object, far above chance, and are not
// what a re-initialised model would draw (Adebayo et al. 2018).
func TestEvalMeetsTheGoalsOnHeldOutComposites(t *testing.T) {
	model, _ := fashionFixtures(t)
	composites := testenv.Path(t, testenv.GoalComposites)
	code, stdout, stderr := runMain(t, "", "eval", "--model", model, "--json", composites)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	t.Logf("%+v", r)
	if r.Images < 500 || r.Failed != 0 {
		t.Fatalf("scored %d composites, %d failed; want >= 500 and none", r.Images, r.Failed)
	}
	if !(r.Accuracy >= minAccuracy) { // NaN fails
		t.Errorf("accuracy %.3f < %.2f", r.Accuracy, minAccuracy)
	}
	if !(r.PointingGame >= minPointingGame) {
		t.Errorf("pointing game %.3f < %.2f", r.PointingGame, minPointingGame)
	}
	if !(r.EnergyInBox >= minEnergyRatio*r.UniformShare) {
		t.Errorf("energy in box %.3f < %.1f x uniform %.3f", r.EnergyInBox, minEnergyRatio, r.UniformShare)
	}
	if r.RandomModel == "" || r.SpearmanImages < r.Images*9/10 {
		t.Errorf("randomisation check ran on %d of %d images (model %q)", r.SpearmanImages, r.Images, r.RandomModel)
	}
	if !(r.RandomSpearman < maxRandomSpearman) {
		t.Errorf("rank correlation with the randomised model %.3f >= %.2f", r.RandomSpearman, maxRandomSpearman)
	}
}

// The table names every score, and --random-model none skips the check.
func TestEvalTable(t *testing.T) {
	model, composites := fashionFixtures(t)
	code, stdout, stderr := runMain(t, "", "eval", "--model", model, "--random-model", "none", "--limit", "20", composites)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"on 20 composites", "pointing game", "energy in box", "uniform"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "rank correlation") {
		t.Errorf("--random-model none still ran the check:\n%s", stdout)
	}
}

// eval runs any method; gradcam needs the signature in both models.
func TestEvalWithAnotherMethod(t *testing.T) {
	model, composites := fashionFixtures(t)
	code, stdout, stderr := runMain(t, "", "eval", "--model", model, "--method", "gradcam", "--limit", "30", "--json", composites)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if r.Method != "gradcam" || r.Images != 30 || r.SpearmanImages == 0 || r.PointingGame <= r.UniformShare {
		t.Errorf("%+v", r)
	}
}
