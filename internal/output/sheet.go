package output

import (
	"fmt"
	"image"

	"github.com/saliency-tool/saliency/internal/render"
)

// SheetCellSize is the side, in pixels, of one picture on the contact sheet.
const SheetCellSize = 192

// sheet collects thumbnails of the originals and their coloured maps for the
// contact sheet, so that a long batch does not hold every full image.
type sheet struct {
	path     string
	colormap *render.Colormap
	cells    []render.GridCell
}

// sheetColormap colours the sheet's maps: the heatmaps' colours, gray for
// grayscale heatmaps.
func sheetColormap(c *render.Colormap) *render.Colormap {
	if c != nil {
		return c
	}
	gray, _ := render.ColormapByName("gray")
	return gray
}

func (g *sheet) add(img image.Image, maps [][]float32) {
	b := img.Bounds()
	cell := render.GridCell{Image: render.Fit(img, SheetCellSize)}
	for _, m := range maps {
		cell.Maps = append(cell.Maps, render.Fit(g.colormap.Colorize(m, b.Dx(), b.Dy()), SheetCellSize))
	}
	g.cells = append(g.cells, cell)
}

// Finish writes the contact sheet, when one was asked for and not refused by
// Plan. A sheet with no image is an error: the file would say nothing.
func (s *Set) Finish() error {
	g := s.sheet
	if g == nil {
		return nil
	}
	if len(g.cells) == 0 {
		return fmt.Errorf("%s: no image was explained, no sheet written", g.path)
	}
	if err := WritePNG(g.path, render.Grid(g.cells, SheetCellSize)); err != nil {
		return fmt.Errorf("%s: %w", g.path, err)
	}
	return nil
}
