package render

import (
	"image"
	"image/draw"
	"math"
)

// tap is one source pixel's share in a resampled destination pixel.
type tap struct {
	index  int
	weight float32
}

// tentTaps returns, for each of dstLen destination pixels along one axis, the
// source pixels (out of srcLen) that contribute to it and their normalised weights.
// The tent filter is one source pixel wide when enlarging (bilinear interpolation)
// and widens to one destination pixel when shrinking, so a 224-pixel map shrunk to
// a 64-pixel cell averages its neighbourhood instead of skipping pixels and
// aliasing fine saliency detail away. Equal sizes copy pixels unchanged.
func tentTaps(srcLen, dstLen int) [][]tap {
	scale := float64(srcLen) / float64(dstLen)
	radius := max(1, scale)
	taps := make([][]tap, dstLen)
	for i := range taps {
		centre := (float64(i)+0.5)*scale - 0.5 // pixel centres line up
		var sum float32
		for j := int(math.Ceil(centre - radius)); j <= int(math.Floor(centre+radius)); j++ {
			w := float32(1 - math.Abs(float64(j)-centre)/radius)
			if w <= 0 {
				continue
			}
			// Past an edge, repeat the edge pixel rather than fade to nothing.
			taps[i] = append(taps[i], tap{index: min(max(j, 0), srcLen-1), weight: w})
			sum += w
		}
		for k := range taps[i] {
			taps[i][k].weight /= sum
		}
	}
	return taps
}

// scaleOverWhite resamples src to fill target and composites it over white into
// dst, leaving dst opaque there. Filtering runs on premultiplied colour so
// transparent pixels' hidden colour cannot bleed into their neighbours.
func scaleOverWhite(dst *image.NRGBA, target image.Rectangle, src image.Image) {
	sb := src.Bounds()
	pre := image.NewRGBA(image.Rect(0, 0, sb.Dx(), sb.Dy()))
	draw.Draw(pre, pre.Bounds(), src, sb.Min, draw.Src)
	xTaps := tentTaps(sb.Dx(), target.Dx())
	yTaps := tentTaps(sb.Dy(), target.Dy())
	for dy, ys := range yTaps {
		for dx, xs := range xTaps {
			var acc [4]float32 // premultiplied R, G, B, A in 0..255
			for _, ty := range ys {
				row := pre.Pix[ty.index*pre.Stride:]
				for _, tx := range xs {
					w := ty.weight * tx.weight
					p := row[4*tx.index : 4*tx.index+4]
					for ch := range acc {
						acc[ch] += w * float32(p[ch])
					}
				}
			}
			i := dst.PixOffset(target.Min.X+dx, target.Min.Y+dy)
			white := 255 - acc[3] // what the white sheet contributes through the alpha
			for ch := range 3 {
				dst.Pix[i+ch] = toByte(acc[ch] + white)
			}
			dst.Pix[i+3] = 0xff
		}
	}
}

// toByte rounds v to the nearest byte, clamping rounding overshoot.
func toByte(v float32) uint8 {
	return uint8(min(max(v+0.5, 0), 255))
}
