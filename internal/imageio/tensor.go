package imageio

import (
	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// ToTensor returns img as float32 RGB values 0..255 in HWC order, len
// height*width*3. Alpha is dropped and the straight (unpremultiplied) colour
// kept, as PIL's convert("RGB") does. At img's own size the values are the
// exact pixel values (16-bit samples scaled by 1/257); otherwise img is
// resampled with x/image's bilinear kernel, which widens its support when
// downscaling and so does not alias. Non-positive sizes give nil.
func ToTensor(img image.Image, width, height int) []float32 {
	if width <= 0 || height <= 0 {
		return nil
	}
	b := img.Bounds()
	if b.Dx() == width && b.Dy() == height {
		return exactTensor(img)
	}
	if b.Empty() {
		return make([]float32, width*height*3)
	}
	// Decoding to 8-bit RGB before resampling, rather than handing YCbCr to
	// the scaler, matches PIL's pipeline and the native-size path.
	dst := image.NewRGBA64(image.Rect(0, 0, width, height))
	src := opaqueSource(img)
	draw.BiLinear.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	// dst is opaque, so its premultiplied samples are the straight ones.
	return tensorFrom16(dst.Pix, dst.Stride, dst.Rect)
}

// exactTensor converts without resampling; 8-bit types go through NRGBA,
// whose samples are exact, anything else through NRGBA64 to keep 16 bits.
func exactTensor(img image.Image) []float32 {
	if has8BitSamples(img) {
		m := straightNRGBA(img)
		return tensorFrom8(m.Pix, m.Stride, m.Rect)
	}
	m := straightNRGBA64(img)
	return tensorFrom16(m.Pix, m.Stride, m.Rect)
}

func has8BitSamples(img image.Image) bool {
	switch img.(type) {
	case *image.YCbCr, *image.Gray, *image.NRGBA, *image.RGBA, *image.CMYK, *image.Paletted:
		return true
	}
	return false
}

// opaqueSource returns an image with img's straight colours and full alpha,
// so that the scaler's premultiplied arithmetic neither darkens translucent
// pixels nor loses the colour of transparent ones. Types the scaler reads
// fast are passed through when they are already opaque.
func opaqueSource(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.Gray, *image.Gray16:
		return m
	case *image.NRGBA, *image.RGBA, *image.NRGBA64, *image.RGBA64:
		if m.(interface{ Opaque() bool }).Opaque() {
			return m
		}
	}
	if has8BitSamples(img) {
		m := straightNRGBA(img)
		fillAlpha(m.Pix, 4, 1)
		return m
	}
	m := straightNRGBA64(img)
	fillAlpha(m.Pix, 8, 2)
	return m
}

// fillAlpha sets the trailing alphaBytes of every pixel to 0xFF.
func fillAlpha(pix []byte, bytesPerPixel, alphaBytes int) {
	for i := bytesPerPixel - alphaBytes; i < len(pix); i += bytesPerPixel {
		for k := range alphaBytes {
			pix[i+k] = 0xFF
		}
	}
}

// tensorFrom8 reads RGB from a packed 4-byte-per-pixel buffer covering r.
func tensorFrom8(pix []byte, stride int, r image.Rectangle) []float32 {
	w, h := r.Dx(), r.Dy()
	out := make([]float32, 0, w*h*3)
	for y := range h {
		row := pix[y*stride : y*stride+w*4]
		for i := 0; i < len(row); i += 4 {
			out = append(out, float32(row[i]), float32(row[i+1]), float32(row[i+2]))
		}
	}
	return out
}

// tensorFrom16 reads RGB from a packed 8-byte-per-pixel big-endian buffer
// covering r, mapping 0..65535 onto 0..255 exactly (v/257, not v>>8).
func tensorFrom16(pix []byte, stride int, r image.Rectangle) []float32 {
	w, h := r.Dx(), r.Dy()
	out := make([]float32, 0, w*h*3)
	for y := range h {
		row := pix[y*stride : y*stride+w*8]
		for i := 0; i < len(row); i += 8 {
			out = append(out,
				sample16(row[i:i+2]), sample16(row[i+2:i+4]), sample16(row[i+4:i+6]))
		}
	}
	return out
}

func sample16(b []byte) float32 {
	return float32(uint16(b[0])<<8|uint16(b[1])) / 257
}

