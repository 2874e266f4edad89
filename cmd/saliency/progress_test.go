package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestProgressDisabledWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 5, false)
	p.Add(2)
	p.Clear()
	p.Add(3)
	p.Finish()
	p.Finish()
	if buf.Len() != 0 {
		t.Fatalf("disabled progress wrote %q", buf.String())
	}
	// Enabled but nothing to count: also silent.
	p = newProgress(&buf, 0, true)
	p.Add(1)
	p.Finish()
	if buf.Len() != 0 {
		t.Fatalf("progress with total 0 wrote %q", buf.String())
	}
	// A nil *progress is a disabled one too.
	var none *progress
	none.Add(1)
	none.Clear()
	none.Finish()
}

func TestProgressEnabledShowsCounts(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 5, true)
	if !strings.Contains(buf.String(), "0/5") {
		t.Errorf("a new bar should be drawn at 0/5, got %q", buf.String())
	}
	p.Add(2)
	if !strings.Contains(buf.String(), "2/5") {
		t.Errorf("after Add(2): want 2/5 in %q", buf.String())
	}
	p.Add(3)
	p.Finish()
	out := buf.String()
	if !strings.Contains(out, "5/5") || !strings.Contains(out, "100%") {
		t.Errorf("a full bar should show 5/5 and 100%%, got %q", out)
	}
	if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
		t.Errorf("a finished bar should end its line once, got %q", out)
	}
	n := buf.Len()
	p.Add(1)
	p.Finish()
	if buf.Len() != n {
		t.Errorf("Add/Finish after the end wrote %q", buf.String()[n:])
	}
}

func TestProgressStoppedEarlyKeepsItsCount(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 4, true)
	p.Add(1)
	p.Finish()
	out := buf.String()
	if !strings.Contains(out, "1/4") || strings.Contains(out, "4/4") {
		t.Errorf("an interrupted bar should stay at 1/4, got %q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("Finish should end the bar's line, got %q", out)
	}
}

func TestProgressClampsAndIsConcurrent(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 10, true)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Add(2) // 16 in all: more than the total
		}()
	}
	wg.Wait()
	p.Finish()
	out := buf.String()
	if !strings.Contains(out, "10/10") || strings.Contains(out, "11/10") {
		t.Errorf("want the bar to stop at 10/10, got %q", out)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a bytes.Buffer is not a terminal")
	}
	if isTerminal(nil) {
		t.Error("nil is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe is not a terminal")
	}
}
