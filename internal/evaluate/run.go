package evaluate

import (
	"context"
	"errors"
	"math"
	"path/filepath"

	"github.com/saliency-tool/saliency/internal/engine"
	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/method"
)

// Config says how to evaluate.
type Config struct {
	// Dir is the folder of the composites; Item.File is relative to it.
	Dir string
	// Method draws the maps.
	Method method.Method
	// BatchSize bounds the image-unit rows per TensorFlow call (engine.Config).
	BatchSize int
	// ModelName and RandomName name the models in the report.
	ModelName, RandomName string
	// Failed, when set, sees each composite that could not be explained, with
	// random true when it is the randomised model that failed on it.
	Failed func(image string, random bool, err error)
	// Scored, when set, sees each composite the model explained, in order,
	// with its map (for a report's pictures).
	Scored func(Scored)
}

// Scored is one composite explained and scored.
type Scored struct {
	Item
	Explanation engine.Explanation
	Hit         bool    // the map's maximum is in the box
	Energy      float64 // the share of the map inside the box
}

// Report is the outcome of an evaluation, as `saliency eval --json` prints it.
type Report struct {
	Model       string `json:"model"`
	Method      string `json:"method"`
	RandomModel string `json:"random_model,omitempty"`
	Images      int    `json:"images"`
	Failed      int    `json:"failed"`
	// The scores are null in JSON when undefined (no image scored, a NaN map).
	Accuracy       jsonnum.Float64 `json:"accuracy"`
	PointingGame   jsonnum.Float64 `json:"pointing_game"`
	EnergyInBox    jsonnum.Float64 `json:"energy_in_box"`
	UniformShare   jsonnum.Float64 `json:"uniform_baseline"`
	RandomSpearman jsonnum.Float64 `json:"randomization_spearman,omitempty"`
	SpearmanImages int             `json:"randomization_images,omitempty"`
}

// Run explains each item's composite with the model's top-1 unit and scores
// the maps against the item's box: top-1 accuracy, the pointing game and the
// energy in the box, each beside a uniform map's score. With random (a
// re-initialised copy of the model; nil to skip), it explains the same
// composites and units again and reports the mean Spearman rank correlation
// between the two maps (Adebayo et al. 2018). A composite that fails is
// counted in Failed and passed to cfg.Failed; the others are scored.
func Run(ctx context.Context, model, random engine.Model, items []Item, cfg Config) (Report, error) {
	if len(items) == 0 {
		return Report{}, errors.New("no composites to evaluate")
	}
	failed := cfg.Failed
	if failed == nil {
		failed = func(string, bool, error) {}
	}
	paths := make([]string, len(items))
	byPath := make(map[string]Item, len(items))
	for i, it := range items {
		paths[i] = filepath.Join(cfg.Dir, it.File)
		byPath[paths[i]] = it
	}
	report := Report{Model: cfg.ModelName, Method: cfg.Method.Name()}
	maps := map[string][]float32{}
	units := map[string][]int{}
	var hits, correct int
	var energy, uniform float64
	engine.Explain(ctx, model, paths, engine.Config{Method: cfg.Method, TopK: 1, BatchSize: cfg.BatchSize}, func(e engine.Explanation) {
		if e.Err != nil {
			failed(e.Path, false, e.Err)
			report.Failed++
			return
		}
		it, b := byPath[e.Path], e.Image.Bounds()
		report.Images++
		hit := PointingHit(e.Maps[0], b.Dx(), it.Box)
		if hit {
			hits++
		}
		if e.Units[0] == it.Label {
			correct++
		}
		share := EnergyInBox(e.Maps[0], b.Dx(), it.Box)
		energy += share
		uniform += UniformShare(b.Dx(), b.Dy(), it.Box)
		if cfg.Scored != nil {
			cfg.Scored(Scored{Item: it, Explanation: e, Hit: hit, Energy: share})
		}
		maps[e.Path], units[e.Path] = e.Maps[0], e.Units
	})
	n := float64(report.Images) // 0/0 is NaN: no score without an image
	report.Accuracy, report.PointingGame = jsonnum.Float64(float64(correct)/n), jsonnum.Float64(float64(hits)/n)
	report.EnergyInBox, report.UniformShare = jsonnum.Float64(energy/n), jsonnum.Float64(uniform/n)
	if random != nil && report.Images > 0 {
		report.RandomModel = cfg.RandomName
		var sum float64
		explained := make([]string, 0, len(maps))
		for _, p := range paths {
			if maps[p] != nil {
				explained = append(explained, p)
			}
		}
		rcfg := engine.Config{Method: cfg.Method, BatchSize: cfg.BatchSize, UnitsOf: func(p string) []int { return units[p] }}
		engine.Explain(ctx, random, explained, rcfg, func(e engine.Explanation) {
			if e.Err != nil {
				failed(e.Path, true, e.Err)
				return
			}
			if rho := Spearman(maps[e.Path], e.Maps[0]); !math.IsNaN(rho) {
				sum += rho
				report.SpearmanImages++
			}
		})
		if report.SpearmanImages > 0 {
			report.RandomSpearman = jsonnum.Float64(sum / float64(report.SpearmanImages))
		}
	}
	return report, ctx.Err()
}
