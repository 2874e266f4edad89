package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
)

// GridGap is the white space, in pixels, between neighbouring cells of a Grid,
// enough to tell where one picture ends and the next starts.
const GridGap = 4

// GridCell is one column of a Grid: an original image and the maps explaining it.
type GridCell struct {
	Image image.Image
	Maps  []image.Image
	// Captions are the lines written under the pictures: Captions[0] under
	// the image, Captions[k+1] under map k. Missing entries write nothing.
	Captions [][]string
}

// Grid lays cells out on one white sheet, like keras-explainable's
// ke.utils.visualize([*images, *maps]): column i holds cells[i]; the first row
// shows the originals and row k+1 shows every image's k-th map, so maps of one
// method line up side by side. Each picture is scaled to fit a cellSize x cellSize
// box keeping its aspect ratio and centred there; GridGap pixels separate the
// boxes. Missing pictures (nil, or an image with fewer maps) leave a blank box, and
// translucent pictures show the white sheet through. The sheet is
// n*cellSize + (n-1)*GridGap pixels on a side of n boxes, and empty for no cells.
// When any cell has captions, every row grows by a strip under its boxes tall
// enough for the most lines any picture has (Go Regular, 12 px). Grid panics
// if cellSize < 1.
func Grid(cells []GridCell, cellSize int) *image.NRGBA {
	if cellSize < 1 {
		panic(fmt.Sprintf("render: grid cell size %d, want at least 1", cellSize))
	}
	if len(cells) == 0 {
		return image.NewNRGBA(image.Rectangle{})
	}
	l := gridLayout{cell: cellSize, caption: captionHeight(mostLines(cells))}
	rows := 1 + mostMaps(cells)
	sheet := image.NewNRGBA(image.Rect(0, 0, sheetSpan(len(cells), cellSize), sheetSpan(rows, l.rowHeight())))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for col, cell := range cells {
		drawFitted(sheet, l.box(col, 0), cell.Image)
		for k, m := range cell.Maps {
			drawFitted(sheet, l.box(col, k+1), m)
		}
		for row, lines := range cell.Captions {
			drawCaption(sheet, l.captionBox(col, row), lines)
		}
	}
	return sheet
}

// gridLayout places the boxes of a Grid: squares of cell pixels, each with a
// caption strip of caption pixels under it (0: none).
type gridLayout struct{ cell, caption int }

func (l gridLayout) rowHeight() int { return l.cell + l.caption }

// box is the square picture box in column col, row row.
func (l gridLayout) box(col, row int) image.Rectangle {
	origin := image.Pt(col*(l.cell+GridGap), row*(l.rowHeight()+GridGap))
	return image.Rectangle{Min: origin, Max: origin.Add(image.Pt(l.cell, l.cell))}
}

// captionBox is the strip under box(col, row).
func (l gridLayout) captionBox(col, row int) image.Rectangle {
	b := l.box(col, row)
	return image.Rect(b.Min.X, b.Max.Y, b.Max.X, b.Max.Y+l.caption)
}

// mostLines returns the largest number of caption lines under any picture.
func mostLines(cells []GridCell) int {
	n := 0
	for _, c := range cells {
		for _, lines := range c.Captions {
			n = max(n, len(lines))
		}
	}
	return n
}

// mostMaps returns the largest number of maps any cell has.
func mostMaps(cells []GridCell) int {
	n := 0
	for _, c := range cells {
		n = max(n, len(c.Maps))
	}
	return n
}

// sheetSpan is the length of n boxes of size with GridGap between them.
func sheetSpan(n, size int) int {
	return n*size + (n-1)*GridGap
}

// drawFitted scales src to fit box, keeping its aspect ratio, and draws it centred
// in box over what the sheet holds there. A nil or empty src draws nothing.
func drawFitted(sheet *image.NRGBA, box image.Rectangle, src image.Image) {
	if src == nil || src.Bounds().Empty() {
		return
	}
	size := fitSize(src.Bounds().Size(), box.Dx())
	offset := box.Size().Sub(size).Div(2)
	target := image.Rectangle{Min: box.Min.Add(offset), Max: box.Min.Add(offset).Add(size)}
	scaleOverWhite(sheet, target, src)
}

// fitSize scales size so that its longer side is side, keeping the aspect ratio
// (rounded, and at least one pixel so thin images stay visible).
func fitSize(size image.Point, side int) image.Point {
	if size.X >= size.Y {
		return image.Pt(side, max(1, (size.Y*side+size.X/2)/size.X))
	}
	return image.Pt(max(1, (size.X*side+size.Y/2)/size.Y), side)
}
