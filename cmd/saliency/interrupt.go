package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/saliency-tool/saliency/internal/output"
)

// interrupt is how a run of explain answers SIGINT and SIGTERM, from before
// the model loads until the run ends. One goroutine owns the signals:
//   - before any input is worked on, a signal stops the run at once (nothing
//     has been written), with exit 128+signal;
//   - while the batch works, the first signal cancels the context: the engine,
//     which checks it between batches, finishes and writes the batch in flight
//     and starts no other;
//   - a second signal stops at once: the temporaries of writes in progress are
//     removed and the process exits, leaving only complete outputs.
type interrupt struct {
	signals  <-chan os.Signal
	notified chan os.Signal // the channel given to signal.Notify; nil for injected signals
	errOut   io.Writer
	exit     func(code int)

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	working bool      // startWork was called
	got     os.Signal // the first signal while working
	total   int
	done    atomic.Int64
	quit    chan struct{} // closed by stop
	watcher sync.WaitGroup
}

// watchSignals starts listening; call stop when the run ends.
func (opts *ExplainOptions) watchSignals() *interrupt {
	in := &interrupt{signals: opts.Signals, errOut: opts.IO.ErrOut, exit: opts.exit, quit: make(chan struct{})}
	if in.exit == nil {
		in.exit = os.Exit
	}
	if in.signals == nil {
		in.notified = make(chan os.Signal, 2)
		signal.Notify(in.notified, syscall.SIGINT, syscall.SIGTERM)
		in.signals = in.notified
	}
	in.ctx, in.cancel = context.WithCancel(context.Background())
	in.watcher.Add(1)
	go in.watch()
	return in
}

func (in *interrupt) watch() {
	defer in.watcher.Done()
	for {
		select {
		case sig := <-in.signals:
			in.mu.Lock()
			working, first := in.working, in.got == nil
			if working && first {
				in.got = sig
			}
			in.mu.Unlock()
			switch {
			case !working:
				fmt.Fprintf(in.errOut, "saliency: interrupted before any input was done\n")
				in.exit(interrupted{sig}.exitCode())
			case first:
				in.cancel()
				fmt.Fprintf(in.errOut, "saliency: %s: stopping after the batch in flight (again to stop at once)\n", signalName(sig))
			default:
				output.RemoveTemporaries()
				fmt.Fprintf(in.errOut, "saliency: interrupted again: stopped at once, %d of %d inputs done; run again with --skip-existing to resume\n",
					in.reported(), in.total)
				in.exit(interrupted{sig}.exitCode())
			}
		case <-in.quit:
			return
		}
	}
}

// startWork says the batch begins: from now on a first signal finishes the
// batch in flight. total is the number of inputs, for the messages.
func (in *interrupt) startWork(total int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.working, in.total = true, total
}

// finished counts one input as reported.
func (in *interrupt) finished() { in.done.Add(1) }

// reported is the number of inputs reported so far.
func (in *interrupt) reported() int { return int(in.done.Load()) }

// caught is the first signal seen while working, or nil.
func (in *interrupt) caught() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.got
}

// stop ends the watching; signals take their default action again.
func (in *interrupt) stop() {
	close(in.quit)
	in.watcher.Wait()
	if in.notified != nil {
		signal.Stop(in.notified)
	}
	in.cancel()
}

// signalName is "SIGINT" for interrupt, "SIGTERM" for terminated.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
