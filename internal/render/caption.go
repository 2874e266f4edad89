package render

import (
	"image"
	"image/color"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Caption text is Go Regular (golang.org/x/image/font/gofont, BSD licence,
// compiled into the program, so no font file is looked up at run time) at 12 px:
// on a 192 px cell that holds about 30 characters a line, and stays legible
// when the sheet is viewed at its own size.
const (
	captionPoints = 12
	captionLine   = 15 // baseline to baseline, in pixels
	captionPad    = 3  // space between the picture and the first line, and at the left
)

// captionInk is the text's colour: near black, softer on white than pure black.
var captionInk = color.NRGBA{R: 34, G: 34, B: 34, A: 255}

// captionFace parses the embedded font once. It cannot fail on the font the
// package embeds, so a failure is a broken build and panics.
var captionFace = sync.OnceValue(func() font.Face {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic("render: embedded Go Regular font: " + err.Error())
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: captionPoints, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic("render: embedded Go Regular font: " + err.Error())
	}
	return face
})

// CaptionHeight is the height of a caption strip of n lines under a Grid's row.
func CaptionHeight(n int) int { return captionHeight(n) }

// captionHeight is the height of a caption strip of n lines.
func captionHeight(n int) int {
	if n == 0 {
		return 0
	}
	return captionPad + n*captionLine
}

// drawCaption writes lines left-aligned in box, one per captionLine, each
// shortened with an ellipsis to fit the box's width. Lines that do not fit in
// the box's height are not drawn.
func drawCaption(dst *image.NRGBA, box image.Rectangle, lines []string) {
	face := captionFace()
	ascent := face.Metrics().Ascent.Ceil()
	d := font.Drawer{Dst: dst, Src: image.NewUniform(captionInk), Face: face}
	width := fixed.I(box.Dx() - 2*captionPad)
	for i, line := range lines {
		baseline := box.Min.Y + captionPad + i*captionLine + ascent
		if baseline > box.Max.Y {
			return
		}
		d.Dot = fixed.P(box.Min.X+captionPad, baseline)
		d.DrawString(fitText(face, line, width))
	}
}

// fitText returns s, or its longest prefix followed by "…" that is at most
// width wide.
func fitText(face font.Face, s string, width fixed.Int26_6) string {
	if font.MeasureString(face, s) <= width {
		return s
	}
	runes := []rune(s)
	for n := len(runes) - 1; n > 0; n-- {
		if t := string(runes[:n]) + "…"; font.MeasureString(face, t) <= width {
			return t
		}
	}
	return "…"
}
