package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/hostcpu"
)

// --precision bfloat16 runs only where the CPU computes bfloat16 natively.
// Without it (this project's 2-core AVX2 machine) the run is refused before the
// model loads, in one line naming the CPU, and nothing is written. With it, the
// map follows float32's: Pearson r above 0.9 (bfloat16 keeps 8 bits of
// mantissa, so maps differ pixel by pixel but not in where they are high).
func TestPrecisionBFloat16(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "img.png")
	writePNG(t, img, 64, 48, 3)
	native, cpu := hostcpu.BFloat16()
	if !native {
		out := filepath.Join(dir, "out")
		code, stdout, stderr := runMain(t, "", "explain", "-m", model, "-o", out, "--precision", "bfloat16", img)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one line", code, stdout, stderr, exitUsage)
		}
		for _, want := range []string{"saliency: --precision bfloat16", cpu, "avx512_bf16", "amx_bf16"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not mention %q", stderr, want)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("the refused run created --out-dir")
		}
		return
	}
	maps := map[string][]float64{}
	for _, p := range []string{"float32", "bfloat16"} {
		out := filepath.Join(dir, p)
		if code, _, stderr := runMain(t, "", "explain", "-m", model, "-o", out, "--precision", p, img); code != 0 {
			t.Fatalf("--precision %s: exit %d: %s", p, code, stderr)
		}
		maps[p] = grayPixels(t, filepath.Join(out, "img.saliency.png"))
	}
	if r := pearson(maps["float32"], maps["bfloat16"]); !(r > 0.9) {
		t.Errorf("bfloat16 map against float32's: r = %.3f, want > 0.9", r)
	}
}

// grayPixels is a gray map PNG's values, row by row.
func grayPixels(t *testing.T, path string) []float64 {
	t.Helper()
	m := decodePNG(t, path)
	var v []float64
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := m.At(x, y).RGBA()
			v = append(v, float64(r))
		}
	}
	return v
}

// pearson is the correlation of a and b.
func pearson(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i] / float64(len(a))
		mb += b[i] / float64(len(b))
	}
	var ab, aa, bb float64
	for i := range a {
		ab += (a[i] - ma) * (b[i] - mb)
		aa += (a[i] - ma) * (a[i] - ma)
		bb += (b[i] - mb) * (b[i] - mb)
	}
	return ab / math.Sqrt(aa*bb)
}
