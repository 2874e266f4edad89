package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"time"

	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/render"
)

// EvalSamples is how many composites an eval report shows spread over the
// set, and EvalMisses how many more it shows among those whose map's maximum
// fell outside the box: enough to see what the maps do and where they fail,
// few enough to keep the page, which carries its pictures inside, near a
// megabyte.
const (
	EvalSamples = 24
	EvalMisses  = 8
)

// Eval is the report of a `saliency eval` run.
type Eval struct {
	Model   Model
	Method  string
	Params  []Param
	Dir     string
	Command []string
	Started time.Time
	Elapsed time.Duration
	Scores  evaluate.Report
	// Labels name the model's units.
	Labels []string
	// Samples are the composites shown, each with its map; Misses are more,
	// whose map's maximum is outside the box.
	Samples, Misses []evaluate.Scored
	// Failures are the composites that could not be explained, with why.
	Failures []string
}

// SampleEvery is the stride that picks about EvalSamples of n composites
// spread over the whole set.
func SampleEvery(n int) int {
	return max(1, int(math.Ceil(float64(n)/EvalSamples)))
}

type evalPage struct {
	Eval
	Started, Elapsed string
	CommandLine      string
	Rows             []metricRow
	Spearman         string
	Shown, Missed    []sampleView
}

type metricRow struct{ Name, Maps, Uniform, Ratio, Note string }

type sampleView struct {
	Name, Truth, Predicted string
	Correct, Hit           bool
	Energy                 string
	Image, Map             picture
}

// Write renders the eval page, with its pictures inside, to path atomically.
func (e Eval) Write(path string) error {
	r := e.Scores
	p := evalPage{Eval: e, Started: e.Started.Format("2006-01-02 15:04:05 MST"),
		Elapsed: duration(e.Elapsed), CommandLine: commandLine(e.Command)}
	p.Rows = []metricRow{
		{"top-1 accuracy", f3(float64(r.Accuracy)), "", "", "the model's best unit is the pasted object's class"},
		{"pointing game", f3(float64(r.PointingGame)), f3(float64(r.UniformShare)), ratio(float64(r.PointingGame), float64(r.UniformShare)), "the map's maximum falls in the box"},
		{"energy in box", f3(float64(r.EnergyInBox)), f3(float64(r.UniformShare)), ratio(float64(r.EnergyInBox), float64(r.UniformShare)), "the share of the map's mass in the box"},
	}
	if r.RandomModel != "" {
		p.Spearman = fmt.Sprintf("%s over %d composites", f3(float64(r.RandomSpearman)), r.SpearmanImages)
	}
	for _, s := range e.Samples {
		p.Shown = append(p.Shown, e.sample(s))
	}
	for _, s := range e.Misses {
		p.Missed = append(p.Missed, e.sample(s))
	}
	return write(path, evalTemplate, p)
}

func (e Eval) sample(s evaluate.Scored) sampleView {
	x := s.Explanation
	b := x.Image.Bounds()
	w, h := fitBox(b.Dx(), b.Dy())
	heat := inferno().Colorize(x.Maps[0], b.Dx(), b.Dy())
	px, py, ok := evaluate.Peak(x.Maps[0], b.Dx())
	boxColour := missColour
	if s.Hit {
		boxColour = hitColour
	}
	img := withBox(x.Image, s.Box, boxColour)
	drawBox(heat, s.Box, boxColour)
	if ok {
		drawPeak(heat, px, py)
	}
	return sampleView{
		Name: s.File, Truth: e.label(s.Label), Predicted: e.label(x.Units[0]), Correct: x.Units[0] == s.Label,
		Hit: s.Hit, Energy: fmt.Sprintf("%.0f%%", 100*s.Energy),
		// Composites are small: the browser scales them up, pixel for pixel.
		Image: picture{dataURL(img), w, h},
		Map:   picture{dataURL(heat), w, h},
	}
}

func (e Eval) label(u int) string {
	if u >= 0 && u < len(e.Labels) {
		return e.Labels[u]
	}
	return fmt.Sprintf("unit %d", u)
}

var (
	hitColour  = color.NRGBA{R: 0x1b, G: 0xc4, B: 0x4a, A: 255}
	missColour = color.NRGBA{R: 0xff, G: 0x2d, B: 0x55, A: 255}
)

func inferno() *render.Colormap {
	c, _ := render.ColormapByName("inferno")
	return c
}

// withBox copies img and outlines box on it.
func withBox(img image.Image, box evaluate.Box, c color.NRGBA) *image.NRGBA {
	out := image.NewNRGBA(image.Rectangle{Max: img.Bounds().Size()})
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	drawBox(out, box, c)
	return out
}

// drawBox outlines box's border pixels, one pixel wide, inside the box.
func drawBox(img *image.NRGBA, b evaluate.Box, c color.NRGBA) {
	for x := b.X0; x < b.X1; x++ {
		img.SetNRGBA(x, b.Y0, c)
		img.SetNRGBA(x, b.Y1-1, c)
	}
	for y := b.Y0; y < b.Y1; y++ {
		img.SetNRGBA(b.X0, y, c)
		img.SetNRGBA(b.X1-1, y, c)
	}
}

// drawPeak marks the map's maximum with a small white cross.
func drawPeak(img *image.NRGBA, x, y int) {
	white := color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	for d := -3; d <= 3; d++ {
		img.SetNRGBA(x+d, y, white)
		img.SetNRGBA(x, y+d, white)
	}
}

// dataURL is img as a PNG inside the page.
func dataURL(img image.Image) template.URL {
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // encoding an in-memory NRGBA image cannot fail
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

func f3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return ""
	}
	return fmt.Sprintf("%.1f×", a/b)
}
