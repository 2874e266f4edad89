package imageio

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures in testdata were written by Pillow from the formulas below;
// make_fixtures.py holds the same formulas, and the two must stay in step.
const fixtureW, fixtureH = 33, 21

// jpegTolerance bounds the per-channel error of the quality-95, 4:4:4
// fixture JPEGs against the pattern they encode.
const jpegTolerance = 12

type rgb [3]float32

func smoothPattern(x, y int) rgb {
	return rgb{
		float32((x*255 + 16) / 32),
		float32((y*255 + 10) / 20),
		float32(200 - (x*y*150+320)/640),
	}
}

func paletteColor(i int) rgb {
	return rgb{float32(i * 37 % 256), float32(i * 91 % 256), float32(i * 53 % 256)}
}

func blockPattern(x, y int) rgb { return paletteColor((x + fixtureW*y) % 251) }

func grayValue(x, y int) int { return (x*7 + y*11) % 256 }

func gray16Value(x, y int) int {
	if x == fixtureW-1 && y == fixtureH-1 {
		return 65535
	}
	return (x*1999 + y*3001) % 65536
}

var (
	transparentAt  = [2]int{5, 3}
	transparentRGB = rgb{12, 34, 56}
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// patternTensor lays out fn over w x h in ToTensor's HWC order.
func patternTensor(w, h int, fn func(x, y int) rgb) []float32 {
	out := make([]float32, 0, w*h*3)
	for y := range h {
		for x := range w {
			c := fn(x, y)
			out = append(out, c[:]...)
		}
	}
	return out
}

// maxDiff returns the largest per-channel difference and where it is.
func maxDiff(t testing.TB, got, want []float32, w int) (diff float64, x, y, ch int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("tensor length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > diff || math.IsNaN(d) {
			diff, x, y, ch = d, i/3%w, i/3/w, i%3
		}
	}
	return diff, x, y, ch
}
