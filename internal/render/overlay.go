package render

import (
	"image"
	"image/color"
)

// Overlay alpha-blends the colorized map over img and returns an opaque image with
// img's bounds, origin included, so it lines up with the original pixel for pixel.
// alpha is the heatmap's weight, clamped to [0,1]: 0 gives the original, 1 the bare
// heatmap (the CLI uses 0.5). m must hold one value per pixel of img, row-major
// from img.Bounds().Min; Overlay panics otherwise.
//
// A translucent original keeps its straight (non-premultiplied) colour and the
// result is forced opaque: a saliency overlay is about where the model looked, and
// fading the picture toward black or white where it happened to be transparent
// would read as a change in saliency.
func Overlay(img image.Image, m []float32, c *Colormap, alpha float32) *image.NRGBA {
	b := img.Bounds()
	checkMapSize(len(m), b.Dx(), b.Dy())
	a := clamp01(alpha)
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := m[(y-b.Min.Y)*b.Dx():]
		for x := b.Min.X; x < b.Max.X; x++ {
			orig := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			heat := c.colorOf(row[x-b.Min.X])
			i := out.PixOffset(x, y)
			out.Pix[i+0] = blend(orig.R, heat[0], a)
			out.Pix[i+1] = blend(orig.G, heat[1], a)
			out.Pix[i+2] = blend(orig.B, heat[2], a)
			out.Pix[i+3] = 0xff
		}
	}
	return out
}

// blend returns base + a*(top-base), rounded; a in [0,1] is top's weight.
func blend(base, top uint8, a float32) uint8 {
	return uint8(float32(base) + a*(float32(top)-float32(base)) + 0.5)
}
