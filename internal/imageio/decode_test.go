package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDecodeJPEGMatchesPattern(t *testing.T) {
	img, format, err := Decode(readFixture(t, "rgb.jpg"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if format != "jpeg" {
		t.Errorf("format %q, want jpeg", format)
	}
	assertNearPattern(t, img, smoothPattern, jpegTolerance)
}

func TestDecodeCMYKJPEG(t *testing.T) {
	img, _, err := Decode(readFixture(t, "cmyk.jpg"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.CMYK); !ok {
		t.Fatalf("decoded %T, want *image.CMYK (fixture not CMYK?)", img)
	}
	assertNearPattern(t, img, smoothPattern, jpegTolerance)
}

func TestDecodeAppliesEXIFOrientation(t *testing.T) {
	for o := 2; o <= 8; o++ {
		name := "orient" + string(rune('0'+o)) + ".jpg"
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			if got := JPEGOrientation(data); got != o {
				t.Fatalf("JPEGOrientation = %d, want %d", got, o)
			}
			stored, _, err := image.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			wantStored := [2]int{fixtureW, fixtureH}
			if o >= 5 {
				wantStored = [2]int{fixtureH, fixtureW}
			}
			if got := [2]int{stored.Width, stored.Height}; got != wantStored {
				t.Fatalf("stored size %v, want %v", got, wantStored)
			}
			img, err := Load(filepath.Join("testdata", name), 0)
			if err != nil {
				t.Fatal(err)
			}
			assertNearPattern(t, img, smoothPattern, jpegTolerance)
		})
	}
}

// TestOrientationFixturesAreNotUpright guards the test above: if the stored
// pixels were already upright, it would pass without applying anything.
func TestOrientationFixturesAreNotUpright(t *testing.T) {
	for _, name := range []string{"orient2.jpg", "orient3.jpg", "orient4.jpg"} {
		img, _, err := image.Decode(bytes.NewReader(readFixture(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		got := ToTensor(img, fixtureW, fixtureH)
		if d, _, _, _ := maxDiff(t, got, patternTensor(fixtureW, fixtureH, smoothPattern), fixtureW); d < 100 {
			t.Errorf("%s: stored pixels already within %v of upright", name, d)
		}
	}
}

func TestDecodeLosslessFormatsExactly(t *testing.T) {
	for _, tc := range []struct{ file, format string }{
		{"rgb.png", "png"},
		{"palette.png", "png"}, // index 7 is transparent: its colour must survive
		{"pattern.gif", "gif"},
		{"pattern.bmp", "bmp"},
		{"pattern.tiff", "tiff"},
		{"pattern.webp", "webp"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			img, format, err := Decode(readFixture(t, tc.file), 0)
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("format %q, want %q", format, tc.format)
			}
			assertNearPattern(t, img, blockPattern, 0)
		})
	}
}

func TestDecodeGrayPNG(t *testing.T) {
	img, _, err := Decode(readFixture(t, "gray.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("decoded %T, want *image.Gray", img)
	}
	assertNearPattern(t, img, func(x, y int) rgb {
		v := float32(grayValue(x, y))
		return rgb{v, v, v}
	}, 0)
}

func TestDecodeGray16PNGKeepsFullPrecision(t *testing.T) {
	img, _, err := Decode(readFixture(t, "gray16.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray16); !ok {
		t.Fatalf("decoded %T, want *image.Gray16", img)
	}
	assertNearPattern(t, img, func(x, y int) rgb {
		v := float32(gray16Value(x, y)) / 257
		return rgb{v, v, v}
	}, 0)
}

func TestDecodeRGBAPNGDropsAlphaKeepingColour(t *testing.T) {
	img, _, err := Decode(readFixture(t, "rgba.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, a := img.At(transparentAt[0], transparentAt[1]).RGBA(); a != 0 {
		t.Fatalf("fixture pixel %v has alpha %d, want 0", transparentAt, a)
	}
	assertNearPattern(t, img, func(x, y int) rgb {
		if x == transparentAt[0] && y == transparentAt[1] {
			return transparentRGB
		}
		return blockPattern(x, y)
	}, 0)
}

func assertNearPattern(t *testing.T, img image.Image, pattern func(x, y int) rgb, tolerance float64) {
	t.Helper()
	if got := img.Bounds().Size(); got != image.Pt(fixtureW, fixtureH) {
		t.Fatalf("size %v, want %dx%d", got, fixtureW, fixtureH)
	}
	got := ToTensor(img, fixtureW, fixtureH)
	d, x, y, ch := maxDiff(t, got, patternTensor(fixtureW, fixtureH, pattern), fixtureW)
	if d > tolerance {
		t.Errorf("pixel (%d,%d) channel %d off by %v, tolerance %v", x, y, ch, d, tolerance)
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	jpg := readFixture(t, "rgb.jpg")
	pngData := readFixture(t, "rgb.png")
	for _, tc := range []struct {
		name     string
		data     []byte
		sentinel error
		contains []string
	}{
		{"empty", nil, nil, []string{"empty file"}},
		{"text", []byte("hello, this is not an image\n"), ErrUnsupportedFormat, nil},
		{"truncated jpeg", jpg[:len(jpg)/2], nil, []string{"decode jpeg", "truncated or corrupt", "unexpected EOF"}},
		{"truncated png", pngData[:len(pngData)/2], nil, []string{"decode png", "truncated or corrupt"}},
		{"huge png", pngHeader(100_000, 100_000), ErrTooLarge, []string{"100000x100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := Decode(tc.data, 0)
			if err == nil {
				t.Fatalf("got %T, want an error", img)
			}
			if img != nil {
				t.Errorf("image %T returned with error", img)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q does not wrap %q", err, tc.sentinel)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestDecodeChecksSizeBeforeAllocating(t *testing.T) {
	data := pngHeader(100_000, 100_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Decode(data, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes before refusing", n)
	}
}

func TestDecodeHonoursMaxPixels(t *testing.T) {
	data := readFixture(t, "rgb.png")
	if _, _, err := Decode(data, fixtureW*fixtureH); err != nil {
		t.Errorf("limit equal to the pixel count: %v", err)
	}
	if _, _, err := Decode(data, fixtureW*fixtureH-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit one below the pixel count: error %v, want ErrTooLarge", err)
	}
}

// pngHeader is a PNG signature and IHDR chunk (8-bit RGB) declaring w x h,
// with a valid CRC so that only the size can be objected to.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)-4))
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

func TestLoadErrorsOmitPath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.png")
	_, err := Load(missing, 0)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want fs.ErrNotExist", err)
	}
	if err != nil && strings.Contains(err.Error(), dir) {
		t.Errorf("error %q contains the path", err)
	}
	_, err = Load(filepath.Join("testdata", "README.md"), 0)
	if !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("error %v, want ErrUnsupportedFormat", err)
	}
	if err != nil && strings.Contains(err.Error(), "README") {
		t.Errorf("error %q contains the path", err)
	}
}
