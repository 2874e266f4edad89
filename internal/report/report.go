// Package report writes a run's HTML report: one static page that opens from
// disk in any browser, with no script and nothing fetched from the network.
// An explain report links the files the run wrote (relative to the page, so a
// folder of outputs can be moved or copied whole with its page); an eval
// report carries its few pictures inside the page. Pages are written
// atomically, like every other output.
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/saliency-tool/saliency/internal/output"
)

// Model says which model a page is about.
type Model struct {
	Name, Architecture, Weights string
	Height, Width               int
}

// Param is one of the method's parameters, as the command line set it.
type Param struct{ Name, Value string }

// thumbSide is the side, in CSS pixels, of the box a picture is shown in: a
// contact sheet's cell, small enough for several maps of an image on one row.
const thumbSide = 192

// write renders a template into path atomically.
func write(path string, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	return output.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// linker turns the paths of files into links relative to the page's folder.
type linker struct{ dir string }

func newLinker(page string) linker {
	return linker{dir: filepath.Dir(absPath(page))}
}

// link is path as a relative URL from the page, each segment escaped, so that
// names with spaces, '#' or '?' still resolve.
func (l linker) link(path string) template.URL {
	rel, err := filepath.Rel(l.dir, absPath(path))
	if err != nil {
		return template.URL((&url.URL{Scheme: "file", Path: filepath.ToSlash(absPath(path))}).String())
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return template.URL(strings.Join(segs, "/"))
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// fitBox is the size a w x h picture is shown at in a thumbSide box.
func fitBox(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return thumbSide, thumbSide
	}
	if w >= h {
		return thumbSide, max(1, (h*thumbSide+w/2)/w)
	}
	return max(1, (w*thumbSide+h/2)/h), thumbSide
}

// duration says a run's time for people: "850ms", "12.3s", "4m5s".
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// commandArgs is how many words of a command line a page shows: a shell glob
// over a folder of thousands of images would otherwise fill the page's head.
const commandArgs = 24

// commandLine is the command that made the page, its words quoted for the
// shell where they need it, the words after commandArgs counted.
func commandLine(args []string) string {
	shown := args[:min(len(args), commandArgs)]
	words := make([]string, len(shown))
	for i, a := range shown {
		words[i] = shellQuote(a)
	}
	line := strings.Join(words, " ")
	if n := len(args) - len(shown); n > 0 {
		line += fmt.Sprintf(" … (%d more)", n)
	}
	return line
}

// shellQuote leaves plain words alone and single-quotes the others.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
