package output

import (
	"github.com/saliency-tool/saliency/internal/jsonnum"
	"github.com/saliency-tool/saliency/internal/method"
)

// Files are the files written for one input.
type Files struct {
	Maps     []string `json:"maps,omitempty"`
	Overlays []string `json:"overlays,omitempty"`
	Raw      string   `json:"raw,omitempty"`
}

// Record is what happened to one input of a run, as --json prints it.
type Record struct {
	Image  string   `json:"image"`
	Width  int      `json:"width,omitempty"`
	Height int      `json:"height,omitempty"`
	Units  []int    `json:"units,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// Logits that are not finite (a broken model) are written as null.
	Logits jsonnum.Float32s `json:"logits,omitempty"`
	// Scores says what Logits are: "logits" (pre-softmax: the exporter removes a
	// final softmax) or "log_probabilities" (a SavedModel whose softmax is inside
	// its graph), as the model's manifest says.
	Scores string `json:"scores,omitempty"`
	Files
	// Method names the method that drew the maps.
	Method string `json:"method,omitempty"`
	// Completeness is the path methods' and FullGrad's check, one per unit.
	Completeness []method.Completeness `json:"completeness,omitempty"`
	Skipped      bool                  `json:"skipped,omitempty"`
	Err          error                 `json:"-"`
}
