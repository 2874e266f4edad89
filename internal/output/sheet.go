package output

import (
	"fmt"
	"image"
	"path/filepath"

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

// add puts an input's thumbnails on the sheet: the original captioned with
// its file name, and each map with its unit's label and score (and its unit
// number when the image has several maps).
func (g *sheet) add(input string, img image.Image, e Maps) {
	b := img.Bounds()
	cell := render.GridCell{
		Image:    render.Fit(img, SheetCellSize),
		Captions: [][]string{{filepath.Base(input)}},
	}
	for i, m := range e.Values {
		cell.Maps = append(cell.Maps, render.Fit(g.colormap.Colorize(m, b.Dx(), b.Dy()), SheetCellSize))
		cell.Captions = append(cell.Captions, mapCaption(e, i))
	}
	g.cells = append(g.cells, cell)
}

// mapCaption is the two lines under map i: the label, then the score.
func mapCaption(e Maps, i int) []string {
	label := ""
	if i < len(e.Labels) {
		label = e.Labels[i]
	}
	score := ""
	if i < len(e.Logits) {
		score = ScoreText(e.Scores, e.Logits[i])
	}
	if len(e.Values) > 1 {
		score += fmt.Sprintf("  unit %d", e.Units[i])
	}
	return []string{label, score}
}

// ScoreText says a unit's score for people: "logit 7.25", "log-prob -0.0312".
func ScoreText(kind string, v float32) string {
	name := "logit"
	if kind == "log_probabilities" {
		name = "log-prob"
	}
	return fmt.Sprintf("%s %.4g", name, v)
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
