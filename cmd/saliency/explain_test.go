package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// testModel is the exported model the tests run; it must be set, or the tests
// would prove nothing.
func testModel(t *testing.T) string {
	t.Helper()
	return testenv.Path(t, testenv.Model)
}

func testLabels(t *testing.T) []string {
	t.Helper()
	m, err := manifest.Read(testModel(t))
	if err != nil {
		t.Fatal(err)
	}
	return m.Labels
}

// runMain runs the command line in-process.
func runMain(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func writePNG(t *testing.T, path string, w, h, seed int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x*6 + seed*50), uint8(y*8 + seed*30), uint8((x ^ y) * 5), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func imageSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Width, cfg.Height
}

// listDir returns the names in dir, sorted; nil if dir does not exist.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func assertDir(t *testing.T, dir string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

// npyShape returns the shape tuple in a .npy header, e.g. "(1, 30, 40)".
func npyShape(t *testing.T, path string) string {
	t.Helper()
	b := readFile(t, path)
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s is not a version 1.0 .npy file", path)
	}
	header := string(b[10 : 10+int(binary.LittleEndian.Uint16(b[8:10]))])
	m := regexp.MustCompile(`'shape': (\([0-9, ]*\))`).FindStringSubmatch(header)
	if m == nil || !strings.Contains(header, "'descr': '<f4'") {
		t.Fatalf("%s: header %q", path, header)
	}
	return m[1]
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestNewCmdExplainParsesOptions(t *testing.T) {
	defaults := ExplainOptions{Model: "xception", TopK: 1, BatchSize: 0, Precision: "float32", MaxPixels: 100_000_000, Colormap: "gray",
		Method: methodFlags{Name: "gradients", Filter: "absolute", Reduce: "mean", Samples: 25, Noise: 0.15, Steps: 64, Baseline: "black"}}
	with := func(f func(o *ExplainOptions)) ExplainOptions {
		o := defaults
		f(&o)
		return o
	}
	tests := []struct {
		name string
		argv []string
		want ExplainOptions
	}{
		{"defaults", []string{"a.jpg"}, with(func(o *ExplainOptions) { o.Images = []string{"a.jpg"} })},
		{"short flags", []string{"-m", "/models/x", "-k", "3", "-b", "2", "-o", "maps", "-q", "a.jpg"},
			with(func(o *ExplainOptions) {
				o.Model, o.TopK, o.BatchSize, o.OutDir, o.Quiet = "/models/x", 3, 2, "maps", true
				o.Images = []string{"a.jpg"}
			})},
		{"long flags", []string{"--model", "m", "--top-k=4", "--batch-size", "1", "--out-dir=d", "--quiet", "--max-pixels", "5", "a.jpg"},
			with(func(o *ExplainOptions) {
				o.Model, o.TopK, o.BatchSize, o.OutDir, o.Quiet, o.MaxPixels = "m", 4, 1, "d", true, 5
				o.Images = []string{"a.jpg"}
			})},
		{"units", []string{"--units", "3,17", "a.jpg"},
			with(func(o *ExplainOptions) { o.Units, o.Images = []int{3, 17}, []string{"a.jpg"} })},
		{"units repeated", []string{"--units", "3", "--units=17,0", "a.jpg"},
			with(func(o *ExplainOptions) { o.Units, o.Images = []int{3, 17, 0}, []string{"a.jpg"} })},
		{"raw and json", []string{"--raw", "--json", "a.jpg"},
			with(func(o *ExplainOptions) { o.Raw, o.JSON, o.Images = true, true, []string{"a.jpg"} })},
		{"profile", []string{"--profile", "a.jpg"},
			with(func(o *ExplainOptions) { o.Profile, o.Images = true, []string{"a.jpg"} })},
		{"multiple images, flags after them", []string{"a.jpg", "b/c.png", "-k", "2", "d.gif"},
			with(func(o *ExplainOptions) { o.TopK, o.Images = 2, []string{"a.jpg", "b/c.png", "d.gif"} })},
		{"dash is an argument", []string{"a.jpg", "-", "b.png"},
			with(func(o *ExplainOptions) { o.Images = []string{"a.jpg", "-", "b.png"} })},
		{"after --, a dash-name is an image", []string{"--", "-k.jpg"},
			with(func(o *ExplainOptions) { o.Images = []string{"-k.jpg"} })},
		{"method flags", []string{"--method", "smoothgrad", "--samples", "9", "--noise=0.3", "--seed", "4", "--filter", "positive", "--reduce", "max", "a.jpg"},
			with(func(o *ExplainOptions) {
				o.Method.Name, o.Method.Samples, o.Method.Noise, o.Method.Seed = "smoothgrad", 9, 0.3, 4
				o.Method.Filter, o.Method.Reduce, o.Images = "positive", "max", []string{"a.jpg"}
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios := &IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
			var got *ExplainOptions
			cmd := NewCmdExplain(ios, func(o *ExplainOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.argv)
			cmd.SetIn(ios.In)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("%q: %v", tt.argv, err)
			}
			if got == nil {
				t.Fatal("runF not called")
			}
			if got.IO != ios {
				t.Error("options do not carry the IO")
			}
			g := *got
			g.IO = nil
			if g.Method.cmd != cmd {
				t.Error("method flags not bound to the command")
			}
			g.Method.cmd = nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Errorf("%q:\n got %+v\nwant %+v", tt.argv, g, tt.want)
			}
		})
	}
}

