package output

import (
	"errors"
	"fmt"
	"image"

	"github.com/saliency-tool/saliency/internal/render"
)

// ErrWouldOverwriteInput guards the one thing the tool must never do.
var ErrWouldOverwriteInput = errors.New("output would overwrite an input of this call")

// Maps is one input explained, as Write needs it: a map per unit, its values
// in [0, 1] at the image's size, row-major, with what the model said of the
// unit (for the contact sheet's captions).
type Maps struct {
	Units  []int
	Labels []string
	Logits []float32
	// Scores is what Logits are: "logits" or "log_probabilities" (Record.Scores).
	Scores string
	Values [][]float32
}

// Write writes one job's maps: a heatmap per unit, and when asked an overlay
// per unit and one raw array of them all. Each file is written atomically and
// none replaces an input of the run. A job written whole adds its thumbnails
// to the contact sheet.
func (s *Set) Write(j Job, img image.Image, e Maps) (Files, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	maps, units := e.Values, e.Units
	k := len(maps)
	var f Files
	for i, m := range maps {
		heat := s.image(j.Stem, Heatmap, units[i], k)
		if err := s.writeFile(heat, func() error { return s.writeHeatmap(heat, m, w, h) }); err != nil {
			return Files{}, err
		}
		f.Maps = append(f.Maps, heat)
		if s.opts.Overlay {
			over := s.image(j.Stem, Overlay, units[i], k)
			if err := s.writeFile(over, func() error {
				return WritePNG(over, render.Overlay(img, m, overlayColormap(s.opts.Colormap), s.overlayAlpha()))
			}); err != nil {
				return Files{}, err
			}
			f.Overlays = append(f.Overlays, over)
		}
	}
	if s.opts.Raw {
		raw := make([]float32, 0, k*w*h)
		for _, m := range maps {
			raw = append(raw, m...)
		}
		path := s.raw(j.Stem)
		if err := s.writeFile(path, func() error { return WriteNPY(path, raw, []int{k, h, w}) }); err != nil {
			return Files{}, err
		}
		f.Raw = path
	}
	if s.sheet != nil {
		s.sheet.add(j.Input, img, e)
	}
	return f, nil
}

// writeHeatmap writes a map as 8-bit grayscale, or coloured by the colormap.
func (s *Set) writeHeatmap(path string, m []float32, w, h int) error {
	if c := s.opts.Colormap; c != nil && c.Name() != "gray" {
		return WritePNG(path, c.Colorize(m, w, h))
	}
	return WriteGrayPNG(path, m, w, h)
}

func (s *Set) overlayAlpha() float32 {
	if s.opts.OverlayAlpha == 0 {
		return 0.5
	}
	return s.opts.OverlayAlpha
}

// overlayColormap is the map used for overlays: gray over a photo is hard to
// read, so a grayscale run still overlays in inferno.
func overlayColormap(c *render.Colormap) *render.Colormap {
	if c != nil && c.Name() != "gray" {
		return c
	}
	inferno, _ := render.ColormapByName("inferno")
	return inferno
}

// writeFile refuses a path that is one of the run's inputs, then writes it.
func (s *Set) writeFile(path string, write func() error) error {
	if s.protected[absClean(path)] {
		return fmt.Errorf("%w: %s", ErrWouldOverwriteInput, path)
	}
	if err := write(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
