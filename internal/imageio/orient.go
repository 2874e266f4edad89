package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
)

// Orient returns img as a viewer would display it given EXIF orientation o
// (1..8, EXIF 2.3 / TIFF 6.0 tag 0x0112). 1 and unknown values return img
// itself; 5..8 swap width and height. The result starts at (0, 0) and keeps
// img's pixel type where that type stores pixels in a packed buffer; a YCbCr
// image becomes *image.NRGBA and any other type *image.NRGBA64.
func Orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	r := orientedRect(img.Bounds(), o)
	switch m := img.(type) {
	case *image.Gray:
		d := image.NewGray(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 1, o)
		return d
	case *image.Gray16:
		d := image.NewGray16(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 2, o)
		return d
	case *image.Alpha:
		d := image.NewAlpha(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 1, o)
		return d
	case *image.Alpha16:
		d := image.NewAlpha16(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 2, o)
		return d
	case *image.NRGBA:
		d := image.NewNRGBA(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 4, o)
		return d
	case *image.RGBA:
		d := image.NewRGBA(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 4, o)
		return d
	case *image.CMYK:
		d := image.NewCMYK(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 4, o)
		return d
	case *image.NRGBA64:
		d := image.NewNRGBA64(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 8, o)
		return d
	case *image.RGBA64:
		d := image.NewRGBA64(r)
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 8, o)
		return d
	case *image.Paletted:
		d := image.NewPaletted(r, append([]color.Color(nil), m.Palette...))
		orientPix(d.Pix, d.Stride, m.Pix, m.Stride, m.Rect, 1, o)
		return d
	case *image.YCbCr:
		// Chroma planes may be subsampled, so rotating them in place would
		// need per-ratio code; JPEGs are opaque, so NRGBA loses nothing.
		return Orient(straightNRGBA(m), o)
	default:
		return Orient(straightNRGBA64(img), o)
	}
}

// orientedRect is the bounds of the oriented image, anchored at the origin.
func orientedRect(b image.Rectangle, o int) image.Rectangle {
	if o >= 5 {
		return image.Rect(0, 0, b.Dy(), b.Dx())
	}
	return image.Rect(0, 0, b.Dx(), b.Dy())
}

// orientPix fills the packed destination buffer from the packed source
// buffer covering sr, bpp bytes per pixel.
func orientPix(dst []byte, dstStride int, src []byte, srcStride int, sr image.Rectangle, bpp, o int) {
	w, h := sr.Dx(), sr.Dy()
	dr := orientedRect(sr, o)
	for y := 0; y < dr.Dy(); y++ {
		row := dst[y*dstStride:]
		for x := 0; x < dr.Dx(); x++ {
			sx, sy := sourcePoint(o, x, y, w, h)
			s := sy*srcStride + sx*bpp
			copy(row[x*bpp:x*bpp+bpp], src[s:s+bpp])
		}
	}
}

// sourcePoint maps displayed pixel (x, y) back to the stored pixel of a w x h
// image, for each orientation's row-0/column-0 meaning in the EXIF spec.
func sourcePoint(o, x, y, w, h int) (sx, sy int) {
	switch o {
	case 2: // mirrored horizontally
		return w - 1 - x, y
	case 3: // rotated 180
		return w - 1 - x, h - 1 - y
	case 4: // mirrored vertically
		return x, h - 1 - y
	case 5: // transposed
		return y, x
	case 6: // needs 90 degrees clockwise
		return y, h - 1 - x
	case 7: // transversed
		return w - 1 - y, h - 1 - x
	case 8: // needs 90 degrees counter-clockwise
		return w - 1 - y, x
	}
	return x, y
}

// JPEGOrientation returns the EXIF Orientation (0x0112) from IFD0 of the first
// APP1 "Exif\0\0" segment of JPEG data, or 1 when the data is not a JPEG, has
// no such tag, or the tag is malformed or out of range. Untrusted input is
// fine: it only reads within bounds and never panics.
func JPEGOrientation(data []byte) int {
	tiffData := exifPayload(data)
	if tiffData == nil {
		return 1
	}
	return tiffOrientation(tiffData)
}

var exifHeader = []byte("Exif\x00\x00")

// exifPayload walks the JPEG marker segments up to the first scan and
// returns the TIFF structure inside the first Exif APP1 segment, or nil.
func exifPayload(data []byte) []byte {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	for i := 2; i+2 <= len(data); {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			i++
			continue
		case marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2 // standalone marker, no length
			continue
		case marker == 0xDA || marker == 0xD9:
			return nil // EXIF must precede the first scan
		}
		if i+4 > len(data) {
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || n > len(data)-i-2 {
			return nil
		}
		segment := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(segment, exifHeader) {
			return segment[len(exifHeader):]
		}
		i += 2 + n
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure. Offsets
// are uint64 so that hostile 32-bit values cannot overflow the bounds checks.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(t[2:]) != 42 {
		return 1
	}
	size := uint64(len(t))
	ifd := uint64(order.Uint32(t[4:]))
	if ifd+2 > size {
		return 1
	}
	count := uint64(order.Uint16(t[ifd:]))
	if ifd+2+12*count > size {
		return 1 // an IFD that overruns the segment cannot be trusted
	}
	for k := uint64(0); k < count; k++ {
		e := ifd + 2 + 12*k
		if order.Uint16(t[e:]) == 0x0112 {
			return orientationValue(order, t[e:e+12])
		}
	}
	return 1
}

// orientationValue decodes one 12-byte IFD entry; the spec says SHORT, but
// LONG is accepted because some writers use it.
func orientationValue(order binary.ByteOrder, entry []byte) int {
	if order.Uint32(entry[4:]) != 1 {
		return 1
	}
	var v uint32
	switch order.Uint16(entry[2:]) {
	case 3: // SHORT, left-justified in the value field
		v = uint32(order.Uint16(entry[8:]))
	case 4: // LONG
		v = order.Uint32(entry[8:])
	default:
		return 1
	}
	if v < 1 || v > 8 {
		return 1
	}
	return int(v)
}
