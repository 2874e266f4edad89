package method

// sweep evaluates the gradients of K units on count images that it builds one at
// a time with fill(v, dst) (v = 0..count-1), sending as many rows as fit in rows
// per TensorFlow call, and hands each image-unit row to use(v, j, logit, grad).
// unitsOf(v) gives image v's K units. Memory holds one call's images and
// gradients, whatever count is; when K is larger than rows, an image's units
// are split over several calls, so rows bounds the memory whatever K is.
func sweep(m Model, count, k, rows int, unitsOf func(v int) []int32,
	fill func(v int, dst []float32), use func(v, j int, logit float32, grad []float32)) error {
	h, w, c := m.InputSize()
	pixels := h * w * c
	rows = max(rows, 1)
	if k > rows {
		return sweepUnits(m, count, k, rows, pixels, unitsOf, fill, use)
	}
	per := rows / k
	images := make([]float32, min(per, count)*pixels)
	units := make([]int32, 0, min(per, count)*k)
	for lo := 0; lo < count; lo += per {
		hi := min(lo+per, count)
		units = units[:0]
		for v := lo; v < hi; v++ {
			fill(v, images[(v-lo)*pixels:(v-lo+1)*pixels])
			units = append(units, unitsOf(v)...)
		}
		logits, grads, err := m.Gradients(images[:(hi-lo)*pixels], hi-lo, units, k)
		if err != nil {
			return err
		}
		for v := lo; v < hi; v++ {
			for j := range k {
				row := (v-lo)*k + j
				use(v, j, logits[row], grads[row*pixels:(row+1)*pixels])
			}
		}
	}
	return nil
}

// sweepUnits is sweep for K > rows: one image per call, its units in groups of
// at most rows.
func sweepUnits(m Model, count, k, rows, pixels int, unitsOf func(v int) []int32,
	fill func(v int, dst []float32), use func(v, j int, logit float32, grad []float32)) error {
	image := make([]float32, pixels)
	for v := range count {
		fill(v, image)
		units := unitsOf(v)
		for lo := 0; lo < k; lo += rows {
			hi := min(lo+rows, k)
			logits, grads, err := m.Gradients(image, 1, units[lo:hi], hi-lo)
			if err != nil {
				return err
			}
			for j := lo; j < hi; j++ {
				use(v, j, logits[j-lo], grads[(j-lo)*pixels:(j-lo+1)*pixels])
			}
		}
	}
	return nil
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
