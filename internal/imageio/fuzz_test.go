package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"math/bits"
	"testing"
)

// fuzzMaxPixels is small so that each run is fast; it is what bounds memory.
const fuzzMaxPixels = 1 << 20

func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f, ".jpg", ".png", ".gif", ".bmp", ".tiff", ".webp")
	f.Add([]byte{})
	f.Add(pngHeader(100_000, 100_000))
	f.Add(pngHeader(1024, 1024))         // exactly the limit
	f.Add(pngHeader(fuzzMaxPixels+1, 1)) // one pixel over it
	f.Add(pngHeader(1<<16, 1<<16+1))     // w*h overflows 32 bits
	f.Add(gifFrame(image.Rect(0, 0, 10, 10), image.Rect(3, 3, 5, 5)))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, format, err := Decode(data, fuzzMaxPixels)
		// The header as the standard library reads it, independently of Decode.
		cfg, cfgFormat, cfgErr := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			if img != nil {
				t.Errorf("image %T returned with error %v", img, err)
			}
			if len(data) > 0 && errors.Is(cfgErr, image.ErrFormat) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Errorf("unrecognised data gave %v, want ErrUnsupportedFormat", err)
			}
			return
		}
		if img == nil || img.Bounds().Empty() || format == "" {
			t.Fatalf("nil error with image %v, format %q", img, format)
		}
		b := img.Bounds()
		if !withinLimit(b.Dx(), b.Dy(), fuzzMaxPixels) {
			t.Fatalf("decoded %dx%d, more than the limit of %d pixels", b.Dx(), b.Dy(), fuzzMaxPixels)
		}
		if cfgErr != nil {
			t.Fatalf("accepted a %s whose header DecodeConfig rejects: %v", format, cfgErr)
		}
		if format != cfgFormat {
			t.Errorf("format %q, DecodeConfig says %q", format, cfgFormat)
		}
		// Were the declared size over the limit, the decoder could allocate
		// it before failing: Decode must refuse from the header alone.
		if !withinLimit(cfg.Width, cfg.Height, fuzzMaxPixels) {
			t.Fatalf("accepted a header declaring %dx%d, over the limit of %d pixels", cfg.Width, cfg.Height, fuzzMaxPixels)
		}
		if w, h := displayedSize(data, format, cfg); b.Dx() != w || b.Dy() != h {
			t.Fatalf("decoded %dx%d, header declares %dx%d (displayed %dx%d)", b.Dx(), b.Dy(), cfg.Width, cfg.Height, w, h)
		}
		if got := ToTensor(img, 5, 3); len(got) != 5*3*3 {
			t.Errorf("ToTensor to 5x3 gave %d values", len(got))
		}
		if got := ToTensor(img, b.Dx(), b.Dy()); len(got) != b.Dx()*b.Dy()*3 {
			t.Errorf("ToTensor at native size gave %d values", len(got))
		}
	})
}

// withinLimit reports whether a w x h image is non-empty and has at most
// limit pixels, with a 128-bit product so that no declared size overflows.
func withinLimit(w, h, limit int) bool {
	if w <= 0 || h <= 0 {
		return false
	}
	hi, lo := bits.Mul64(uint64(w), uint64(h))
	return hi == 0 && lo <= uint64(limit)
}

// displayedSize is the size the header declares, turned by the EXIF
// orientation for JPEGs (Decode's documented contract: they come back upright).
func displayedSize(data []byte, format string, cfg image.Config) (w, h int) {
	if format == "jpeg" && JPEGOrientation(data) >= 5 {
		return cfg.Height, cfg.Width
	}
	return cfg.Width, cfg.Height
}

// A GIF's first frame may cover part of its screen; it comes back on the
// whole screen, uncovered pixels at palette index 0.
func TestDecodeGIFFrameOnScreen(t *testing.T) {
	img, _, err := Decode(gifFrame(image.Rect(0, 0, 10, 10), image.Rect(3, 3, 5, 5)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 10, 10) {
		t.Fatalf("bounds %v, want the 10x10 screen", b)
	}
	if got := color.GrayModel.Convert(img.At(4, 4)).(color.Gray).Y; got != 255 {
		t.Errorf("frame pixel %d, want white", got)
	}
	if got := color.GrayModel.Convert(img.At(0, 0)).(color.Gray).Y; got != 0 {
		t.Errorf("pixel off the frame %d, want index 0 (black)", got)
	}
}

// gifFrame encodes a one-frame GIF whose white frame covers frame of screen.
func gifFrame(screen, frame image.Rectangle) []byte {
	pal := color.Palette{color.Black, color.White}
	m := image.NewPaletted(frame, pal)
	for i := range m.Pix {
		m.Pix[i] = 1
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{m}, Delay: []int{0},
		Config: image.Config{ColorModel: pal, Width: screen.Dx(), Height: screen.Dy()}})
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}
