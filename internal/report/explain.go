package report

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/saliency-tool/saliency/internal/imageio"
	"github.com/saliency-tool/saliency/internal/output"
	"github.com/saliency-tool/saliency/internal/render"
)

// Run is what a page says about the run as a whole.
type Run struct {
	Model    Model
	Method   string
	Params   []Param
	Colormap string
	Command  []string
	Started  time.Time
	Elapsed  time.Duration
	// Stopped, when set, says why the run ended before its last input
	// ("interrupted by SIGINT"); the page then shows the inputs done.
	Stopped string
	// Problems are the run's errors that belong to no input (a contact sheet
	// refused), shown with the failed inputs.
	Problems []string
}

// Explain collects the records of an explain run for its report. It keeps
// only names and numbers, so a run of any length holds little.
type Explain struct {
	path   string
	labels []string
	inputs []output.Record
}

// NewExplain starts the report that will be written to path, for a model with
// these unit labels (to name the units of inputs skipped as already done).
func NewExplain(path string, labels []string) *Explain {
	return &Explain{path: path, labels: labels}
}

// Add records one input's outcome, in the run's order.
func (e *Explain) Add(r output.Record) { e.inputs = append(e.inputs, r) }

// explainPage is the data of the explain template.
type explainPage struct {
	Run
	Started, Elapsed           string
	CommandLine                string
	Explained, Skipped, Failed int
	Failures                   []failure
	Inputs                     []inputView
}

type failure struct{ Name, Reason string }

type inputView struct {
	Name    string
	Link    template.URL
	Size    string
	Skipped bool
	Orig    picture
	Units   []unitView
}

type unitView struct {
	Label, Unit, Score string
	Map, Overlay       picture
}

// picture is an <img>: its source and the size it is shown at.
type picture struct {
	Src           template.URL
	Width, Height int
}

// Write renders the page and writes it atomically.
func (e *Explain) Write(run Run) error {
	l := newLinker(e.path)
	p := explainPage{
		Run:     run,
		Started: run.Started.Format("2006-01-02 15:04:05 MST"), Elapsed: duration(run.Elapsed),
		CommandLine: commandLine(run.Command),
	}
	for _, msg := range run.Problems {
		p.Failures = append(p.Failures, failure{Reason: msg})
	}
	for _, r := range e.inputs {
		switch {
		case r.Err != nil:
			p.Failed++
			p.Failures = append(p.Failures, failure{Name: r.Image, Reason: imageio.WithoutPath(r.Err).Error()})
			continue
		case r.Skipped:
			p.Skipped++
		default:
			p.Explained++
		}
		p.Inputs = append(p.Inputs, e.view(l, r))
	}
	return write(e.path, explainTemplate, p)
}

// view lays out one input: the original, then a map and an overlay per unit.
func (e *Explain) view(l linker, r output.Record) inputView {
	w, h := r.Width, r.Height
	if r.Skipped { // not decoded this run: take the size from its first map
		w, h = pngSize(first(r.Maps))
	}
	tw, th := fitBox(w, h)
	v := inputView{Name: r.Image, Link: l.link(r.Image), Skipped: r.Skipped, Orig: picture{l.original(r.Image), tw, th}}
	if w > 0 {
		v.Size = strconv.Itoa(w) + "×" + strconv.Itoa(h)
	}
	for i, m := range r.Maps {
		u := unitView{Map: picture{l.link(m), tw, th}}
		if i < len(r.Overlays) {
			u.Overlay = picture{l.link(r.Overlays[i]), tw, th}
		}
		switch {
		case i < len(r.Units):
			u.Label, u.Unit = r.Labels[i], strconv.Itoa(r.Units[i])
			u.Score = output.ScoreText(r.Scores, r.Logits[i])
		case r.Skipped:
			u.Label, u.Unit = e.skippedUnit(m)
		}
		v.Units = append(v.Units, u)
	}
	return v
}

// skippedUnit names the unit of an existing map from its file name; a run of
// one map per image does not put the unit there.
func (e *Explain) skippedUnit(mapPath string) (label, unit string) {
	n, ok := output.Parse(filepath.Base(mapPath))
	if !ok || !n.HasUnit {
		return "", ""
	}
	if n.Unit >= 0 && n.Unit < len(e.labels) {
		label = e.labels[n.Unit]
	}
	return label, strconv.Itoa(n.Unit)
}

// original is the source of an input's picture: a link to the file when
// browsers show its format, else (TIFF) a small PNG inside the page.
func (l linker) original(path string) template.URL {
	if !isTIFF(path) {
		return l.link(path)
	}
	img, err := imageio.Load(path, 0)
	if err != nil {
		return l.link(path)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, render.Fit(img, 2*thumbSide)); err != nil {
		return l.link(path)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// isTIFF tells a TIFF file by its first bytes: browsers decode every other
// format saliency reads (JPEG, PNG, GIF, BMP, WebP) whatever the file's name.
func isTIFF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return string(head) == "II*\x00" || string(head) == "MM\x00*"
}

// pngSize reads a PNG's size from its header, (0, 0) when it cannot.
func pngSize(path string) (int, int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	c, err := png.DecodeConfig(f)
	if err != nil {
		return 0, 0
	}
	return c.Width, c.Height
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
