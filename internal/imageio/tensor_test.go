package imageio

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"reflect"
	"testing"
)

func TestToTensorHWCOrder(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 255})
	img.SetNRGBA(1, 0, color.NRGBA{4, 5, 6, 255})
	img.SetNRGBA(0, 1, color.NRGBA{7, 8, 9, 255})
	img.SetNRGBA(1, 1, color.NRGBA{10, 11, 12, 255})
	want := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if got := ToTensor(img, 2, 2); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestToTensorExactAtNativeSize(t *testing.T) {
	r := image.Rect(3, -2, 5, -1) // a non-zero origin as well
	n64 := image.NewNRGBA64(r)
	n64.SetNRGBA64(3, -2, color.NRGBA64{0x1234, 0xFFFF, 0, 0xFFFF})
	n64.SetNRGBA64(4, -2, color.NRGBA64{0x0101, 0x8000, 0x00FF, 0}) // transparent
	g16 := image.NewGray16(r)
	g16.SetGray16(3, -2, color.Gray16{0x1234})
	g16.SetGray16(4, -2, color.Gray16{0xFFFE})
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(3, -2, color.RGBA{200, 100, 0, 255})
	rgba.SetRGBA(4, -2, color.RGBA{100, 50, 0, 128}) // premultiplied: straight is 199, 99, 0
	gray := image.NewGray(r)
	gray.SetGray(3, -2, color.Gray{17})
	gray.SetGray(4, -2, color.Gray{255})
	for _, tc := range []struct {
		name string
		img  image.Image
		want []float32
	}{
		{"nrgba64", n64, []float32{0x1234 / 257.0, 255, 0, 1, 0x8000 / 257.0, 0xFF / 257.0}},
		{"gray16", g16, []float32{0x1234 / 257.0, 0x1234 / 257.0, 0x1234 / 257.0, 0xFFFE / 257.0, 0xFFFE / 257.0, 0xFFFE / 257.0}},
		{"rgba", rgba, []float32{200, 100, 0, 199, 99, 0}},
		{"gray", gray, []float32{17, 17, 17, 255, 255, 255}},
	} {
		got := ToTensor(tc.img, 2, 1)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestToTensorDropsAlphaKeepingStraightColour(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	img.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 128})
	if got, want := ToTensor(img, 2, 1), []float32{200, 100, 50, 10, 20, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Resizing must not let the scaler's premultiplication darken it.
	transparent := uniformNRGBA(image.Rect(0, 0, 10, 10), color.NRGBA{200, 100, 50, 0})
	assertConstant(t, ToTensor(transparent, 7, 3), rgb{200, 100, 50})
}

// YCbCr and Paletted take their own conversion loops; they must agree with
// the colours that image/color defines for them.
func TestToTensorConversionsMatchColorModels(t *testing.T) {
	r := image.Rect(0, 0, 7, 5)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 37)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*53+7), uint8(255-i*29)
	}
	pal := image.NewPaletted(r, color.Palette{
		color.RGBA{10, 20, 30, 255}, color.NRGBA{40, 50, 60, 0}, color.Gray{77},
	})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	cmyk := image.NewCMYK(r)
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(i * 41)
	}
	for name, img := range map[string]image.Image{"ycbcr": ycc, "paletted": pal, "cmyk": cmyk} {
		want := patternTensor(7, 5, func(x, y int) rgb {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if n, ok := img.At(x, y).(color.NRGBA); ok {
				c = n // a transparent palette entry keeps its colour
			}
			return rgb{float32(c.R), float32(c.G), float32(c.B)}
		})
		if got := ToTensor(img, 7, 5); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}

func TestToTensorResizeKeepsConstantImageConstant(t *testing.T) {
	c := color.NRGBA{37, 150, 222, 255}
	src := uniformNRGBA(image.Rect(0, 0, 64, 48), c)
	ycc := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = 90
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 100, 160
	}
	yr, yg, yb := color.YCbCrToRGB(90, 100, 160)
	for _, size := range []image.Point{{299, 299}, {20, 10}, {63, 49}} {
		got := ToTensor(src, size.X, size.Y)
		if len(got) != size.X*size.Y*3 {
			t.Fatalf("%v: length %d", size, len(got))
		}
		assertConstant(t, got, rgb{37, 150, 222})
		assertConstant(t, ToTensor(ycc, size.X, size.Y), rgb{float32(yr), float32(yg), float32(yb)})
	}
}

func TestToTensorResizeIsMonotoneAcrossAnEdge(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := 20; x < 40; x++ {
			src.SetGray(x, y, color.Gray{255})
		}
	}
	for _, size := range []image.Point{{17, 9}, {100, 50}, {299, 299}} {
		got := ToTensor(src, size.X, size.Y)
		for y := range size.Y {
			row := got[y*size.X*3 : (y+1)*size.X*3]
			for i := 3; i < len(row); i++ {
				if row[i] < row[i-3] {
					t.Fatalf("%v: row %d falls at x=%d: %v then %v", size, y, i/3, row[i-3], row[i])
				}
			}
			if row[0] > 0.5 || row[len(row)-1] < 254.5 {
				t.Fatalf("%v: row %d spans %v..%v, want 0..255", size, y, row[0], row[len(row)-1])
			}
		}
	}
}

func TestToTensorRejectsEmptyTarget(t *testing.T) {
	if got := ToTensor(image.NewGray(image.Rect(0, 0, 2, 2)), 0, 5); got != nil {
		t.Errorf("got %d values, want nil", len(got))
	}
}

func uniformNRGBA(r image.Rectangle, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(r)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// assertConstant allows 1/257: the scaler rounds to 16 bits.
func assertConstant(t *testing.T, got []float32, want rgb) {
	t.Helper()
	for i, v := range got {
		if math.Abs(float64(v-want[i%3])) > 1.0/257 {
			t.Fatalf("value %d is %v, want %v", i, v, want[i%3])
		}
	}
}

func BenchmarkToTensor(b *testing.B) {
	src := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for y := range 768 {
		for x := range 1024 {
			src.SetRGBA(x, y, color.RGBA{uint8(x / 4), uint8(y / 3), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	img, _, err := Decode(buf.Bytes(), 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, ok := img.(*image.YCbCr); !ok {
		b.Fatalf("decoded %T, want *image.YCbCr", img)
	}
	for b.Loop() {
		ToTensor(img, 299, 299)
	}
}

// A kernel that widens when downscaling averages a one-pixel stripe pattern
// to mid-gray; point sampling (nearest neighbour, or bilinear without the
// widening) would alias it into stripes.
func TestToTensorDownscaleFiltersFineDetail(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range src.Pix {
		if i%2 == 0 {
			src.Pix[i] = 255
		}
	}
	for i, v := range ToTensor(src, 15, 13) {
		if v < 112 || v > 143 {
			t.Fatalf("value %d (x=%d) is %v, want about 127.5", i, i/3%15, v)
		}
	}
}
