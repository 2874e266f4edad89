package render

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

var white = rgb(255, 255, 255)

// cellCentre is the centre pixel of the box in column col, row row.
func cellCentre(col, row, cellSize int) image.Point {
	return gridLayout{cell: cellSize}.box(col, row).Min.Add(image.Pt(cellSize/2, cellSize/2))
}

func TestGridLayout(t *testing.T) {
	const cellSize = 64
	imageColour := []color.NRGBA{rgb(200, 0, 0), rgb(0, 200, 0), rgb(0, 0, 200)}
	mapColour := [][]color.NRGBA{
		{rgb(10, 10, 10), rgb(20, 20, 20)},
		{rgb(30, 30, 30), rgb(40, 40, 40)},
		{rgb(50, 50, 50)}, // one map fewer: its second-map cell stays blank
	}
	cells := make([]GridCell, 3)
	for i := range cells {
		cells[i].Image = uniform(224, 224, imageColour[i])
		for _, c := range mapColour[i] {
			cells[i].Maps = append(cells[i].Maps, uniform(224, 224, c))
		}
	}

	sheet := Grid(cells, cellSize)

	// 3 columns and 3 rows (originals + 2 maps) of 64 px with 2 gaps of 4 px each way.
	if got, want := sheet.Bounds(), image.Rect(0, 0, 3*64+2*4, 3*64+2*4); got != want {
		t.Fatalf("sheet bounds = %v, want %v", got, want)
	}
	for col := range cells {
		p := cellCentre(col, 0, cellSize)
		if got := sheet.NRGBAAt(p.X, p.Y); got != imageColour[col] {
			t.Errorf("row 0, column %d at %v = %v, want image %d's %v", col, p, got, col, imageColour[col])
		}
		for k := range 2 {
			p := cellCentre(col, k+1, cellSize)
			want := white
			if k < len(mapColour[col]) {
				want = mapColour[col][k]
			}
			if got := sheet.NRGBAAt(p.X, p.Y); got != want {
				t.Errorf("row %d, column %d at %v = %v, want %v", k+1, col, p, got, want)
			}
		}
	}
	// The cell must be filled edge to edge by a square picture, and the gap white.
	if got := sheet.NRGBAAt(cellSize-1, cellSize-1); got != imageColour[0] {
		t.Errorf("last pixel of cell (0,0) = %v, want %v", got, imageColour[0])
	}
	if got := sheet.NRGBAAt(cellSize, cellSize/2); got != white {
		t.Errorf("gap pixel = %v, want white", got)
	}
}

func TestGridCentresNonSquareImage(t *testing.T) {
	const cellSize = 64
	red := rgb(255, 0, 0)
	sheet := Grid([]GridCell{{Image: uniform(128, 64, red)}}, cellSize) // fits as 64x32
	if got, want := sheet.Bounds(), image.Rect(0, 0, cellSize, cellSize); got != want {
		t.Fatalf("bounds = %v, want %v", got, want)
	}
	// Rows 16..47 hold the picture; 16 white rows pad it above and below.
	for _, tt := range []struct {
		y    int
		want color.NRGBA
	}{{0, white}, {15, white}, {16, red}, {32, red}, {47, red}, {48, white}, {63, white}} {
		for _, x := range []int{0, 32, 63} {
			if got := sheet.NRGBAAt(x, tt.y); got != tt.want {
				t.Errorf("At(%d,%d) = %v, want %v", x, tt.y, got, tt.want)
			}
		}
	}
}

