// Package evaluate scores saliency maps against where the evidence really is:
// composites whose object box is known (boxes.json, written by
// models/fashion.py). It computes the pointing game (Zhang et al. 2016: does the
// map's maximum fall inside the box), the energy in the box (the share of the
// map's mass inside it), their baseline for a uniform map (the box's share of
// the image), and Spearman's rank correlation between two maps, used for the
// model-randomisation sanity check of Adebayo et al. 2018: pure functions on
// float32 maps, row-major, w*h values. Run is the procedure `saliency eval`
// follows: it explains the composites through the engine and scores them.
package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Box is a pixel rectangle, X1 and Y1 exclusive.
type Box struct{ X0, Y0, X1, Y1 int }

// Contains tells whether pixel (x, y) is inside the box.
func (b Box) Contains(x, y int) bool { return x >= b.X0 && x < b.X1 && y >= b.Y0 && y < b.Y1 }

// Area is the number of pixels in the box.
func (b Box) Area() int { return max(b.X1-b.X0, 0) * max(b.Y1-b.Y0, 0) }

// Item is one composite: the class of the pasted object and its box.
type Item struct {
	File  string
	Label int
	Box   Box
}

// ReadBoxes reads dir/boxes.json: {"<png>": {"label": L, "box": [x0, y0, x1, y1]}}.
// Items come back sorted by file name, so runs are reproducible.
func ReadBoxes(dir string) ([]Item, error) {
	path := filepath.Join(dir, "boxes.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]struct {
		Label *int  `json:"label"`
		Box   []int `json:"box"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	items := make([]Item, 0, len(raw))
	for file, v := range raw {
		if v.Label == nil || len(v.Box) != 4 {
			return nil, fmt.Errorf("%s: %q needs a label and a box [x0, y0, x1, y1]", path, file)
		}
		b := Box{v.Box[0], v.Box[1], v.Box[2], v.Box[3]}
		if b.Area() == 0 {
			return nil, fmt.Errorf("%s: %q has an empty box %v", path, file, v.Box)
		}
		items = append(items, Item{File: file, Label: *v.Label, Box: b})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].File < items[j].File })
	return items, nil
}

// PointingHit tells whether the map's maximum lies inside the box. Ties go to
// the first maximum in row-major order; a map with no positive value (all
// zeros) points nowhere and misses.
func PointingHit(m []float32, w int, b Box) bool {
	x, y, ok := Peak(m, w)
	return ok && b.Contains(x, y)
}

// Peak is the pixel of the map's maximum, the first in row-major order; ok is
// false for a map with no positive value, which points nowhere.
func Peak(m []float32, w int) (x, y int, ok bool) {
	best, at := float32(0), -1
	for i, v := range m {
		if v > best {
			best, at = v, i
		}
	}
	if at < 0 {
		return 0, 0, false
	}
	return at % w, at / w, true
}

// EnergyInBox is the share of the map's total mass inside the box (0 for an
// all-zero map).
func EnergyInBox(m []float32, w int, b Box) float64 {
	var in, total float64
	for i, v := range m {
		total += float64(v)
		if b.Contains(i%w, i/w) {
			in += float64(v)
		}
	}
	if total == 0 {
		return 0
	}
	return in / total
}

// UniformShare is both scores of a uniform map: the box's share of the image.
func UniformShare(w, h int, b Box) float64 {
	return float64(b.Area()) / float64(w*h)
}

// Spearman is the rank correlation of a and b (Pearson's on ranks, ties given
// their average rank). It is NaN when either map is constant.
func Spearman(a, b []float32) float64 {
	return pearson(ranks(a), ranks(b))
}

func ranks(v []float32) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		switch {
		case v[i] < v[j]:
			return -1
		case v[i] > v[j]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && v[idx[end]] == v[idx[start]] {
			end++
		}
		avg := float64(start+end-1)/2 + 1
		for _, i := range idx[start:end] {
			r[i] = avg
		}
		start = end
	}
	return r
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var cov, va, vb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		cov += da * db
		va += da * da
		vb += db * db
	}
	if va == 0 || vb == 0 {
		return math.NaN()
	}
	return cov / math.Sqrt(va*vb)
}
