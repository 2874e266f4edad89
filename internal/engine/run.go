package engine

import (
	"context"
	"time"

	"github.com/saliency-tool/saliency/internal/output"
)

// Run explains the jobs of a planned output set that are to do, writes each
// one's outputs, and calls emit once per job, in order: refused and skipped
// jobs in their turn, without work. It returns the number of jobs that failed.
// When ctx is cancelled, the batch in flight is finished and written, and the
// jobs after it are not emitted at all.
func Run(ctx context.Context, m Model, set *output.Set, cfg Config, emit func(output.Record)) int {
	jobs := set.Jobs
	var todo []string
	for _, j := range jobs {
		if j.Todo() {
			todo = append(todo, j.Input)
		}
	}
	failed := 0
	report := func(r output.Record) {
		if r.Err != nil {
			failed++
		}
		emit(r)
	}
	next := 0 // the next job to report; jobs not to do are reported in their turn
	reportUntodo := func() {
		for ; next < len(jobs) && !jobs[next].Todo(); next++ {
			j := jobs[next]
			r := output.Record{Image: j.Input, Err: j.Err, Skipped: j.Skipped}
			if j.Skipped {
				r.Files = set.Existing(j)
			}
			report(r)
		}
	}
	Explain(ctx, m, todo, cfg, func(e Explanation) {
		reportUntodo()
		j := jobs[next]
		next++
		report(record(m, set, j, e, cfg))
	})
	// Refused and skipped jobs after the last explained one; none of those
	// behind an input that an interruption left unexplained.
	reportUntodo()
	return failed
}

// record writes one explanation's outputs and says what was done.
func record(m Model, set *output.Set, j output.Job, e Explanation, cfg Config) output.Record {
	if e.Err != nil {
		return output.Record{Image: j.Input, Err: e.Err}
	}
	defer cfg.Timings.since(Write, time.Now())
	files, err := set.Write(j, e.Image, output.Maps{
		Units: e.Units, Labels: e.Labels, Logits: e.Logits, Scores: m.OutputKind(), Values: e.Maps,
	})
	if err != nil {
		return output.Record{Image: j.Input, Err: err}
	}
	b := e.Image.Bounds()
	return output.Record{
		Image: j.Input, Width: b.Dx(), Height: b.Dy(),
		Units: e.Units, Labels: e.Labels, Logits: e.Logits, Scores: m.OutputKind(),
		Files: files, Method: cfg.methodName(), Completeness: e.Completeness,
	}
}

func (cfg Config) methodName() string {
	if cfg.Method == nil {
		return "gradients"
	}
	return cfg.Method.Name()
}
