package render

import (
	"image"

	xdraw "golang.org/x/image/draw"
)

// scaleOverWhite draws src scaled into target of dst, over what dst holds there
// (the grid's white sheet), with x/image's bilinear kernel, which filters
// properly when shrinking.
func scaleOverWhite(dst *image.NRGBA, target image.Rectangle, src image.Image) {
	xdraw.BiLinear.Scale(dst, target, src, src.Bounds(), xdraw.Over, nil)
}

// Fit returns a copy of img scaled to fit a side x side box, keeping its aspect
// ratio: a thumbnail small enough to hold for every image of a long batch until
// the grid sheet is drawn.
func Fit(img image.Image, side int) image.Image {
	size := fitSize(img.Bounds().Size(), side)
	out := image.NewNRGBA(image.Rectangle{Max: size})
	xdraw.BiLinear.Scale(out, out.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	return out
}
