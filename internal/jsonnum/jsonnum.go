// Package jsonnum writes floating-point values to JSON with the values JSON
// has no number for (NaN, +Inf, -Inf) as null. encoding/json refuses them with
// an error, which would cost a whole record: an integrated-gradients gap is
// 0/0 on an image equal to its baseline, and a broken model can output NaN.
// Finite values are written by encoding/json itself, so they look the same as
// they would without this package.
package jsonnum

import (
	"encoding/json"
	"math"
)

var null = []byte("null")

// Float64 is a float64 that marshals as null when it is not finite.
type Float64 float64

func (f Float64) MarshalJSON() ([]byte, error) {
	if !finite(float64(f)) {
		return null, nil
	}
	return json.Marshal(float64(f))
}

// Float32s is a []float32 whose non-finite elements marshal as null; a nil
// slice marshals as null, as a nil []float32 does.
type Float32s []float32

func (fs Float32s) MarshalJSON() ([]byte, error) {
	if fs == nil {
		return null, nil
	}
	b := []byte{'['}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		if !finite(float64(f)) {
			b = append(b, null...)
			continue
		}
		v, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, ']'), nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
