package method

import "slices"

// sweep evaluates the gradients of K units on count images that it builds one at
// a time with fill(v, dst) (v = 0..count-1), in the calls unitGroups plans, and
// hands each image-unit row to use(v, j, logit, grad). unitsOf(v) gives image
// v's K units. Memory holds one call's images and gradients, whatever count and
// K are.
func sweep(m Model, count, k, rows int, unitsOf func(v int) []int32,
	fill func(v int, dst []float32), use func(v, j int, logit float32, grad []float32)) error {
	h, w, c := m.InputSize()
	pixels := h * w * c
	shared := sharedUnits(m)
	groups, per := unitGroups(shared, k, rows)
	images := make([]float32, min(per, count)*pixels)
	units := make([]int32, 0, min(per, count)*max(k, shared))
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		for v := lo; v < hi; v++ {
			fill(v, images[(v-lo)*pixels:(v-lo+1)*pixels])
		}
		for _, g := range groups {
			units = units[:0]
			for v := lo; v < hi; v++ {
				units = g.units(units, unitsOf(v))
			}
			logits, grads, err := m.Gradients(images[:(hi-lo)*pixels], hi-lo, units, g.width)
			if err != nil {
				return err
			}
			for v := lo; v < hi; v++ {
				for j := g.a; j < g.b; j++ {
					row := (v-lo)*g.width + j - g.a
					use(v, j, logits[row], grads[row*pixels:(row+1)*pixels])
				}
			}
		}
	}
	return nil
}

// unitGroup is one call's share of each image's units: units a..b-1, sent as
// width units per image (width > b-a pads with the last unit; its rows are
// computed and dropped).
type unitGroup struct{ a, b, width int }

// units appends the group's units of one image to dst.
func (g unitGroup) units(dst, all []int32) []int32 {
	dst = append(dst, all[g.a:g.b]...)
	for range g.width - (g.b - g.a) {
		dst = append(dst, all[g.b-1])
	}
	return dst
}

// unitGroups plans how the calls carry K units per image under the rows bound:
// the groups every image's units are sent in, and how many images go in each
// call. A call of the tiled signature costs a forward and a backward pass per
// image-unit row, and rows bounds those rows: all K units of rows/K images, or
// one image and rows of its units. A model that explains s units from one
// forward pass (SharedForward) gets its units in groups of s, 1 + s passes for
// s units, rows images per call (its memory is one image's activations and one
// backward pass at a time, about what one tiled row costs); a last group of r
// units is padded to s when that is no more passes than the 2r of the tiled
// signature (r >= 4 for s = 5: at r = 3 both cost 6 and the tiled call holds
// less), and is otherwise sent tiled. s = 0: the model has no such signature.
func unitGroups(s, k, rows int) (groups []unitGroup, per int) {
	rows, k = max(rows, 1), max(k, 1)
	a, per := 0, rows
	if s > 1 && k > 1 {
		for ; k-a >= s || (k-a > 0 && 1+s < 2*(k-a)); a += s {
			groups = append(groups, unitGroup{a, min(a+s, k), s})
		}
	}
	if rest := k - a; rest > 0 {
		step := min(rest, rows)
		for ; a < k; a += step {
			groups = append(groups, unitGroup{a, min(a+step, k), min(step, k-a)})
		}
		per = min(per, max(rows/step, 1))
	}
	return groups, per
}

// SharesForward reports whether the named method, explaining k units per
// image, sends groups of units to a model's signature for units units from one
// forward pass (the manifest's shared_forward): whether the run needs it.
func SharesForward(name string, k, units int) bool {
	groups, _ := unitGroups(units, k, 1)
	return PixelWise(name) && units > 1 && slices.ContainsFunc(groups, func(g unitGroup) bool { return g.width == units })
}

// sharedUnits is m's SharedUnits, or 0 for a model without that signature.
func sharedUnits(m Model) int {
	if s, ok := m.(SharedForward); ok {
		return s.SharedUnits()
	}
	return 0
}

// image returns image i of b.
func (b Batch) image(i, pixels int) []float32 { return b.Images[i*pixels : (i+1)*pixels] }

// unitsOf returns image i's K units.
func (b Batch) unitsOf(i int) []int32 { return b.Units[i*b.K : (i+1)*b.K] }

// pixelResult starts a Result whose maps are at the model's input size.
func pixelResult(m Model, b Batch) Result {
	h, w, _ := m.InputSize()
	return Result{Logits: make([]float32, b.N*b.K), Maps: make([][]float32, b.N*b.K), MapH: h, MapW: w}
}
