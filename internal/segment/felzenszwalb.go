// Package segment splits an image into regions, for methods that score regions
// rather than pixels (XRAI). It knows pixels as float slices in row-major HWC
// order and nothing about models or files.
//
// Felzenszwalb is Felzenszwalb and Huttenlocher's graph-based segmentation
// ("Efficient graph-based image segmentation", IJCV 59(2), 2004) with the
// semantics of scikit-image 0.25.2's skimage.segmentation.felzenszwalb, the
// function PAIR saliency's XRAI calls. The comments cite the scikit-image and
// scipy code each choice follows: skimage/segmentation/_felzenszwalb_cy.pyx
// (_felzenszwalb_cython), skimage/_shared/filters.py (gaussian),
// skimage/measure/_ccomp.pyx (find_root, join_trees), scipy 1.16's
// ndimage/_filters.py (gaussian_filter, gaussian_filter1d, _gaussian_kernel1d)
// and ndimage/src/ni_filters.c and ni_support.c (NI_Correlate1D, NI_ExtendLine)
// for the smoothing, which package gaussfilter does.
// Every floating-point step is done in the same order and precision as there,
// so the labels agree pixel for pixel, numbering included; the one place they
// can part, the order of tied edge weights, is explained at Graph.
package segment

import (
	"fmt"
	"math"

	"github.com/saliency-tool/saliency/internal/gaussfilter"
)

// Graph is an image's pixel graph as Felzenszwalb's method sees it: the image
// smoothed, every pixel joined to its 8 neighbours, the edges sorted by weight.
// That is the part of the work that does not depend on scale or minSize, so
// XRAI, which segments one image at six scales, builds it once. A Graph is
// not modified by Segment, which is safe for concurrent use.
//
// The edges are sorted by weight with ties kept in scikit-image's edge order
// (a stable sort). That is the one place this package can part from
// scikit-image, which sorts with numpy.argsort's default kind: it is not
// stable, and the order it leaves ties in depends on the sorting kernel numpy
// picks for the CPU (it has SIMD ones for AVX2 and AVX-512). The merge pass
// does not depend on that order (Segment says when), but the pass that
// absorbs segments smaller than minSize can: a small segment with two
// neighbours at exactly the same distance joins the one whose edge comes
// first. Such ties are rare once the image is smoothed; without smoothing,
// the 8-bit steps of a photograph's pixels make thousands.
type Graph struct {
	h, w  int
	edges []edge // ascending by weight
}

// edge joins pixels p and q (row-major indices) with a weight, the distance
// between their smoothed colours.
type edge struct {
	weight float64
	p, q   int32
}

// Felzenszwalb segments an h x w image with c channels (row-major, HWC) and
// returns one label per pixel, numbered 0, 1, ... in the order the segments
// first appear in a row-major scan, as skimage.segmentation.felzenszwalb(img,
// scale, sigma, min_size, channel_axis=-1) does. XRAI calls it on a 224x224
// image in [-1, 1] with sigma 0.8, min_size 150 and scales 50 to 1200.
//
// It takes float32 or float64 pixels: scikit-image first converts the image to
// float64 (img_as_float64 in _felzenszwalb_cython), which is exact for float32,
// so either is computed exactly as scikit-image computes it; and the image PAIR
// passes is float32 or float64 depending on what the caller gave XRAI. Pixels
// must be finite. It panics if h, w or c is below 1 or len(img) != h*w*c.
func Felzenszwalb[T float32 | float64](img []T, h, w, c int, scale, sigma float64, minSize int) []int32 {
	return NewGraph(img, h, w, c, sigma).Segment(scale, minSize)
}

// NewGraph smooths the image with a Gaussian of standard deviation sigma and
// builds its sorted pixel graph; see Felzenszwalb for the arguments.
func NewGraph[T float32 | float64](img []T, h, w, c int, sigma float64) *Graph {
	if h < 1 || w < 1 || c < 1 || len(img) != h*w*c {
		panic(fmt.Sprintf("segment: %d values for a %dx%dx%d image", len(img), h, w, c))
	}
	im := make([]float64, len(img))
	for i, v := range img {
		im[i] = float64(v)
	}
	gaussfilter.Filter(im, im, h, w, c, sigma, gaussfilter.Reflect)

	// The edges in scikit-image's order, which decides the order of ties (the
	// np.hstack of the costs and np.vstack of the edges): each pixel's right
	// neighbour, then the one below, then below right, then, for the pixel to
	// the right, below left (the "uright" edges), each block in row-major order
	// of its pixel. Which of an edge's two pixels is named first does not matter:
	// join_trees makes the smaller root the new one either way.
	n := 4*h*w - 3*(h+w) + 2 // (h)(w-1) + (h-1)(w) + 2(h-1)(w-1)
	edges := make([]edge, 0, n)
	scratch := make([]float64, c)
	add := func(p, q int) {
		edges = append(edges, edge{distance(im[p*c:(p+1)*c], im[q*c:(q+1)*c], scratch), int32(p), int32(q)})
	}
	for y := range h {
		for x := range w - 1 {
			add(y*w+x, y*w+x+1)
		}
	}
	for y := range h - 1 {
		for x := range w {
			add(y*w+x, (y+1)*w+x)
		}
	}
	for y := range h - 1 {
		for x := range w - 1 {
			add(y*w+x, (y+1)*w+x+1)
		}
	}
	for y := range h - 1 {
		for x := range w - 1 {
			add(y*w+x+1, (y+1)*w+x)
		}
	}
	return &Graph{h: h, w: w, edges: sortEdges(edges)}
}