func TestNewCmdExplainArgumentErrors(t *testing.T) {
	for _, argv := range [][]string{{}, {"--top-k", "x", "a.jpg"}, {"--nope", "a.jpg"}} {
		ios := &IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
		called := false
		cmd := NewCmdExplain(ios, func(*ExplainOptions) error { called = true; return nil })
		cmd.SetArgs(argv)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err == nil {
			t.Errorf("%q: no error", argv)
		}
		if called {
			t.Errorf("%q: run called despite the error", argv)
		}
	}
}

// TestUsageErrors checks that each mistake exits 2 with a message that names
// it, before doing any work: nothing written next to the image, and the out
// dir not even created.
func TestUsageErrors(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "img.png")
	writePNG(t, img, 40, 30, 1)
	out := filepath.Join(dir, "out")

	emptyModels := t.TempDir()
	noManifest := t.TempDir()
	manifestOnly := t.TempDir()
	writeFile(t, filepath.Join(manifestOnly, manifest.FileName), readFile(t, filepath.Join(model, manifest.FileName)))

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string // substrings of stderr
	}{
		{"unknown flag", "", []string{"explain", "--bogus", "-o", out, img}, []string{"unknown flag", "--bogus"}},
		{"no images", "", []string{"explain", "-m", model, "-o", out}, []string{"requires at least 1 arg"}},
		{"top-k 0", "", []string{"explain", "-m", model, "-o", out, "--top-k", "0", img}, []string{"--top-k", "0"}},
		{"batch-size negative", "", []string{"explain", "-m", model, "-o", out, "-b", "-1", img}, []string{"--batch-size", "-1"}},
		{"max-pixels 0", "", []string{"explain", "-m", model, "-o", out, "--max-pixels", "0", img}, []string{"--max-pixels"}},
		{"top-k above the classes", "", []string{"explain", "-m", model, "-o", out, "-k", "1001", img}, []string{"--top-k", "1001", "1000"}},
		{"unit out of range", "", []string{"explain", "-m", model, "-o", out, "--units", "3,1000", img}, []string{"--units", "1000", "999"}},
		{"negative unit", "", []string{"explain", "-m", model, "-o", out, "--units", "-1", img}, []string{"--units", "-1"}},
		{"unit twice", "", []string{"explain", "-m", model, "-o", out, "--units", "5,5", img}, []string{"--units", "5", "twice"}},
		{"precision unknown", "", []string{"explain", "-m", model, "-o", out, "--precision", "float16", img}, []string{"--precision", `"float16"`, "float32 or bfloat16"}},
		{"model folder missing", "", []string{"explain", "-m", filepath.Join(emptyModels, "nowhere"), "-o", out, img},
			[]string{filepath.Join(emptyModels, "nowhere"), "does not exist"}},
		{"model name unknown", "", []string{"explain", "-m", "no-such-model", "-o", out, img}, []string{"no-such-model", emptyModels}},
		{"default model not found", "", []string{"explain", "-o", out, img}, []string{`"xception"`, emptyModels}},
		{"folder without manifest", "", []string{"explain", "-m", noManifest, "-o", out, img}, []string{noManifest, manifest.FileName}},
		{"manifest without SavedModel", "", []string{"explain", "-m", manifestOnly, "-o", out, img}, []string{manifestOnly}},
		{"dash twice", img + "\n", []string{"explain", "-m", model, "-o", out, "-", "-"}, []string{`"-"`, "more than once"}},
		{"unknown subcommand", "", []string{"explian", img}, []string{"unknown command", "explian"}},
		{"flag error on root", "", []string{"--bogus"}, []string{"unknown flag", "--bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SALIENCY_MODELS", emptyModels)
			code, stdout, stderr := runMain(t, tt.stdin, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.HasPrefix(stderr, "saliency: ") {
				t.Errorf("stderr %q does not start with \"saliency: \"", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("the usage error left --out-dir %s created", out)
				os.RemoveAll(out) // so that the next cases start clean
			}
			assertDir(t, dir, "img.png")
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, stderr := runMain(t, "", "explain", "--help")
	if code != exitOK || stderr != "" {
		t.Errorf("explain --help: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"Usage:", "saliency explain [flags] IMAGE...", "Examples:",
		"saliency explain --top-k 3 --out-dir maps/ photos/*.jpg", "--units", "--max-pixels"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain --help lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runMain(t, "", "--version")
	if code != exitOK || stderr != "" {
		t.Errorf("--version: exit %d, stderr %q", code, stderr)
	}
	// The second line is the TensorFlow the C library reports: bug reports carry it.
	want := regexp.MustCompile(`^saliency version (.+)\nTensorFlow (2\.\d+\.\d+\S*) \(C library\)\n$`)
	if m := want.FindStringSubmatch(stdout); m == nil || m[1] != buildVersion() {
		t.Errorf("--version printed %q, want the version %q and TensorFlow's", stdout, buildVersion())
	}
}

// summaryLine matches "IMAGE: LABEL (unit U, logit L) -> MAP".
var summaryLine = regexp.MustCompile(`^(.+): (.+) \(unit (\d+), logit ([-+.0-9eE]+)\) -> (.+)$`)

func TestExplainWritesNextToImages(t *testing.T) {
	model := testModel(t)
	labels := testLabels(t)
	dir := t.TempDir()
	small := filepath.Join(dir, "small.png")
	writePNG(t, small, 40, 30, 2)
	photo := filepath.Join(dir, "chelsea.jpg")
	writeFile(t, photo, readFile(t, filepath.Join("..", "..", "testdata", "chelsea.jpg")))
	photoBytes := readFile(t, photo)

	// A bare model name, found through $SALIENCY_MODELS.
	t.Setenv("SALIENCY_MODELS", filepath.Dir(model))
	code, stdout, stderr := runMain(t, "", "explain", "-m", filepath.Base(model), small, photo)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	got := lines(stdout)
	if len(got) != 2 {
		t.Fatalf("stdout has %d lines, want 2:\n%s", len(got), stdout)
	}
	for i, in := range []string{small, photo} {
		want := strings.TrimSuffix(in, filepath.Ext(in)) + ".saliency.png"
		m := summaryLine.FindStringSubmatch(got[i])
		if m == nil {
			t.Errorf("line %q is not a summary", got[i])
			continue
		}
		unit, _ := strconv.Atoi(m[3])
		if m[1] != in || m[5] != want || unit >= len(labels) || m[2] != labels[unit] {
			t.Errorf("line %q, want image %s, unit %d's label %q, output %s", got[i], in, unit, labels[min(unit, len(labels)-1)], want)
		}
		iw, ih := imageSize(t, in)
		if w, h := imageSize(t, want); w != iw || h != ih {
			t.Errorf("%s is %dx%d, the image %dx%d", want, w, h, iw, ih)
		}
	}
	if !bytes.Equal(readFile(t, photo), photoBytes) {
		t.Errorf("%s changed", photo)
	}
	assertDir(t, dir, "small.png", "small.saliency.png", "chelsea.jpg", "chelsea.saliency.png")
}

func TestExplainJSONRawTopKFromStdin(t *testing.T) {
	model := testModel(t)
	labels := testLabels(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 40, 30, 3)
	writePNG(t, b, 23, 57, 4)
	out := filepath.Join(dir, "maps", "nested")

	stdin := "\n" + a + "\n\n" + b + "\r\n\n"
	code, stdout, stderr := runMain(t, stdin, "explain", "--json", "--raw", "--top-k", "2", "-b", "1", "-o", out, "-m", model, "-")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	got := lines(stdout)
	if len(got) != 2 {
		t.Fatalf("stdout has %d lines, want 2 JSON objects:\n%s", len(got), stdout)
	}
	sizes := [][2]int{{40, 30}, {23, 57}}
	for i, in := range []string{a, b} {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(got[i]), &fields); err != nil {
			t.Fatalf("line %q: %v", got[i], err)
		}
		if string(fields["scores"]) != `"logits"` {
			t.Errorf("line %d: scores %s, want \"logits\" (the model's manifest)", i, fields["scores"])
		}
		var keys []string
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"height", "image", "labels", "logits", "maps", "method", "raw", "scores", "units", "width"}; !slices.Equal(keys, want) {
			t.Errorf("line %d has fields %q, want %q", i, keys, want)
		}
		var r struct {
			Image         string
			Width, Height int
			Units         []int
			Labels        []string
			Logits        []float64
			Maps          []string
			Raw           string
		}
		if err := json.Unmarshal([]byte(got[i]), &r); err != nil {
			t.Fatal(err)
		}
		stem := filepath.Join(out, strings.TrimSuffix(filepath.Base(in), ".png"))
		if r.Image != in || r.Width != sizes[i][0] || r.Height != sizes[i][1] {
			t.Errorf("line %d: image %s %dx%d, want %s %dx%d", i, r.Image, r.Width, r.Height, in, sizes[i][0], sizes[i][1])
		}
		if len(r.Units) != 2 || r.Units[0] == r.Units[1] || len(r.Logits) != 2 || r.Logits[0] < r.Logits[1] {
			t.Errorf("line %d: units %v logits %v, want the two top units, largest first", i, r.Units, r.Logits)
			continue
		}
		var wantLabels, wantMaps []string
		for _, u := range r.Units {
			wantLabels = append(wantLabels, labels[u])
			wantMaps = append(wantMaps, stem+".saliency."+strconv.Itoa(u)+".png")
		}
		if !slices.Equal(r.Labels, wantLabels) || !slices.Equal(r.Maps, wantMaps) {
			t.Errorf("line %d: labels %q maps %q, want %q %q", i, r.Labels, r.Maps, wantLabels, wantMaps)
		}
		for _, p := range wantMaps {
			if w, h := imageSize(t, p); w != sizes[i][0] || h != sizes[i][1] {
				t.Errorf("%s is %dx%d, want %dx%d", p, w, h, sizes[i][0], sizes[i][1])
			}
		}
		if r.Raw != stem+".saliency.npy" {
			t.Errorf("line %d: raw %q, want %s", i, r.Raw, stem+".saliency.npy")
		} else if shape, want := npyShape(t, r.Raw), "(2, "+strconv.Itoa(sizes[i][1])+", "+strconv.Itoa(sizes[i][0])+")"; shape != want {
			t.Errorf("%s has shape %s, want %s", r.Raw, shape, want)
		}
	}
	assertDir(t, dir, "a.png", "b.png", "maps")
	if n := len(listDir(t, out)); n != 6 {
		t.Errorf("%s holds %d files, want 6 (2 images x (2 maps + npy)): %q", out, n, listDir(t, out))
	}
}

// badInputs makes a folder with one good image and three bad inputs.
func badInputs(t *testing.T) (dir, good string, bad []string, contents map[string][]byte) {
	dir = t.TempDir()
	good = filepath.Join(dir, "good.png")
	writePNG(t, good, 40, 30, 6)
	missing := filepath.Join(dir, "missing.jpg")
	empty := filepath.Join(dir, "x.jpg")
	text := filepath.Join(dir, "y.png")
	writeFile(t, empty, nil)
	writeFile(t, text, []byte("this is not a PNG\n"))
	contents = map[string][]byte{empty: {}, text: []byte("this is not a PNG\n")}
	return dir, good, []string{missing, empty, text}, contents
}

func assertBadInputsUntouched(t *testing.T, dir string, contents map[string][]byte, outputs ...string) {
	t.Helper()
	for p, want := range contents {
		if got := readFile(t, p); !bytes.Equal(got, want) {
			t.Errorf("%s changed: %q", p, got)
		}
	}
	assertDir(t, dir, append([]string{"good.png", "x.jpg", "y.png"}, outputs...)...)
}

func assertOneErrorLineEach(t *testing.T, stderr string, bad []string) {
	t.Helper()
	got := lines(stderr)
	if len(got) != len(bad) {
		t.Fatalf("stderr has %d lines, want one per bad input (%d):\n%s", len(got), len(bad), stderr)
	}
	for i, p := range bad {
		if !strings.HasPrefix(got[i], "saliency: "+p+": ") {
			t.Errorf("stderr line %q does not name %s", got[i], p)
		}
	}
}

func TestExplainPartialFailureQuiet(t *testing.T) {
	model := testModel(t)
	dir, good, bad, contents := badInputs(t)
	args := append([]string{"explain", "--quiet", "--raw", "-m", model, bad[0], good}, bad[1:]...)
	code, stdout, stderr := runMain(t, "", args...)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	if stdout != "" {
		t.Errorf("--quiet printed %q", stdout)
	}
	assertOneErrorLineEach(t, stderr, bad)
	if w, h := imageSize(t, filepath.Join(dir, "good.saliency.png")); w != 40 || h != 30 {
		t.Errorf("good.saliency.png is %dx%d, want 40x30", w, h)
	}
	// One unit, at the original size.
	if shape := npyShape(t, filepath.Join(dir, "good.saliency.npy")); shape != "(1, 30, 40)" {
		t.Errorf("good.saliency.npy has shape %s, want (1, 30, 40)", shape)
	}
	assertBadInputsUntouched(t, dir, contents, "good.saliency.png", "good.saliency.npy")
}

func TestExplainPartialFailureJSON(t *testing.T) {
	model := testModel(t)
	dir, good, bad, contents := badInputs(t)
	inputs := []string{bad[0], bad[1], good, bad[2]}
	code, stdout, stderr := runMain(t, "", append([]string{"explain", "--json", "-m", model}, inputs...)...)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	assertOneErrorLineEach(t, stderr, bad)
	got := lines(stdout)
	if len(got) != len(inputs) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(got), len(inputs), stdout)
	}
	for i, in := range inputs {
		var fields map[string]any
		if err := json.Unmarshal([]byte(got[i]), &fields); err != nil {
			t.Fatalf("line %q: %v", got[i], err)
		}
		if fields["image"] != in {
			t.Errorf("line %d is for %v, want %s", i, fields["image"], in)
		}
		if in == good {
			if _, ok := fields["error"]; ok {
				t.Errorf("good image has an error: %s", got[i])
			}
			if _, ok := fields["raw"]; ok {
				t.Errorf("raw without --raw: %s", got[i])
			}
			if maps, _ := fields["maps"].([]any); len(maps) != 1 || maps[0] != filepath.Join(dir, "good.saliency.png") {
				t.Errorf("good image's maps: %s", got[i])
			}
			continue
		}
		msg, _ := fields["error"].(string)
		if len(fields) != 2 || msg == "" {
			t.Errorf("line %q, want only image and a non-empty error", got[i])
		}
	}
	assertBadInputsUntouched(t, dir, contents, "good.saliency.png")
}

// A folder argument with no image in it fails like an unreadable input: one
// line on stderr naming it, a JSON record with its error, exit 1, and the other
// inputs done. With nothing left at all the run says so and exits 1, without
// loading the model. A shard that holds none of the inputs is not a failure.
func TestExplainFoldersWithoutImages(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	void, texts := filepath.Join(dir, "void"), filepath.Join(dir, "texts")
	for _, d := range []string{void, texts} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(texts, "notes.txt"), []byte("no image\n"))
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, 40, 30, 1)

	code, stdout, stderr := runMain(t, "", "explain", "--json", "-m", model, void, good, texts)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	assertOneErrorLineEach(t, stderr, []string{void, texts})
	if !strings.Contains(stderr, "no images in this folder (looked for .jpg, .jpeg, .png") {
		t.Errorf("stderr does not say why: %s", stderr)
	}
	records := lines(stdout)
	if len(records) != 3 {
		t.Fatalf("want 3 JSON records (2 folders, 1 image):\n%s", stdout)
	}
	for _, line := range records {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if _, failed := r["error"]; failed == (r["image"] == good) {
			t.Errorf("record %s", line)
		}
	}

	for _, args := range [][]string{{void}, {void, texts}} {
		code, stdout, stderr = runMain(t, "", append([]string{"explain", "-m", model, "-o", dir}, args...)...)
		errLines := lines(stderr)
		if code != exitFailed || stdout != "" || len(errLines) != len(args)+1 || errLines[len(args)] != "saliency: no images to explain" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, a line per folder and \"no images to explain\"",
				args, code, stdout, stderr, exitFailed)
		}
	}
	// good.png falls in exactly one of two shards; the other has nothing to
	// do, says so, and succeeds: the job as a whole did its work.
	empty := 0
	for _, shard := range []string{"1/2", "2/2"} {
		code, stdout, stderr = runMain(t, "", "explain", "-q", "-m", model, "-o", t.TempDir(), "--shard", shard, good)
		if code != exitOK {
			t.Errorf("shard %s: exit %d: %s", shard, code, stderr)
		}
		if stderr != "" {
			empty++
			if want := "saliency: shard " + shard + " holds none of the 1 input; nothing to do\n"; stderr != want {
				t.Errorf("shard %s: stderr %q, want %q", shard, stderr, want)
			}
		}
	}
	if empty != 1 {
		t.Errorf("%d of the 2 shards were empty, want 1", empty)
	}
}

