package method

import "sort"

// TopK returns, for each row of logits (rows of `classes` values), the indices of
// its k largest values, largest first; ties go to the lower index, as in
// tf.math.top_k.
func TopK(logits []float32, classes, k int) []int32 {
	rows := len(logits) / classes
	out := make([]int32, 0, rows*k)
	idx := make([]int32, classes)
	for r := range rows {
		row := logits[r*classes : (r+1)*classes]
		for i := range idx {
			idx[i] = int32(i)
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		out = append(out, idx[:k]...)
	}
	return out
}
