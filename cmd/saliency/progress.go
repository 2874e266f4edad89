package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is the bar `saliency explain` draws on stderr during a long batch:
// "explaining  40% |████████        | (26/64, 1.3 img/s) [20s:30s]". The caller
// decides whether it is shown (stderr is a terminal, and neither --quiet nor
// --json); a disabled progress does nothing and writes nothing. Its methods are
// safe for concurrent use.
type progress struct {
	mu       sync.Mutex
	bar      *progressbar.ProgressBar // nil when disabled
	w        io.Writer
	total    int
	done     int
	finished bool
}

// newProgress returns a bar for total inputs writing to w, drawn at once (0/total)
// so that the model's loading time is not silent; enabled false, total < 1 or a
// nil w give a bar that does nothing.
func newProgress(w io.Writer, total int, enabled bool) *progress {
	p := &progress{total: total}
	if !enabled || total < 1 || w == nil {
		return p
	}
	p.w = w
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("explaining"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetRenderBlankState(true),
		// End the bar's line when it fills, so that what follows starts on its own line.
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return p
}

// Add counts n more inputs as done (explained or failed), never past the total.
func (p *progress) Add(n int) {
	if p == nil || p.bar == nil || n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	if n > p.total-p.done {
		n = p.total - p.done
	}
	if n == 0 {
		return
	}
	p.done += n
	if p.done == p.total {
		p.finished = true
		_ = p.bar.Finish() // draws total/total and ends the line
		return
	}
	_ = p.bar.Add(n)
}

// Clear erases the bar from its line, for a caller about to write a message to
// the same terminal; the next Add draws it again.
func (p *progress) Clear() {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		_ = p.bar.Clear()
	}
}

// Finish ends the bar: a bar that reached its total is already complete; one
// stopped early (an interrupted batch) keeps showing how far it got, and its line
// is ended. Calling Finish again does nothing.
func (p *progress) Finish() {
	if p == nil || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	_ = p.bar.Exit() // keeps the last drawing and calls OnCompletion: a newline
}

// isTerminal reports whether f (an *os.File, or anything with an Fd method) is a
// terminal.
func isTerminal(f any) bool {
	fd, ok := f.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return term.IsTerminal(int(fd.Fd()))
}
