package method

import (
	"fmt"
	"math"
)

// FullGradEps is the constant FullGrad's normalisation adds to the maximum
// (the authors' FullGrad._postProcess, eps=1e-6; models/export.py uses the same
// for the bias maps).
const FullGradEps = 1e-6

// FullGradParts is what a model's fullgrad signature returns for n images and
// k units each (row r = i*k + j): the full-gradient decomposition of Srinivas &
// Fleuret (2019) of each selected logit over the preprocessed image x~ and the
// network's biases.
type FullGradParts struct {
	Logits []float32 // n*k
	// Inputs is d logit / d x~ * x~, one H x W x C block per row, x~ the image
	// after the model's preprocessing (which the export keeps in the graph).
	Inputs []float32
	// Bias is, per row, an H x W map: over the layers whose bias gradient is
	// spatial, the channel sum of psi(d logit / d z_l * b_l) resized to the
	// input (bilinear, aligned corners), summed; computed by the export.
	Bias []float32
	// BiasTotal is, per row, the sum of d logit / d z_l * b_l over every biased
	// layer and position (Dense layers too): with the sum of Inputs, the logit,
	// where the decomposition is exact.
	BiasTotal []float32
}

// FullGradModel is a Model whose export has the fullgrad signature;
// *backprop.Model is one. Kept out of Model, which other code implements.
type FullGradModel interface {
	FullGrad(images []float32, n int, units []int32, k int) (FullGradParts, error)
}

// fullGrad is FullGrad (Srinivas & Fleuret 2019, "Full-Gradient Representation
// for Neural Network Visualization"), as the authors' saliency/fullgrad.py
// computes it: the map is
//
//	sum_c psi(d logit / d x~ * x~)_c + sum_l sum_c upsample(psi(d logit / d z_l * b_l))_c
//
// where psi is |.| min-max normalised over the whole row (every channel and
// position), l runs over the layers with a bias whose output z_l is spatial, b_l
// is the layer's effective bias (a BatchNormalization's beta - gamma * mean /
// sqrt(var + eps)) and upsample is bilinear with aligned corners. The export
// computes the bias maps; this adds the input term's. psi fixes the sign and the
// channels, so the pixel filter and reduction do not apply. The decomposition
// itself, logit = sum(Inputs) + BiasTotal, is exact for piecewise-linear
// networks without other biases (ReLU, max-pooling, BatchNormalization at
// inference): Result.Completeness reports it for every row, Delta being the
// logit itself.
type fullGrad struct{}

// OwnRole is the signature role the named method calls that an export may
// hold in a SavedModel of its own (the manifest's Signature.Dir), "" for the
// methods that call only the main one's: a run of the method loads that
// SavedModel instead (backprop.Options.Own).
func OwnRole(name string) string {
	if Base(name) == "fullgrad" {
		return "fullgrad"
	}
	return ""
}

func newFullGrad(Params) (Method, error) { return fullGrad{}, nil }

func (fullGrad) Name() string { return "fullgrad" }

func (fullGrad) Explain(m Model, b Batch) (Result, error) {
	var res Result
	fm, ok := m.(FullGradModel)
	if !ok {
		return res, fmt.Errorf("fullgrad: the model offers no fullgrad signature")
	}
	h, w, c := m.InputSize()
	pixels, positions := h*w*c, h*w
	res.Logits = make([]float32, b.N*b.K)
	res.Maps = make([][]float32, b.N*b.K)
	res.Completeness = make([]Completeness, b.N*b.K)
	res.MapH, res.MapW = h, w
	per := max(b.Rows/b.K, 1)
	for lo := 0; lo < b.N; lo += per {
		hi := min(lo+per, b.N)
		parts, err := fm.FullGrad(b.Images[lo*pixels:hi*pixels], hi-lo, b.Units[lo*b.K:hi*b.K], b.K)
		if err != nil {
			return res, err
		}
		rows := (hi - lo) * b.K
		if len(parts.Logits) != rows || len(parts.Inputs) != rows*pixels || len(parts.Bias) != rows*positions || len(parts.BiasTotal) != rows {
			return res, fmt.Errorf("fullgrad: %d logits, %d input terms, %d bias map values, %d bias totals for %d rows of %dx%dx%d",
				len(parts.Logits), len(parts.Inputs), len(parts.Bias), len(parts.BiasTotal), rows, h, w, c)
		}
		for r := range rows {
			row := lo*b.K + r
			inputs := parts.Inputs[r*pixels : (r+1)*pixels]
			mp, sum := fullGradMap(inputs, parts.Bias[r*positions:(r+1)*positions], c)
			logit := parts.Logits[r]
			sum += float64(parts.BiasTotal[r])
			res.Logits[row], res.Maps[row] = logit, mp
			res.Completeness[row] = Completeness{Sum: sum, Delta: float64(logit), Gap: math.Abs(sum-float64(logit)) / math.Abs(float64(logit))}
		}
	}
	return res, nil
}

// fullGradMap is sum_c psi(inputs)_c + bias at every position (inputs is
// positions x channels), and the plain sum of inputs (the input terms of the
// completeness check).
func fullGradMap(inputs, bias []float32, channels int) ([]float32, float64) {
	psi, sum := psiNormalize(inputs)
	out := make([]float32, len(bias))
	for p := range out {
		var s float64
		for _, v := range psi[p*channels : (p+1)*channels] {
			s += v
		}
		out[p] = float32(s + float64(bias[p]))
	}
	return out, sum
}

// psiNormalize is FullGrad's psi on one row: |t| less its minimum, over its
// new maximum plus FullGradEps (the authors' _postProcess); also the sum of t.
func psiNormalize(t []float32) ([]float64, float64) {
	out := make([]float64, len(t))
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for i, v := range t {
		a := math.Abs(float64(v))
		out[i], sum = a, sum+float64(v)
		lo, hi = min(lo, a), max(hi, a)
	}
	scale := hi - lo + FullGradEps
	for i := range out {
		out[i] = (out[i] - lo) / scale
	}
	return out, sum
}
