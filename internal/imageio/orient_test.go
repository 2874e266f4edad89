package imageio

import (
	"encoding/binary"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// orientationCases are hand-computed from the EXIF definitions for the
// stored image
//
//	a b c
//	d e f
var orientationCases = []struct {
	o    int
	want []string // rows of the displayed image
}{
	{1, []string{"abc", "def"}},
	{2, []string{"cba", "fed"}},
	{3, []string{"fed", "cba"}},
	{4, []string{"def", "abc"}},
	{5, []string{"ad", "be", "cf"}},
	{6, []string{"da", "eb", "fc"}},
	{7, []string{"fc", "eb", "da"}},
	{8, []string{"cf", "be", "ad"}},
}

// labelled builds the 3x2 "abc/def" image as each pixel type Orient
// handles differently; pixel letter L has gray level 10*(L-'a'+1).
func labelled() map[string]image.Image {
	level := func(x, y int) uint8 { return uint8(10 * (1 + x + 3*y)) }
	r := image.Rect(0, 0, 3, 2)
	gray := image.NewGray(r)
	nrgba := image.NewNRGBA(r)
	rgba64 := image.NewRGBA64(r)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	pal := image.NewPaletted(r, nil)
	// A sub-image checks that the origin and stride are honoured.
	big := image.NewCMYK(image.Rect(-2, -1, 6, 4))
	for y := range 2 {
		for x := range 3 {
			v := level(x, y)
			gray.SetGray(x, y, color.Gray{v})
			nrgba.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(v) * 257, uint16(v) * 257, uint16(v) * 257, 0xffff})
			ycc.Y[ycc.YOffset(x, y)] = v
			ycc.Cb[ycc.COffset(x, y)], ycc.Cr[ycc.COffset(x, y)] = 128, 128
			pal.Palette = append(pal.Palette, color.Gray{v})
			pal.SetColorIndex(x, y, uint8(len(pal.Palette)-1))
			big.SetCMYK(x+1, y+2, color.CMYK{0, 0, 0, 255 - v})
		}
	}
	return map[string]image.Image{
		"gray":     gray,
		"nrgba":    nrgba,
		"rgba64":   rgba64,
		"ycbcr":    ycc,
		"paletted": pal,
		"cmyk-sub": big.SubImage(image.Rect(1, 2, 4, 4)),
		"generic":  struct{ image.Image }{gray}, // hides the type
	}
}

func TestOrientAllEight(t *testing.T) {
	for name, img := range labelled() {
		for _, tc := range orientationCases {
			got := letters(Orient(img, tc.o))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s, orientation %d: got %q, want %q", name, tc.o, got, tc.want)
			}
		}
	}
}

func TestOrientKeepsPackedPixelType(t *testing.T) {
	for name, img := range labelled() {
		if name == "ycbcr" || name == "generic" || name == "cmyk-sub" {
			continue
		}
		if got := Orient(img, 6); reflect.TypeOf(got) != reflect.TypeOf(img) {
			t.Errorf("%s: Orient returned %T", name, got)
		}
	}
}

func TestOrientLeavesUnknownValuesAlone(t *testing.T) {
	img := labelled()["gray"]
	for _, o := range []int{-1, 0, 1, 9, 100} {
		if got := Orient(img, o); got != img {
			t.Errorf("orientation %d changed the image", o)
		}
	}
}

// letters reads an image built by labelled back into rows of letters.
func letters(img image.Image) []string {
	b := img.Bounds()
	var rows []string
	for y := b.Min.Y; y < b.Max.Y; y++ {
		var row strings.Builder
		for x := b.Min.X; x < b.Max.X; x++ {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
			row.WriteByte(byte('a' + int(g.Y)/10 - 1))
		}
		rows = append(rows, row.String())
	}
	return rows
}

// exifJPEG builds the start of a JPEG: SOI, a JFIF APP0 to skip, the given
// APP1 payload, and a start of scan.
func exifJPEG(app1 []byte) []byte {
	out := []byte{0xFF, 0xD8}
	out = appendSegment(out, 0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))
	if app1 != nil {
		out = appendSegment(out, 0xE1, app1)
	}
	return appendSegment(out, 0xDA, []byte{1, 1, 0, 0, 63, 0})
}

