package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testStart is taken when the test binary's package is initialised, after the
// process started.
var testStart = time.Now()

// TestExplainProfile runs 3 images at K = 2 with --profile and reads the
// stage lines back: each stage once, in pipeline order, with a time, and the
// stages on the command's own goroutine adding up to the total it prints.
func TestExplainProfile(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	var images []string
	for i := range 3 {
		p := filepath.Join(dir, "img"+strconv.Itoa(i)+".png")
		writePNG(t, p, 50, 40, i)
		images = append(images, p)
	}
	code, stdout, stderr := runMain(t, "", append([]string{"explain", "-q", "--profile", "-m", model, "-k", "2", "-b", "2"}, images...)...)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	head := regexp.MustCompile(`^saliency: profile of 3 inputs, 6 image-units explained, ([0-9.]+) s from the command's start:$`)
	stage := regexp.MustCompile(`^saliency:   \s*(\S.*?)\s+([0-9.]+) s  (.+)$`)
	got := lines(stderr)
	if len(got) == 0 || !head.MatchString(got[0]) {
		t.Fatalf("stderr does not start with the profile's head:\n%s", stderr)
	}
	total, _ := strconv.ParseFloat(head.FindStringSubmatch(got[0])[1], 64)
	want := []string{"process start", "model load", "decode", "wait for decode", "compute", "first batch", "the rest", "postprocess", "write", "other"}
	var names []string
	secs := map[string]float64{}
	for _, l := range got[1:] {
		m := stage.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not a stage", l)
		}
		names = append(names, m[1])
		secs[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("stages %q, want %q", names, want)
	}
	// Each figure is rounded to 10 ms, so the five shares of the total may
	// differ from it by 5 x 5 ms.
	sum := secs["model load"] + secs["wait for decode"] + secs["compute"] + secs["postprocess"] + secs["write"] + secs["other"]
	if d := sum - total; d < -0.026 || d > 0.026 {
		t.Errorf("stages add up to %.2f s, the total is %.2f s", sum, total)
	}
	if d := secs["first batch"] + secs["the rest"] - secs["compute"]; d < -0.011 || d > 0.011 {
		t.Errorf("first batch %.2f + the rest %.2f != compute %.2f", secs["first batch"], secs["the rest"], secs["compute"])
	}
	if secs["model load"] <= 0 || secs["compute"] <= 0 {
		t.Errorf("model load %.2f s, compute %.2f s: both take time", secs["model load"], secs["compute"])
	}
}

func TestProcessStartTicks(t *testing.T) {
	// Field 22 is the start time; the command name may hold ") (" and spaces.
	fields := "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21"
	tests := []struct {
		stat string
		want int64
		ok   bool
	}{
		{"4242 (saliency) " + fields, 987654, true},
		{"4242 (a) (b c) " + fields, 987654, true},
		{"4242 (saliency) S 1 2", 0, false},
		{"no parenthesis", 0, false},
		{"4242 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 soon 20", 0, false},
	}
	for _, tt := range tests {
		got, ok := processStartTicks(tt.stat)
		if got != tt.want || ok != tt.ok {
			t.Errorf("processStartTicks(%q) = %d, %v; want %d, %v", tt.stat, got, ok, tt.want, tt.ok)
		}
	}
	if d, ok := sinceProcessStart(testStart); !ok || d < 0 {
		t.Errorf("sinceProcessStart: %v, %v; want a duration >= 0 on Linux", d, ok)
	}
}
