package jsonnum

import (
	"encoding/json"
	"math"
	"testing"
)

// Non-finite values become null and the record survives; finite ones are
// written exactly as encoding/json writes a plain float.
func TestNonFiniteBecomesNull(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	rec := struct {
		Gap    Float64  `json:"gap"`
		Neg    Float64  `json:"neg"`
		Ok     Float64  `json:"ok"`
		Logits Float32s `json:"logits"`
		None   Float32s `json:"none"`
		Empty  Float32s `json:"empty,omitempty"`
	}{Float64(nan), Float64(-inf), 1e-7, Float32s{4.3590574, float32(nan), float32(-inf), 1e21}, nil, nil}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"gap":null,"neg":null,"ok":1e-7,"logits":[4.3590574,null,null,1e+21],"none":null}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for _, x := range []float64{0, -0.5, 3.25, 1e-300, 123456789.125} {
		plain, _ := json.Marshal(x)
		ours, _ := json.Marshal(Float64(x))
		if string(plain) != string(ours) {
			t.Errorf("%v: %s, encoding/json writes %s", x, ours, plain)
		}
	}
}