// distance is the Euclidean distance between two pixels' colours, as
// _felzenszwalb_cython computes it: np.sqrt(np.sum(d * d, axis=-1)) of the
// float64 differences, the sum being numpy's (gaussfilter.PairwiseSum). The
// difference's sign does not change its square, so the pixels' order does not
// matter.
// scratch holds len(p) values.
func distance(p, q, scratch []float64) float64 {
	if len(p) < 8 { // numpy's pairwise sum of fewer than 8 terms, inline
		s := 0.0
		for k := range p {
			d := p[k] - q[k]
			s += float64(d * d) // the conversion forbids fusing into an FMA, as numpy does not
		}
		return math.Sqrt(s)
	}
	for k := range p {
		d := p[k] - q[k]
		scratch[k] = d * d
	}
	return math.Sqrt(gaussfilter.PairwiseSum(scratch))
}

// Segment runs Felzenszwalb's merge at the given scale, then absorbs segments
// smaller than minSize, and returns the labels as Felzenszwalb does.
//
// The merge is Felzenszwalb and Huttenlocher's: edges in ascending order of
// weight join two segments when the weight is below Int + k/size for both,
// where Int, the paper's internal difference, is the weight of the edge that
// last grew the segment (0 for one pixel), size its number of pixels, and
// k = scale/255, scikit-image's rescaling "to behave like in reference
// implementation" (the paper's code works on 0..255 pixel values). Three
// details decide exact agreement:
//   - scikit-image stores each side of the test, Int + k/size computed in
//     float64, in a float32 variable (cdef cnp.float32_t inner_cost0) and
//     compares the float64 weight with the smaller of the two float32 values;
//   - edges of equal weight w give the same result in any order: a segment
//     whose threshold exceeds w still does after a merge (its new Int is w,
//     plus k/size), one whose threshold does not never changes, so the
//     segments joined are the same components either way, with the same
//     sizes and Int. That needs k/size to survive the rounding to float32
//     at w, which it does with room to spare at XRAI's settings (k/size is
//     at least 50/255/50176 = 3.9e-6, float32's spacing at most 2.4e-7 for
//     weights up to sqrt(12), the largest in [-1, 1]³);
//   - the labels are numbered by the smallest pixel index in each segment:
//     join_trees always keeps the smaller of the two roots, so each root is
//     its segment's first pixel, and np.unique(..., return_inverse=True)
//     numbers the roots in increasing order.
//
// The post-pass goes through the same sorted edges once and joins the two
// segments of every edge where either has fewer than minSize pixels, updating
// the sizes as it goes (the second loop of _felzenszwalb_cython).
func (g *Graph) Segment(scale float64, minSize int) []int32 {
	n := g.h * g.w
	k := scale / 255
	f := newForest(n)
	inner := make([]float64, n) // Int of each root's segment
	for _, e := range g.edges {
		ra, rb := f.find(e.p), f.find(e.q)
		if ra == rb {
			continue
		}
		ta := float32(inner[ra] + k/float64(f.size[ra]))
		tb := float32(inner[rb] + k/float64(f.size[rb]))
		if e.weight < float64(min(ta, tb)) {
			inner[f.union(ra, rb)] = e.weight
		}
	}
	for _, e := range g.edges {
		ra, rb := f.find(e.p), f.find(e.q)
		if ra != rb && (int(f.size[ra]) < minSize || int(f.size[rb]) < minSize) {
			f.union(ra, rb)
		}
	}

	labels := make([]int32, n)
	label := make([]int32, n) // by root; -1 until the root's segment is seen
	for i := range label {
		label[i] = -1
	}
	next := int32(0)
	for p := range labels {
		r := f.find(int32(p))
		if label[r] < 0 {
			label[r] = next
			next++
		}
		labels[p] = label[r]
	}
	return labels
}

// forest is a union-find over pixels. Which pixel is a segment's root does not
// matter here (Segment numbers the labels itself), so it uses union by size
// and path halving rather than scikit-image's smallest-index roots.
type forest struct {
	parent, size []int32
}

func newForest(n int) *forest {
	f := &forest{parent: make([]int32, n), size: make([]int32, n)}
	for i := range f.parent {
		f.parent[i] = int32(i)
		f.size[i] = 1
	}
	return f
}

func (f *forest) find(p int32) int32 {
	for f.parent[p] != p {
		f.parent[p] = f.parent[f.parent[p]]
		p = f.parent[p]
	}
	return p
}

// union joins two roots and returns the new root.
func (f *forest) union(ra, rb int32) int32 {
	if f.size[ra] < f.size[rb] {
		ra, rb = rb, ra
	}
	f.parent[rb] = ra
	f.size[ra] += f.size[rb]
	return ra
}

// sortEdges sorts edges by weight, keeping equal weights in the order given,
// and returns the sorted slice (edges or another of the same length). The
// weights are non-negative, so their IEEE bit patterns sort as the numbers
// do, and a least significant digit radix sort on them (six passes of 11
// bits, a pass skipped where every key has the same digit) is stable.
func sortEdges(edges []edge) []edge {
	const bits, passes, mask = 11, 6, 1<<11 - 1
	n := len(edges)
	var counts [passes][1 << bits]int32
	for _, e := range edges {
		k := math.Float64bits(e.weight)
		for d := range passes {
			counts[d][k>>(bits*d)&mask]++
		}
	}
	src, dst := edges, make([]edge, n)
	for d := range passes {
		cnt, shift := &counts[d], bits*d
		if n == 0 || int(cnt[math.Float64bits(src[0].weight)>>shift&mask]) == n {
			continue
		}
		sum := int32(0)
		for i, c := range cnt {
			cnt[i], sum = sum, sum+c
		}
		for _, e := range src {
			digit := math.Float64bits(e.weight) >> shift & mask
			dst[cnt[digit]] = e
			cnt[digit]++
		}
		src, dst = dst, src
	}
	return src
}
