package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"github.com/saliency-tool/saliency/internal/evaluate"
	"github.com/saliency-tool/saliency/internal/output"
)

func writeImage(t *testing.T, path string, w, h int, encode func(*os.File, image.Image) error) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func pngFile(f *os.File, img image.Image) error  { return png.Encode(f, img) }
func tiffFile(f *os.File, img image.Image) error { return tiff.Encode(f, img, nil) }

var imgSrc = regexp.MustCompile(`<img [^>]*src="([^"]*)"`)

// decodeSrc opens what an <img> of the page at page shows: a data URL's PNG,
// or the file a relative link names.
func decodeSrc(t *testing.T, page, src string) image.Image {
	t.Helper()
	src = html.UnescapeString(src)
	var data []byte
	if rest, ok := strings.CutPrefix(src, "data:image/png;base64,"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			t.Fatalf("data URL: %v", err)
		}
		data = b
	} else {
		u, err := url.Parse(src)
		if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") {
			t.Fatalf("src %q is not a link relative to the page", src)
		}
		if data, err = os.ReadFile(filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))); err != nil {
			t.Fatalf("src %q: %v", src, err)
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("src %q does not decode: %v", src, err)
	}
	return img
}

// TestExplainPage builds a page from records of files on disk with awkward
// names and checks what a reader needs: every picture resolves relative to the
// page and decodes, a TIFF original (which browsers do not show) is inside the
// page, labels are escaped, failures name the input and the reason, skipped
// inputs show the maps they have, and nothing points at the network.
func TestExplainPage(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in put", "a#1 ?.png")
	tif := filepath.Join(dir, "in put", "scan.tif")
	writeImage(t, in, 40, 20, pngFile)
	writeImage(t, tif, 30, 30, tiffFile)
	out := filepath.Join(dir, "maps")
	var files []string
	for _, name := range []string{"a#1 ?.saliency.3.png", "a#1 ?.overlay.3.png", "a#1 ?.saliency.9.png", "a#1 ?.overlay.9.png",
		"scan.saliency.3.png", "scan.overlay.3.png", "scan.saliency.5.png", "scan.overlay.5.png"} {
		writeImage(t, filepath.Join(out, name), 40, 20, pngFile)
		files = append(files, filepath.Join(out, name))
	}
	page := filepath.Join(dir, "report", "index.html")
	if err := os.MkdirAll(filepath.Dir(page), 0o755); err != nil {
		t.Fatal(err)
	}
	labels := make([]string, 10)
	labels[3], labels[5], labels[9] = "cat <tabby>", "dog & co", "sandal"
	e := NewExplain(page, labels)
	e.Add(output.Record{Image: in, Width: 40, Height: 20, Units: []int{9, 3}, Labels: []string{labels[9], labels[3]},
		Logits: []float32{7.25, -1.5}, Scores: "logits",
		Files: output.Files{Maps: []string{files[2], files[0]}, Overlays: []string{files[3], files[1]}}})
	e.Add(output.Record{Image: filepath.Join(dir, "broken.jpg"), Err: errors.New("unsupported image format")})
	e.Add(output.Record{Image: tif, Skipped: true,
		Files: output.Files{Maps: []string{files[4], files[6]}, Overlays: []string{files[5], files[7]}}})
	run := Run{Model: Model{Name: "m", Architecture: "Arch", Weights: "none", Height: 8, Width: 8},
		Method: "smoothgrad", Params: []Param{{"samples", "25"}}, Colormap: "inferno",
		Command: []string{"saliency", "explain", "--report", page}, Started: time.Now(), Elapsed: 1500 * time.Millisecond,
		Problems: []string{"--grid x.png: would overwrite an input"}}
	if err := e.Write(run); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)

	srcs := imgSrc.FindAllStringSubmatch(text, -1)
	if len(srcs) != 2+2*4 { // two originals, two units of two inputs, a map and an overlay each
		t.Fatalf("page has %d pictures, want 10", len(srcs))
	}
	embedded := 0
	for _, m := range srcs {
		decodeSrc(t, page, m[1])
		if strings.HasPrefix(m[1], "data:") {
			embedded++
		}
	}
	if embedded != 1 {
		t.Errorf("%d pictures inside the page, want 1 (the TIFF original)", embedded)
	}
	for _, want := range []string{
		"cat &lt;tabby&gt;", "dog &amp; co", "sandal", "logit 7.25", "logit -1.5", "unit 9", "unit 5",
		"broken.jpg", "unsupported image format", "would overwrite an input",
		"<b>1</b> explained", "<b>1</b> skipped", "<b>1</b> failed", "samples 25", "inferno", "1.5s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(text, "<tabby>") {
		t.Error("a label was not escaped")
	}
	if i, j := strings.Index(text, "sandal"), strings.Index(text, "cat &lt;tabby&gt;"); i > j {
		t.Error("units are not in the record's order")
	}
	// Nothing fetched from elsewhere: no absolute or protocol-relative link,
	// no script, no stylesheet import (data URLs aside, which are inside).
	outside := regexp.MustCompile(`data:image/png;base64,[^"]*`).ReplaceAllString(text, "")
	for _, bad := range []string{"http:", "https:", `="//`, "file:", "<script", "@import", "url("} {
		if strings.Contains(outside, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

// TestEvalPage: the scores, and each sample's two pictures inside the page,
// the box drawn in the colour that says whether the map's peak is inside.
func TestEvalPage(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	m := make([]float32, 400)
	m[5*20+5] = 1 // peak at (5, 5)
	in := evaluate.Box{X0: 2, Y0: 2, X1: 10, Y1: 10}
	out := evaluate.Box{X0: 12, Y0: 12, X1: 18, Y1: 18}
	e := Eval{
		Model: Model{Name: "fashion"}, Method: "gradients", Dir: "heldout", Started: time.Now(),
		Scores: evaluate.Report{Images: 2, Accuracy: 0.5, PointingGame: 0.5, EnergyInBox: 0.4, UniformShare: 0.1,
			RandomModel: "fashion-random", RandomSpearman: 0.12, SpearmanImages: 2},
		Labels: []string{"T-shirt", "Trouser"},
		Samples: []evaluate.Scored{
			{Item: evaluate.Item{File: "hit.png", Label: 1, Box: in}, Hit: true, Energy: 1,
				Explanation: engineExplanation(img, m, 1)},
			{Item: evaluate.Item{File: "miss.png", Label: 0, Box: out}, Hit: false, Energy: 0,
				Explanation: engineExplanation(img, m, 1)},
		},
	}
	e.Misses = []evaluate.Scored{e.Samples[1]}
	e.Misses[0].File = "another-miss.png"
	page := filepath.Join(t.TempDir(), "eval.html")
	if err := e.Write(page); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"0.500", "0.400", "0.100", "4.0×", "5.0×", "0.120 over 2 composites",
		"hit.png", "miss.png", "another-miss.png", "1 more whose maximum fell outside the box", "maximum inside the box", "maximum outside the box", "Trouser", "T-shirt"} {
		if !strings.Contains(text, want) {
			t.Errorf("eval page lacks %q", want)
		}
	}
	srcs := imgSrc.FindAllStringSubmatch(text, -1)
	if len(srcs) != 6 {
		t.Fatalf("%d pictures, want 6", len(srcs))
	}
	for i, want := range []color.NRGBA{hitColour, hitColour, missColour, missColour} {
		pic := decodeSrc(t, page, srcs[i][1])
		box := e.Samples[i/2].Box
		if got := color.NRGBAModel.Convert(pic.At(box.X0, box.Y0)); got != want {
			t.Errorf("picture %d: box corner %v, want %v", i, got, want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	args := []string{"saliency", "explain", "--report", "my page.html", "it's.png"}
	for i := range 40 {
		args = append(args, fmt.Sprintf("img%d.png", i))
	}
	got := commandLine(args)
	want := `saliency explain --report 'my page.html' 'it'\''s.png' img0.png`
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "img18.png … (21 more)") {
		t.Errorf("commandLine = %q", got)
	}
}