// straightNRGBA copies img into a new NRGBA with straight colours, using
// direct buffer access for the types decoders return.
func straightNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	dst := image.NewNRGBA(b)
	switch m := img.(type) {
	case *image.NRGBA:
		copyRows(dst.Pix, dst.Stride, m.Pix, m.Stride, b.Dx()*4, b.Dy())
	case *image.YCbCr:
		ycbcrToNRGBA(dst, m)
	case *image.Gray:
		eachPixel8(dst, func(x, y int) color.NRGBA {
			v := m.Pix[m.PixOffset(x, y)]
			return color.NRGBA{v, v, v, 0xFF}
		})
	case *image.CMYK:
		eachPixel8(dst, func(x, y int) color.NRGBA {
			p := m.Pix[m.PixOffset(x, y):]
			r, g, bl := color.CMYKToRGB(p[0], p[1], p[2], p[3])
			return color.NRGBA{r, g, bl, 0xFF}
		})
	case *image.RGBA:
		eachPixel8(dst, func(x, y int) color.NRGBA {
			p := m.Pix[m.PixOffset(x, y):]
			if p[3] == 0xFF {
				return color.NRGBA{p[0], p[1], p[2], 0xFF}
			}
			return color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
		})
	case *image.Paletted:
		var table [256]color.NRGBA
		for i, c := range m.Palette[:min(len(m.Palette), len(table))] {
			table[i] = straight8(c)
		}
		// Indices beyond the palette read as transparent black, as the
		// zero table entries are.
		eachPixel8(dst, func(x, y int) color.NRGBA {
			return table[m.Pix[m.PixOffset(x, y)]]
		})
	default:
		eachPixel8(dst, func(x, y int) color.NRGBA {
			return straight8(img.At(x, y))
		})
	}
	return dst
}

// straightNRGBA64 is straightNRGBA for 16-bit precision, via At.
func straightNRGBA64(img image.Image) *image.NRGBA64 {
	b := img.Bounds()
	dst := image.NewNRGBA64(b)
	if m, ok := img.(*image.NRGBA64); ok {
		copyRows(dst.Pix, dst.Stride, m.Pix, m.Stride, b.Dx()*8, b.Dy())
		return dst
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.SetNRGBA64(x, y, straight16(img.At(x, y)))
		}
	}
	return dst
}

func copyRows(dst []byte, dstStride int, src []byte, srcStride int, rowBytes, rows int) {
	for y := range rows {
		copy(dst[y*dstStride:y*dstStride+rowBytes], src[y*srcStride:y*srcStride+rowBytes])
	}
}

// eachPixel8 fills dst from a per-pixel function; the closure call is cheap
// next to the interface boxing that image.At would cost.
func eachPixel8(dst *image.NRGBA, at func(x, y int) color.NRGBA) {
	b := dst.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		for x, i := b.Min.X, 0; x < b.Max.X; x, i = x+1, i+4 {
			c := at(x, y)
			row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
		}
	}
}

// ycbcrToNRGBA converts through the standard library's YCbCr-to-RGBA fast
// path: YCbCr is opaque, so an RGBA view of dst's buffer holds exactly the
// NRGBA bytes, with image/color's conversion arithmetic.
func ycbcrToNRGBA(dst *image.NRGBA, m *image.YCbCr) {
	view := &image.RGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
	draw.Draw(view, view.Rect, m, m.Rect.Min, draw.Src)
}

// straight16 returns c without premultiplication. Straight colour types are
// taken as they are, since going through RGBA() would lose the colour of a
// fully transparent pixel.
func straight16(c color.Color) color.NRGBA64 {
	switch c := c.(type) {
	case color.NRGBA:
		return color.NRGBA64{
			uint16(c.R) * 0x101, uint16(c.G) * 0x101, uint16(c.B) * 0x101, uint16(c.A) * 0x101,
		}
	case color.NRGBA64:
		return c
	}
	return color.NRGBA64Model.Convert(c).(color.NRGBA64)
}

// straight8 rounds straight16 to 8 bits; v*0x101 maps back to v exactly.
func straight8(c color.Color) color.NRGBA {
	s := straight16(c)
	return color.NRGBA{to8(s.R), to8(s.G), to8(s.B), to8(s.A)}
}

func to8(v uint16) uint8 {
	return uint8((uint32(v)*255 + 32767) / 65535)
}
