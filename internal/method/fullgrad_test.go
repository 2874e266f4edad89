package method

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// FullGrad's arithmetic by hand: psi (the authors' _postProcess), the map and
// the completeness sums, and how Explain batches its calls.

func TestFullGradPsiByHand(t *testing.T) {
	// |t| = 2 1 0.5 3: minimum 0.5, then maximum 2.5 (+ eps).
	psi, sum := psiNormalize([]float32{-2, 1, 0.5, 3})
	d := 2.5 + 1e-6
	want := []float64{1.5 / d, 0.5 / d, 0, 2.5 / d}
	for i := range want {
		if math.Abs(psi[i]-want[i]) > 1e-12 {
			t.Errorf("psi[%d] = %.9g, want %.9g", i, psi[i], want[i])
		}
	}
	if sum != 2.5 {
		t.Errorf("sum %g, want 2.5 (signed, not of |t|)", sum)
	}
	// A constant row is all zeros (eps keeps it finite), not NaN.
	psi, _ = psiNormalize([]float32{-4, 4, 4})
	for i, v := range psi {
		if v != 0 {
			t.Errorf("constant |t|: psi[%d] = %g, want 0", i, v)
		}
	}
}

func TestFullGradMapByHand(t *testing.T) {
	// Two positions of two channels: |inputs| = 1 3 | 2 0, normalised over all
	// four values (minimum 0, maximum 3), summed per position, plus the bias map.
	inputs := []float32{1, -3, 2, 0}
	mp, sum := fullGradMap(inputs, []float32{0.5, 0.25}, 2)
	d := 3 + 1e-6
	want := []float64{(1+3)/d + 0.5, (2+0)/d + 0.25}
	for p := range want {
		if math.Abs(float64(mp[p])-want[p]) > 1e-6 {
			t.Errorf("map[%d] = %.7g, want %.7g", p, mp[p], want[p])
		}
	}
	if sum != 0 {
		t.Errorf("sum of the input terms %g, want 0", sum)
	}
}

// fakeModel is a 1x2 RGB Model with no signature at all.
type fakeModel struct{}

func (fakeModel) InputSize() (h, w, c int)                 { return 1, 2, 3 }
func (fakeModel) InputRange() (lo, hi float32)             { return 0, 255 }
func (fakeModel) Logits([]float32, int) ([]float32, error) { return nil, errors.New("unused") }
func (fakeModel) GradCAM([]float32, int, []int32, int) (CAM, error) {
	return CAM{}, errors.New("unused")
}
func (fakeModel) Gradients([]float32, int, []int32, int) ([]float32, []float32, error) {
	return nil, nil, errors.New("unused")
}

// fullGradFake has a fullgrad signature that returns, for the row of image i
// (whose first value v sets s = v + 1) and unit u, the input terms
// (s, -2s, 0 | 2s, 0, 0), the bias map (u, 0.5) and the bias total 10u; the
// logit is s + 10u + 0.001u, the sum of the terms off by 0.001u. It records
// the rows of each call; short cuts the bias map to one value.
type fullGradFake struct {
	fakeModel
	calls []int
	short bool
}

func (f *fullGradFake) FullGrad(images []float32, n int, units []int32, k int) (FullGradParts, error) {
	f.calls = append(f.calls, n*k)
	var p FullGradParts
	for i := range n {
		for j := range k {
			s, u := images[i*6]+1, float32(units[i*k+j])
			p.Inputs = append(p.Inputs, s, -2*s, 0, 2*s, 0, 0)
			p.Bias = append(p.Bias, u, 0.5)
			p.BiasTotal = append(p.BiasTotal, 10*u)
			p.Logits = append(p.Logits, s+10*u+0.001*u)
		}
	}
	if f.short {
		p.Bias = p.Bias[:1]
	}
	return p, nil
}

func TestFullGradExplainByHand(t *testing.T) {
	f := &fullGradFake{}
	// Three images (first values 0, 1, 2), units 1 and 4 each; two rows per call.
	b := Batch{Images: make([]float32, 3*6), N: 3, Units: []int32{1, 4, 1, 4, 1, 4}, K: 2, Rows: 2}
	for i := range 3 {
		b.Images[i*6] = float32(i)
	}
	res, err := fullGrad{}.Explain(f, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 3 || f.calls[0] != 2 {
		t.Errorf("calls of %v rows, want one image (2 rows) per call", f.calls)
	}
	if res.MapH != 1 || res.MapW != 2 || len(res.Maps) != 6 || len(res.Completeness) != 6 {
		t.Fatalf("maps %dx%d, %d maps, %d completeness records", res.MapW, res.MapH, len(res.Maps), len(res.Completeness))
	}
	for row := range 6 {
		s, u := float64(row/2+1), float64(b.Units[row])
		// |terms| s 2s 0 | 2s 0 0 over their maximum 2s: position sums 1.5 and 1.
		want := []float64{3*s/(2*s+1e-6) + u, 2*s/(2*s+1e-6) + 0.5}
		for p := range want {
			if math.Abs(float64(res.Maps[row][p])-want[p]) > 1e-6 {
				t.Errorf("row %d map[%d] = %.7g, want %.7g", row, p, res.Maps[row][p], want[p])
			}
		}
		c, logit, sum := res.Completeness[row], s+10*u+0.001*u, s+10*u
		if math.Abs(c.Sum-sum) > 1e-5 || math.Abs(c.Delta-logit) > 1e-5 || math.Abs(c.Gap-0.001*u/logit) > 1e-6 ||
			math.Abs(float64(res.Logits[row])-logit) > 1e-5 {
			t.Errorf("row %d: completeness %+v, logit %g; want sum %g, delta %g, gap %g", row, c, res.Logits[row], sum, logit, 0.001*u/logit)
		}
	}
}

// A model without the signature is refused by name; so is one that returns
// the wrong number of values.
func TestFullGradRefusals(t *testing.T) {
	b := Batch{Images: make([]float32, 6), N: 1, Units: []int32{0}, K: 1, Rows: 1}
	if _, err := (fullGrad{}).Explain(fakeModel{}, b); err == nil || !strings.Contains(err.Error(), "fullgrad") {
		t.Errorf("model without fullgrad: %v", err)
	}
	if _, err := (fullGrad{}).Explain(&fullGradFake{short: true}, b); err == nil || !strings.Contains(err.Error(), "bias map values") {
		t.Errorf("short bias map: %v", err)
	}
}
