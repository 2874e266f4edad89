package method

import "math"

// Eigen-CAM (Muhammad & Yeasin 2020): the projection of the block's
// activations, positions x channels, on their first right singular vector,
// A v1. It reads no gradient and no unit: every unit of an image gets the same
// map. As in the paper the activations are not centred (pytorch-grad-cam
// centres them, which makes the map the first principal component instead);
// the singular vector's sign is the one that makes the map's sum positive
// (for a ReLU block, whose activations are non-negative, v1 is then
// non-negative and so is the map: no ReLU is needed and none is applied).
func newEigenCAM(Params) (Method, error) { return camMethod{"eigencam", eigenCAMMap}, nil }

func eigenCAMMap(acts, _ []float32, positions, channels int) []float32 {
	out := make([]float32, positions)
	for p, v := range firstSingularProjection(acts, positions, channels) {
		out[p] = float32(v)
	}
	return out
}

// firstSingularProjection returns A v1 (= sigma1 u1) for the row-major
// rows x cols matrix a, by power iteration on the Gram matrix of its smaller
// side, with the sign that makes the sum of A v1 non-negative.
func firstSingularProjection(a []float32, rows, cols int) []float64 {
	at := func(r, c int) float64 { return float64(a[r*cols+c]) }
	var proj []float64
	if rows <= cols {
		// A A^T u1 = sigma1^2 u1, and A v1 = sigma1 u1.
		u, lambda := topEigenvector(gram(rows, cols, at))
		proj = make([]float64, rows)
		for r := range proj {
			proj[r] = math.Sqrt(lambda) * u[r]
		}
	} else {
		v, _ := topEigenvector(gram(cols, rows, func(c, r int) float64 { return at(r, c) }))
		proj = make([]float64, rows)
		for r := range proj {
			for c := range cols {
				proj[r] += at(r, c) * v[c]
			}
		}
	}
	var sum float64
	for _, v := range proj {
		sum += v
	}
	if sum < 0 {
		for r := range proj {
			proj[r] = -proj[r]
		}
	}
	return proj
}

// gram returns the n x n matrix M M^T of the n x m matrix with entries at(i, k).
func gram(n, m int, at func(i, k int) float64) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, m)
		for k := range m {
			rows[i][k] = at(i, k)
		}
	}
	g := make([][]float64, n)
	for i := range g {
		g[i] = make([]float64, n)
	}
	for i := range n {
		for j := i; j < n; j++ {
			var s float64
			for k, x := range rows[i] {
				s += x * rows[j][k]
			}
			g[i][j], g[j][i] = s, s
		}
	}
	return g
}

// Power iteration stops when no entry of the unit vector moves by more than
// eigenTol, or after eigenMaxIter steps (it converges as (lambda2/lambda1)^k;
// activations of a trained block have a dominant first component).
const (
	eigenTol     = 1e-12
	eigenMaxIter = 100000
)

// topEigenvector returns the unit eigenvector of the symmetric positive
// semi-definite g with the largest eigenvalue, and that eigenvalue. A zero
// matrix gives the zero vector.
func topEigenvector(g [][]float64) ([]float64, float64) {
	n := len(g)
	x := make([]float64, n)
	for i := range x {
		// Not orthogonal to the top eigenvector of a non-negative matrix (ones
		// alone would be orthogonal to it for some signed matrices, where
		// this small tilt is not).
		x[i] = 1 + float64(i)/float64(8*n)
	}
	normalize2(x)
	next := make([]float64, n)
	var lambda float64
	for range eigenMaxIter {
		for i, row := range g {
			var s float64
			for j, v := range row {
				s += v * x[j]
			}
			next[i] = s
		}
		lambda = normalize2(next)
		if lambda == 0 {
			return next, 0
		}
		var moved float64
		for i := range x {
			moved = max(moved, math.Abs(next[i]-x[i]))
		}
		x, next = next, x
		if moved < eigenTol {
			break
		}
	}
	return x, lambda
}

// normalize2 scales v to unit length in place and returns its former length.
func normalize2(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	n := math.Sqrt(s)
	if n == 0 {
		return 0
	}
	for i := range v {
		v[i] /= n
	}
	return n
}
