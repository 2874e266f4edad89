package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/saliency-tool/saliency/internal/engine"
)

// runProfile is what --profile prints at the end of a run: where its wall
// time went, so that a user can tell TensorFlow's share from decoding,
// writing and start-up before tuning a job, and the benchmark can time the
// compute stage alone.
type runProfile struct {
	started   time.Time     // the command's start, after flag parsing
	modelLoad time.Duration // loading the SavedModel into a session
	stages    engine.Timings
}

// write prints the profile to w (stderr), one stage per line. Decoding runs
// beside the compute stage, so only the time spent waiting for it counts in
// the total; "other" is what no stage holds (finding inputs, planning
// outputs, the contact sheet and report).
func (p *runProfile) write(w io.Writer, inputs int) {
	total := time.Since(p.started)
	t := &p.stages
	rows := t.Rows()
	fmt.Fprintf(w, "saliency: profile of %s, %s explained, %s from the command's start:\n",
		plural(inputs, "input"), plural(rows, "image-unit"), seconds(total))
	line := func(name string, d time.Duration, note string) {
		fmt.Fprintf(w, "saliency:   %-16s %8s  %s\n", name, seconds(d), note)
	}
	if d, ok := sinceProcessStart(p.started); ok {
		line("process start", d, "before the command: loading TensorFlow's libraries, not in the total")
	}
	line("model load", p.modelLoad, "SavedModel into a TensorFlow session")
	line("decode", t.Time(engine.Decode), "read, decode, resize inputs, beside compute")
	line("wait for decode", t.Time(engine.WaitDecode), "compute idle until the next images were decoded")
	line("compute", t.Time(engine.Compute), "TensorFlow calls")
	if first, firstRows := t.FirstBatch(); rows > 0 {
		line("  first batch", first, fmt.Sprintf("%s, with TensorFlow's one-time graph optimisation", plural(firstRows, "image-unit")))
		if rows > firstRows {
			rest := t.Time(engine.Compute) - first
			line("  the rest", rest, fmt.Sprintf("%.3f s per image-unit: the rate of a long job", rest.Seconds()/float64(rows-firstRows)))
		}
	}
	line("postprocess", t.Time(engine.Postprocess), "normalise and resize maps")
	line("write", t.Time(engine.Write), "encode and write files")
	accounted := p.modelLoad
	for _, s := range []engine.Stage{engine.WaitDecode, engine.Compute, engine.Postprocess, engine.Write} {
		accounted += t.Time(s)
	}
	line("other", max(0, total-accounted), "inputs, output plan, sheet, report")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// sinceProcessStart is the time from the exec of this process to t, from
// Linux's /proc (10 ms resolution): the dynamic loader and TensorFlow's
// static initialisers run before any Go code can take the time. ok is false
// where /proc does not say.
func sinceProcessStart(t time.Time) (time.Duration, bool) {
	stat, err1 := os.ReadFile("/proc/self/stat")
	uptime, err2 := os.ReadFile("/proc/uptime")
	if err1 != nil || err2 != nil {
		return 0, false
	}
	started, ok1 := processStartTicks(string(stat))
	up, err := strconv.ParseFloat(strings.Fields(string(uptime) + " x")[0], 64)
	if !ok1 || err != nil {
		return 0, false
	}
	// Linux reports starttime in USER_HZ, 100 on every architecture Go runs on.
	elapsed := time.Duration((up - float64(started)/100) * float64(time.Second))
	d := elapsed - time.Since(t)
	return d, d >= 0
}

// processStartTicks is field 22 of /proc/self/stat, the process's start time
// in clock ticks after boot. The second field, the command name, may hold
// spaces and parentheses, so fields are counted after its last ')'.
func processStartTicks(stat string) (int64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // from field 3 on
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[19], 10, 64)
	return n, err == nil
}
