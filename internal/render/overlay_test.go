package render

import (
	"image"
	"image/color"
	"testing"
)

// checkerImage returns an NRGBA image with bounds r whose pixels differ from each
// other, so a shifted or transposed read would show.
func checkerImage(r image.Rectangle) *image.NRGBA {
	img := image.NewNRGBA(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(20 * y), uint8(x * y), 0xff})
		}
	}
	return img
}

// rampMap returns n distinct map values spread over [0,1].
func rampMap(n int) []float32 {
	m := make([]float32, n)
	for i := range m {
		m[i] = float32(i) / float32(n-1)
	}
	return m
}

// closeTo reports whether got is within 1 of want.
func closeTo(got, want uint8) bool {
	d := int(got) - int(want)
	return -1 <= d && d <= 1
}

func TestOverlayAlphaEnds(t *testing.T) {
	bounds := image.Rect(10, 20, 14, 23) // not at the origin
	img := checkerImage(bounds)
	m := rampMap(bounds.Dx() * bounds.Dy())
	inferno := mustColormap(t, "inferno")
	heat := inferno.Colorize(m, bounds.Dx(), bounds.Dy())

	for _, alpha := range []float32{0, 1, 0.5} {
		out := Overlay(img, m, inferno, alpha)
		if out.Bounds() != bounds {
			t.Fatalf("alpha %v: bounds = %v, want the original's %v", alpha, out.Bounds(), bounds)
		}
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			for x := bounds.Min.X; x < bounds.Max.X; x++ {
				got := out.NRGBAAt(x, y)
				orig := img.NRGBAAt(x, y)
				h := heat.NRGBAAt(x-bounds.Min.X, y-bounds.Min.Y)
				var want color.NRGBA
				switch alpha {
				case 0:
					want = orig
				case 1:
					want = h
				default:
					want = color.NRGBA{mid(orig.R, h.R), mid(orig.G, h.G), mid(orig.B, h.B), 0xff}
				}
				if !closeTo(got.R, want.R) || !closeTo(got.G, want.G) || !closeTo(got.B, want.B) || got.A != 0xff ||
					(alpha != 0.5 && got != want) {
					t.Errorf("alpha %v: At(%d,%d) = %v, want %v", alpha, x, y, got, want)
				}
			}
		}
	}
}

func mid(a, b uint8) uint8 { return uint8((int(a) + int(b)) / 2) }

func TestOverlayKeepsStraightColourAndIsOpaque(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 10}) // nearly transparent
	out := Overlay(img, []float32{0}, mustColormap(t, "gray"), 0)
	if got, want := out.NRGBAAt(0, 0), rgb(200, 100, 50); got != want {
		t.Errorf("Overlay of a translucent pixel = %v, want its straight colour, opaque: %v", got, want)
	}
}

func TestOverlayAcceptsAnyImage(t *testing.T) {
	gray := image.NewGray(image.Rect(-2, -1, 0, 0))
	gray.SetGray(-2, -1, color.Gray{Y: 40})
	ycc := image.NewYCbCr(image.Rect(0, 0, 2, 1), image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = 235, 128, 128 // white
	}
	white := mustColormap(t, "gray")
	for _, img := range []image.Image{gray, ycc} {
		out := Overlay(img, []float32{1, 1}, white, 0.5)
		if out.Bounds() != img.Bounds() {
			t.Errorf("%T: bounds %v, want %v", img, out.Bounds(), img.Bounds())
		}
		b := img.Bounds()
		orig := color.NRGBAModel.Convert(img.At(b.Min.X, b.Min.Y)).(color.NRGBA)
		want := mid(orig.R, 255)
		if got := out.NRGBAAt(b.Min.X, b.Min.Y); !closeTo(got.R, want) || got.A != 0xff {
			t.Errorf("%T: first pixel %v, want grey %d, opaque", img, got, want)
		}
	}
}

func TestOverlayPanicsOnWrongSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Overlay of a 4x3 image with 11 values did not panic")
		}
	}()
	Overlay(checkerImage(image.Rect(0, 0, 4, 3)), make([]float32, 11), mustColormap(t, "jet"), 0.5)
}
