package report

import (
	"image"

	"github.com/saliency-tool/saliency/internal/engine"
)

func engineExplanation(img image.Image, m []float32, unit int) engine.Explanation {
	return engine.Explanation{Image: img, Maps: [][]float32{m}, Units: []int{unit}}
}
