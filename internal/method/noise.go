package method

import "math"

// Gaussian noise that a Python reference can reproduce exactly: SplitMix64
// (Steele, Lea & Flood 2014) as a counter-based generator, uniforms from its top
// 53 bits, and the Box-Muller transform. Draw q of stream (seed, sample) uses the
// SplitMix64 state seed + sample<<32 + (q+1) * 0x9E3779B97F4A7C15; pair q of
// uniforms (u1, u2) = draws (2q, 2q+1) gives normals 2q and 2q+1:
// sqrt(-2 ln(1 - u1)) * (cos, sin)(2 pi u2).

const splitMixGamma = 0x9E3779B97F4A7C15

func splitMix(state uint64) uint64 {
	z := state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func uniform(state uint64) float64 {
	return float64(splitMix(state)>>11) * (1.0 / (1 << 53))
}

// normals fills dst with standard normal draws of stream (seed, sample).
func normals(dst []float32, seed uint64, sample int) {
	base := seed + uint64(sample)<<32
	for q := 0; 2*q < len(dst); q++ {
		u1 := uniform(base + uint64(2*q+1)*splitMixGamma)
		u2 := uniform(base + uint64(2*q+2)*splitMixGamma)
		r := math.Sqrt(-2 * math.Log(1-u1))
		s, c := math.Sincos(2 * math.Pi * u2)
		dst[2*q] = float32(r * c)
		if 2*q+1 < len(dst) {
			dst[2*q+1] = float32(r * s)
		}
	}
}