// An image equal to its baseline has no defined completeness gap (0/0): its
// JSON record is still written, whole, with the gap as null, and the map of a
// zero attribution is written too.
func TestExplainJSONUndefinedGapIsNull(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	black := filepath.Join(dir, "black.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 24, 16))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, black, buf.Bytes())
	code, stdout, stderr := runMain(t, "", "explain", "--json", "-m", model, "--method", "integrated",
		"--baseline", "black", "--steps", "4", black)
	if code != exitOK || stderr != "" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	var r struct {
		Image        string
		Maps         []string
		Completeness []map[string]*float64
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &r); err != nil {
		t.Fatalf("record %q: %v", stdout, err)
	}
	if r.Image != black || len(r.Maps) != 1 || len(r.Completeness) != 1 {
		t.Fatalf("record %s", stdout)
	}
	c := r.Completeness[0]
	if _, present := c["gap"]; !present || c["gap"] != nil || c["attribution_sum"] == nil || *c["attribution_sum"] != 0 {
		t.Errorf("completeness %s, want the sum 0 and the gap null", stdout)
	}
	if w, h := imageSize(t, r.Maps[0]); w != 24 || h != 16 {
		t.Errorf("map is %dx%d", w, h)
	}
}

// failingWriter refuses every write, as a full disk or a closed pipe would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// A record that cannot be written is that input's failure: said on stderr,
// and the exit status is 1, though the maps were written.
func TestExplainJSONWriteFailureCounts(t *testing.T) {
	model := testModel(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, 40, 30, 2)
	var errOut bytes.Buffer
	code := Main([]string{"explain", "--json", "-m", model, good}, &IO{In: strings.NewReader(""), Out: failingWriter{}, ErrOut: &errOut})
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	assertOneErrorLineEach(t, errOut.String(), []string{good})
	if !strings.Contains(errOut.String(), "cannot write its JSON record") {
		t.Errorf("stderr %q", errOut.String())
	}
	assertDir(t, dir, "good.png", "good.saliency.png")
}