func TestGridShrinksByAveraging(t *testing.T) {
	// A 1-pixel checkerboard halved must come out mid-grey, not black or white
	// as point sampling would give.
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			if (x+y)%2 == 0 {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	got := Grid([]GridCell{{Image: img}}, 4).NRGBAAt(1, 1)
	if got.R < 100 || got.R > 155 {
		t.Errorf("halved checkerboard pixel = %v, want about mid-grey", got)
	}
}

func TestGridEmpty(t *testing.T) {
	if b := Grid(nil, 64).Bounds(); !b.Empty() {
		t.Errorf("Grid(nil) bounds = %v, want empty", b)
	}
}

// TestGridCaptions checks the words under the pictures against text drawn
// independently with x/image's font.Drawer and the same face at the place the
// layout documents: the strip must match pixel for pixel, differ between two
// labels, and a label too long for the cell must end in an ellipsis inside it.
func TestGridCaptions(t *testing.T) {
	const cellSize = 192
	cells := []GridCell{
		{Image: uniform(64, 64, rgb(200, 0, 0)), Maps: []image.Image{uniform(64, 64, rgb(0, 0, 0))},
			Captions: [][]string{{"shoe.png"}, {"Sandal", "logit 7.25"}}},
		{Image: uniform(64, 64, rgb(0, 200, 0)), Maps: []image.Image{uniform(64, 64, rgb(0, 0, 0))},
			Captions: [][]string{{"bag.png"}, {"Ankle boot", "logit 3.5"}}},
		{Image: uniform(64, 64, rgb(0, 0, 200)),
			Captions: [][]string{{"a file name far too long to fit under one thumbnail.png"}}},
	}
	sheet := Grid(cells, cellSize)
	l := gridLayout{cell: cellSize, caption: captionHeight(2)}
	if got, want := sheet.Bounds().Dy(), 2*(cellSize+l.caption)+GridGap; got != want {
		t.Fatalf("sheet height = %d, want %d (two rows with a two-line caption strip each)", got, want)
	}

	want := func(box image.Rectangle, lines ...string) *image.NRGBA {
		img := uniform(sheet.Bounds().Dx(), sheet.Bounds().Dy(), white)
		face := captionFace()
		d := font.Drawer{Dst: img, Src: image.NewUniform(captionInk), Face: face}
		for i, s := range lines {
			d.Dot = fixed.P(box.Min.X+captionPad, box.Min.Y+captionPad+i*captionLine+face.Metrics().Ascent.Ceil())
			d.DrawString(s)
		}
		return img
	}
	strip := func(img *image.NRGBA, box image.Rectangle) []byte {
		var px []byte
		for y := box.Min.Y; y < box.Max.Y; y++ {
			px = append(px, img.Pix[img.PixOffset(box.Min.X, y):img.PixOffset(box.Max.X, y)]...)
		}
		return px
	}
	inked := func(px []byte) int {
		n := 0
		for i := 0; i < len(px); i += 4 {
			if px[i] < 128 {
				n++
			}
		}
		return n
	}

	sandal := l.captionBox(0, 1)
	got := strip(sheet, sandal)
	if inked(got) < 50 {
		t.Fatalf("caption strip under the first map has %d dark pixels, want text", inked(got))
	}
	if !bytes.Equal(got, strip(want(sandal, "Sandal", "logit 7.25"), sandal)) {
		t.Error("caption under the first map differs from \"Sandal\" / \"logit 7.25\" drawn with the same face")
	}
	boot := l.captionBox(1, 1)
	if bytes.Equal(strip(sheet, boot), got) {
		t.Error("captions of two different labels are identical")
	}
	if !bytes.Equal(strip(sheet, l.captionBox(1, 0)), strip(want(l.captionBox(1, 0), "bag.png"), l.captionBox(1, 0))) {
		t.Error("caption under the second image differs from its file name")
	}
	long := l.captionBox(2, 0)
	text := fitText(captionFace(), cells[2].Captions[0][0], fixed.I(cellSize-2*captionPad))
	if !strings.HasSuffix(text, "…") || font.MeasureString(captionFace(), text) > fixed.I(cellSize-2*captionPad) {
		t.Errorf("long caption shortened to %q, want an ellipsis within the cell", text)
	}
	if !bytes.Equal(strip(sheet, long), strip(want(long, text), long)) {
		t.Error("long caption is not the shortened text")
	}
	// The third column has no map: its map box and caption stay white.
	if n := inked(strip(sheet, l.captionBox(2, 1))); n != 0 {
		t.Errorf("caption strip of a missing map has %d dark pixels, want none", n)
	}
}