func appendSegment(out []byte, marker byte, payload []byte) []byte {
	out = append(out, 0xFF, marker)
	out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
	return append(out, payload...)
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifPayloadFor is an "Exif\0\0" TIFF structure whose IFD0 holds a filler
// tag and then Orientation with the given type and value.
func exifPayloadFor(order byteOrder, typ uint16, value uint32) []byte {
	out := []byte("Exif\x00\x00")
	if order == byteOrder(binary.LittleEndian) {
		out = append(out, "II"...)
	} else {
		out = append(out, "MM"...)
	}
	out = order.AppendUint16(out, 42)
	out = order.AppendUint32(out, 8)
	out = order.AppendUint16(out, 2)
	// ImageWidth, LONG 1, 640: must be skipped.
	out = order.AppendUint16(out, 0x0100)
	out = order.AppendUint16(out, 4)
	out = order.AppendUint32(out, 1)
	out = order.AppendUint32(out, 640)
	out = order.AppendUint16(out, 0x0112)
	out = order.AppendUint16(out, typ)
	out = order.AppendUint32(out, 1)
	if typ == 3 {
		out = order.AppendUint16(out, uint16(value))
		out = append(out, 0, 0)
	} else {
		out = order.AppendUint32(out, value)
	}
	return order.AppendUint32(out, 0) // no IFD1
}

func TestJPEGOrientationBothByteOrders(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for o := 1; o <= 8; o++ {
			for _, typ := range []uint16{3, 4} {
				data := exifJPEG(exifPayloadFor(order, typ, uint32(o)))
				if got := JPEGOrientation(data); got != o {
					t.Errorf("%v type %d value %d: got %d", order, typ, o, got)
				}
			}
		}
	}
}

func TestJPEGOrientationDefaultsToOne(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	valid := exifPayloadFor(be, 3, 6)
	badOffset := append([]byte(nil), valid...)
	binary.BigEndian.PutUint32(badOffset[10:], 0xFFFFFFF0)
	hugeCount := append([]byte(nil), valid...)
	binary.BigEndian.PutUint16(hugeCount[14:], 0xFFFF)
	badMagic := append([]byte(nil), valid...)
	badMagic[9] = 43
	twoValues := append([]byte(nil), valid...)
	binary.BigEndian.PutUint32(twoValues[6+8+2+12+4:], 2)
	afterScan := appendSegment(exifJPEG(nil), 0xE1, valid)
	xmpFirst := appendSegment([]byte{0xFF, 0xD8}, 0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>"))
	xmpFirst = appendSegment(xmpFirst, 0xE1, valid)

	if got := JPEGOrientation(xmpFirst); got != 6 {
		t.Errorf("Exif after an XMP APP1: got %d, want 6", got)
	}
	for name, data := range map[string][]byte{
		"nil":            nil,
		"not a jpeg":     []byte("GIF89a......"),
		"no exif":        exifJPEG(nil),
		"value 0":        exifJPEG(exifPayloadFor(le, 3, 0)),
		"value 9":        exifJPEG(exifPayloadFor(be, 3, 9)),
		"huge long":      exifJPEG(exifPayloadFor(le, 4, 0x10006)),
		"type ASCII":     exifJPEG(exifPayloadFor(le, 2, 6)),
		"ifd offset out": exifJPEG(badOffset),
		"entry count":    exifJPEG(hugeCount),
		"bad magic":      exifJPEG(badMagic),
		"count 2":        exifJPEG(twoValues),
		"exif after sos": afterScan,
		"byte order XX":  exifJPEG(append([]byte("Exif\x00\x00XX"), valid[8:]...)),
		"short segment":  {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01},
	} {
		if got := JPEGOrientation(data); got != 1 {
			t.Errorf("%s: got %d, want 1", name, got)
		}
	}
}

// Every prefix that cuts into the Exif segment must read as absent.
func TestJPEGOrientationTruncated(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		data := exifJPEG(exifPayloadFor(order, 3, 8))
		segmentEnd := len(data) - 10 // the SOS segment is 10 bytes
		for n := range segmentEnd {
			if got := JPEGOrientation(data[:n]); got != 1 {
				t.Fatalf("%v, %d of %d bytes: got %d, want 1", order, n, segmentEnd, got)
			}
		}
		if got := JPEGOrientation(data[:segmentEnd]); got != 8 {
			t.Errorf("%v, whole segment: got %d, want 8", order, got)
		}
	}
}

func FuzzJPEGOrientation(f *testing.F) {
	f.Add(exifJPEG(exifPayloadFor(binary.LittleEndian, 3, 6)))
	f.Add(exifJPEG(exifPayloadFor(binary.BigEndian, 4, 3)))
	addFixtureSeeds(f, ".jpg")
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := JPEGOrientation(data); o < 1 || o > 8 {
			t.Errorf("orientation %d", o)
		}
	})
}

// addFixtureSeeds adds every testdata file whose name ends in one of exts.
func addFixtureSeeds(f *testing.F, exts ...string) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		for _, ext := range exts {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ext) {
				data, err := os.ReadFile(filepath.Join("testdata", e.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data)
			}
		}
	}
}
