package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pngWithSize is a PNG signature and an IHDR chunk declaring w x h, and nothing
// else: a decompression bomb's header without the bomb.
func pngWithSize(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// Every kind of bad input the batch meets: one line on stderr naming the file and
// the reason, no output for it, its bytes unchanged, and the good files explained.
func TestBadInputsEachReportedAndTheBatchGoesOn(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	good1, good2 := filepath.Join(dir, "good1.png"), filepath.Join(dir, "good2.png")
	writePNG(t, good1, 40, 30, 1)
	writePNG(t, good2, 31, 17, 2)
	var fullJPEG bytes.Buffer
	if err := jpeg.Encode(&fullJPEG, patternImage(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	fullPNG := readFile(t, good1)
	files := map[string][]byte{
		"empty.jpg":     {},
		"truncated.jpg": fullJPEG.Bytes()[:fullJPEG.Len()/2],
		"cut.png":       fullPNG[:len(fullPNG)*2/3],
		"text.jpg":      []byte("hello, I am not a JPEG\n"),
		"image.pgm":     []byte("P5\n2 2\n255\n\x00\x01\x02\x03"),
		"bomb.png":      pngWithSize(100000, 100000),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	folder := filepath.Join(dir, "folder.jpg")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // file -> what its error line must say
		"empty.jpg":     "empty file",
		"truncated.jpg": "truncated or corrupt",
		"cut.png":       "truncated or corrupt",
		"text.jpg":      "unsupported image format",
		"image.pgm":     "unsupported image format",
		"bomb.png":      "exceeds the limit of 1000000 pixels",
		"missing.jpg":   "no such file or directory",
		"folder.jpg":    "is a directory",
	}
	// Paths come from stdin, so that a folder arrives where a file is expected.
	var stdin strings.Builder
	stdin.WriteString(good1 + "\n")
	for _, name := range slices.Sorted(maps(want)) {
		stdin.WriteString(filepath.Join(dir, name) + "\n")
	}
	stdin.WriteString(good2 + "\n")

	code, _, stderr := runMain(t, stdin.String(), "explain", "-q", "-m", model, "--max-pixels", "1000000", "-b", "3", "-")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	errLines := lines(stderr)
	if len(errLines) != len(want) {
		t.Fatalf("%d stderr lines for %d bad inputs:\n%s", len(errLines), len(want), stderr)
	}
	for _, line := range errLines {
		var name string
		for n := range want {
			if strings.HasPrefix(line, "saliency: "+filepath.Join(dir, n)+": ") {
				name = n
			}
		}
		if name == "" || !strings.Contains(line, want[name]) {
			t.Errorf("line %q: want a line naming the file and saying %q", line, want[name])
		}
	}
	for name, data := range files {
		if got := readFile(t, filepath.Join(dir, name)); !bytes.Equal(got, data) {
			t.Errorf("%s changed", name)
		}
	}
	wantDir := []string{"good1.png", "good2.png", "good1.saliency.png", "good2.saliency.png", "folder.jpg"}
	for name := range files {
		wantDir = append(wantDir, name)
	}
	assertDir(t, dir, wantDir...)
}

func maps(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// SIGINT mid-batch: the batch in flight is finished and written, nothing else is
// started, no temporary or partial file is left, the exit status is 130, and
// --skip-existing then completes the job without redoing the finished images.
func TestInterruptThenResume(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	var inputs []string
	for i := range 5 {
		p := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		writePNG(t, p, 40, 30, i)
		inputs = append(inputs, p)
	}
	signals := make(chan os.Signal)
	errOut := &lockedBuffer{}
	out := &signalOnFirstWrite{signals: signals, errOut: errOut}
	opts := &ExplainOptions{
		IO: &IO{In: strings.NewReader(""), Out: out, ErrOut: errOut}, Model: model, TopK: 1, BatchSize: 2,
		MaxPixels: 1 << 20, Colormap: "gray", Images: inputs, Signals: signals,
	}
	err := explainRun(opts)
	var intr interrupted
	if !errors.As(err, &intr) || intr.exitCode() != 130 {
		t.Fatalf("got %v, want an interruption by SIGINT (exit 130)", err)
	}
	if !strings.Contains(errOut.String(), "interrupted: 2 of 5 inputs done") {
		t.Errorf("stderr %q does not say how many were done", errOut.String())
	}
	entries, _ := os.ReadDir(dir)
	var outputs []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
		if strings.Contains(e.Name(), ".saliency.") {
			outputs = append(outputs, e.Name())
		}
	}
	if !slices.Equal(outputs, []string{"imga.saliency.png", "imgb.saliency.png"}) {
		t.Fatalf("after the interruption: %v, want the first batch's two maps", outputs)
	}
	before := readFile(t, filepath.Join(dir, "imga.saliency.png"))

	code, stdout, stderr := runMain(t, "", append([]string{"explain", "--json", "--skip-existing", "-m", model, "-b", "2"}, inputs...)...)
	if code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	var skipped, done []string
	for _, line := range lines(stdout) {
		var r struct {
			Image   string
			Skipped bool
			Maps    []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Skipped {
			skipped = append(skipped, filepath.Base(r.Image))
		} else if len(r.Maps) == 1 {
			done = append(done, filepath.Base(r.Image))
		}
	}
	if !slices.Equal(skipped, []string{"imga.png", "imgb.png"}) || !slices.Equal(done, []string{"imgc.png", "imgd.png", "imge.png"}) {
		t.Fatalf("resume skipped %v and explained %v", skipped, done)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "imga.saliency.png")), before) {
		t.Error("a finished output was rewritten")
	}
}

// signalOnFirstWrite sends SIGINT when the first result is printed, i.e. while
// the first batch is being reported and the second not yet started, and waits
// until the run has said it is stopping (the context is cancelled by then).
type signalOnFirstWrite struct {
	bytes.Buffer
	signals chan os.Signal
	errOut  *lockedBuffer
	sent    bool
}

func (s *signalOnFirstWrite) Write(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		s.signals <- syscall.SIGINT
		for !strings.Contains(s.errOut.String(), "stopping after the batch in flight") {
			time.Sleep(time.Millisecond)
		}
	}
	return s.Buffer.Write(p)
}

// lockedBuffer is a bytes.Buffer that the signal watcher's goroutine and the
// test may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The shards of 1/3, 2/3 and 3/3 are disjoint and cover the input.
func TestShardsOverTheCLI(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	var all []string
	for i := range 7 {
		p := filepath.Join(dir, "s"+string(rune('a'+i))+".png")
		writePNG(t, p, 20, 20, i)
		all = append(all, p)
	}
	var covered []string
	for _, shard := range []string{"1/3", "2/3", "3/3"} {
		code, stdout, stderr := runMain(t, "", "explain", "--json", "-m", model, "--shard", shard, "-o", t.TempDir(), dir)
		if code != exitOK {
			t.Fatalf("shard %s: exit %d: %s", shard, code, stderr)
		}
		for _, line := range lines(stdout) {
			var r struct{ Image string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			covered = append(covered, r.Image)
		}
	}
	sort.Strings(covered)
	if !slices.Equal(covered, all) {
		t.Fatalf("shards together explained %v, want each of %v exactly once", covered, all)
	}
	code, _, stderr := runMain(t, "", "explain", "-m", model, "--shard", "4/3", dir)
	if code != exitUsage || !strings.Contains(stderr, "--shard") {
		t.Fatalf("--shard 4/3: exit %d, %q", code, stderr)
	}
}

func patternImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 4), uint8(y * 5), uint8((x ^ y) * 3), 255})
		}
	}
	return img
}
