package engine

import (
	"sync/atomic"
	"time"
)

// Stage is a part of Explain and Run whose wall time Timings adds up.
type Stage int

const (
	// Decode reads, decodes and resizes input files. It runs in its own
	// goroutine beside Compute, so its time overlaps the other stages'.
	Decode Stage = iota
	// WaitDecode is the time the compute loop stood waiting for decoded
	// images: the part of Decode that the overlap did not hide.
	WaitDecode
	// Compute is every TensorFlow call: the top-K logits and the method's
	// gradient calls, with the copies of their tensors in and out.
	Compute
	// Postprocess is normalising and resizing maps to their images.
	Postprocess
	// Write is encoding and writing each input's files.
	Write
	numStages
)

var stageNames = [numStages]string{"decode", "wait for decode", "compute", "postprocess", "write"}

func (s Stage) String() string { return stageNames[s] }

// Stages lists every stage in pipeline order.
func Stages() []Stage {
	out := make([]Stage, numStages)
	for i := range out {
		out[i] = Stage(i)
	}
	return out
}

// Timings adds up the wall time spent in each stage, and the image-unit
// rows explained, over a run. It is safe for concurrent use; a nil *Timings
// times nothing, so the engine's code does not test for it.
type Timings struct {
	d    [numStages]atomic.Int64
	rows atomic.Int64
	// The first batch's compute time and rows: TensorFlow optimises the graph
	// and builds its kernels on a signature's first call, which the steady
	// rate must leave out to predict a long job.
	firstSet  atomic.Bool
	first     atomic.Int64
	firstRows atomic.Int64
}

// Time returns the wall time spent in stage s.
func (t *Timings) Time(s Stage) time.Duration { return time.Duration(t.d[s].Load()) }

// Rows returns the image-unit pairs explained: images times K.
func (t *Timings) Rows() int { return int(t.rows.Load()) }

// since adds the time from start to now to stage s.
func (t *Timings) since(s Stage, start time.Time) {
	if t != nil {
		t.d[s].Add(int64(time.Since(start)))
	}
}

// FirstBatch returns the compute time and rows of the first batch.
func (t *Timings) FirstBatch() (time.Duration, int) {
	return time.Duration(t.first.Load()), int(t.firstRows.Load())
}

// computed adds one batch's compute time and rows.
func (t *Timings) computed(start time.Time, rows int) {
	if t == nil {
		return
	}
	d := time.Since(start)
	t.d[Compute].Add(int64(d))
	t.rows.Add(int64(rows))
	if t.firstSet.CompareAndSwap(false, true) {
		t.first.Store(int64(d))
		t.firstRows.Store(int64(rows))
	}
}
