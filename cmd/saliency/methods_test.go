package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/testenv"
)

// fashionModel is the trained demo model `make test` builds: small, so the
// methods that need many gradients run quickly.
func fashionModel(t *testing.T) string {
	t.Helper()
	return testenv.Path(t, testenv.Fashion)
}

// Each method writes maps named after it, beside the default method's, at the
// image's size; --skip-existing tells them apart; the path methods (integrated,
// blurig, guidedig) and fullgrad report completeness.
func TestExplainMethodsNameTheirOutputs(t *testing.T) {
	model := fashionModel(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "item.png")
	writePNG(t, img, 50, 40, 1)
	if code, _, stderr := runMain(t, "", "explain", "-q", "-m", model, img); code != exitOK {
		t.Fatalf("gradients: exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		method string
		flags  []string
	}{
		{"smoothgrad", []string{"--samples", "3", "--seed", "5"}},
		{"integrated", []string{"--steps", "8", "--baseline", "blur"}},
		{"blurig", []string{"--steps", "4"}},
		{"guidedig", []string{"--steps", "4"}},
		{"gradxinput", []string{"--filter", "positive", "--reduce", "max"}},
		{"fullgrad", nil},
		{"gradcam", nil},
		{"cam", nil},
		{"gradcampp", nil},
		{"layercam", nil},
		{"xgradcam", nil},
		{"hirescam", nil},
		{"eigencam", nil},
		{"occlusion", []string{"--patch", "32", "--fill", "127.5"}},
		{"scorecam", []string{"--max-channels", "8"}},
	} {
		args := append([]string{"explain", "--json", "--overlay", "-m", model, "--method", c.method}, c.flags...)
		code, stdout, stderr := runMain(t, "", append(args, img)...)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", c.method, code, stderr)
		}
		var r struct {
			Method       string
			Maps         []string
			Overlays     []string
			Completeness []struct {
				Gap float64 `json:"gap"`
			}
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%s: %v: %q", c.method, err, stdout)
		}
		heat := filepath.Join(dir, "item.saliency."+c.method+".png")
		if r.Method != c.method || len(r.Maps) != 1 || r.Maps[0] != heat || r.Overlays[0] != filepath.Join(dir, "item.overlay."+c.method+".png") {
			t.Errorf("%s: %+v", c.method, r)
		}
		if w, h := imageSize(t, heat); w != 50 || h != 40 {
			t.Errorf("%s is %dx%d, want 50x40", heat, w, h)
		}
		if checked := c.method == "integrated" || c.method == "blurig" || c.method == "guidedig" || c.method == "fullgrad"; checked != (len(r.Completeness) == 1) {
			t.Errorf("%s: completeness %+v", c.method, r.Completeness)
		}
		// Done now, for this method only.
		code, stdout, _ = runMain(t, "", append(append(args, "--skip-existing"), img)...)
		if code != exitOK || !strings.Contains(stdout, `"skipped":true`) {
			t.Errorf("%s --skip-existing: exit %d, %s", c.method, code, stdout)
		}
	}
	// A folder run does not take the methods' outputs for inputs.
	code, stdout, stderr := runMain(t, "", "explain", "-m", model, "--json", "--skip-existing", dir)
	if code != exitOK || strings.Count(stdout, "\n") != 1 {
		t.Errorf("folder run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestExplainMethodUsageErrors(t *testing.T) {
	model := fashionModel(t)
	img := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, img, 20, 20, 0)
	noCAM := filepath.Join(t.TempDir(), "nocam")
	copyModelEditing(t, model, noCAM, func(sigs map[string]any) { delete(sigs, "gradcam") })
	noHead := filepath.Join(t.TempDir(), "nohead")
	copyModelEditing(t, model, noHead, func(sigs map[string]any) {
		delete(sigs["gradcam"].(map[string]any), "pooled_linear")
	})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "lime"}, `unknown method "lime"`},
		{[]string{"--samples", "4"}, "--samples does not apply to --method gradients"},
		{[]string{"--method", "smoothgrad", "--steps", "4"}, "--steps does not apply to --method smoothgrad"},
		{[]string{"--method", "gradcam", "--filter", "positive"}, "--filter does not apply to --method gradcam"},
		{[]string{"--filter", "abs"}, `unknown filter "abs"`},
		{[]string{"--reduce", "sum"}, `unknown reduction "sum"`},
		{[]string{"--method", "smoothgrad", "--samples", "0"}, "--samples must be at least 1"},
		{[]string{"--method", "integrated", "--steps", "1"}, "--steps must be at least 2"},
		{[]string{"--method", "integrated", "--baseline", "grey"}, `unknown --baseline "grey"`},
		{[]string{"--method", "gradcam", "-m", noCAM}, "exported without the gradcam signature"},
		{[]string{"--method", "layercam", "-m", noCAM}, "exported without the gradcam signature"},
		{[]string{"--method", "cam", "-m", noHead}, "logits are not a Dense layer on the global average of its exit_relu layer"},
		{[]string{"--patch", "8"}, "--patch does not apply to --method gradients"},
		{[]string{"--noise", "0.2"}, "--noise does not apply to --method gradients (it is for smoothgrad, or any method with --smooth)"},
		{[]string{"--method", "gradcam", "--vargrad"}, "--vargrad needs --smooth 2 or more"},
		{[]string{"--method", "gradcam", "--tta", "1"}, `--tta "1" adds no view`},
		{[]string{"--tta", "flip,9"}, `--tta: "9" is neither flip nor a scale from 0.25 to 4`},
		{[]string{"--method", "gradcam", "--smooth", "-2"}, "--smooth must not be negative"},
		{[]string{"--method", "occlusion", "--patch", "129"}, "--patch 129 is larger than the model's 128x128 input"},
		{[]string{"--method", "occlusion", "--stride", "-1"}, "--stride must be positive"},
		{[]string{"--method", "occlusion", "--smooth", "2", "--patch", "200"}, "--patch 200 is larger"},
		{[]string{"--max-channels", "8"}, "--max-channels does not apply to --method gradients"},
		{[]string{"--method", "guidedig", "--steps", "-1"}, "--steps must be at least 1"},
		{[]string{"--method", "blurig", "--baseline", "white"}, "--baseline does not apply to --method blurig"},
	} {
		args := append([]string{"explain", "-m", model}, c.args...)
		code, stdout, stderr := runMain(t, "", append(args, img)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
	if _, err := os.Stat(strings.TrimSuffix(img, ".png") + ".saliency.png"); err == nil {
		t.Error("a usage error still wrote a map")
	}
}

// --steps defaults to each path method's own: integrated's 64, PAIR saliency's
// 100 (blurig) and 200 (guidedig); what the report lists is the value used.
func TestPathMethodStepsDefaults(t *testing.T) {
	man, err := manifest.Read(fashionModel(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "integrated"}, "64"},
		{[]string{"--method", "blurig"}, "100"},
		{[]string{"--method", "guidedig"}, "200"},
		{[]string{"--method", "guidedig", "--steps", "7"}, "7"},
		{[]string{"--method", "blurig", "--steps", "64"}, "64"},
	} {
		var opts *ExplainOptions
		cmd := NewCmdExplain(&IO{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard},
			func(o *ExplainOptions) error { opts = o; return nil })
		cmd.SetArgs(append(c.args, "x.png"))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if _, err := opts.Method.build(man); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var got string
		for _, p := range opts.Method.params() {
			if p.Name == "steps" {
				got = p.Value
			}
		}
		if got != c.want {
			t.Errorf("%v: the report says steps %q, want %q", c.args, got, c.want)
		}
	}
}

// copyModelEditing copies a model folder with its manifest's signatures
// changed by edit: without the gradcam signature, as an export from before it
// existed would be, or without a field of it.
func copyModelEditing(t *testing.T, src, dst string, edit func(signatures map[string]any)) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "saliency.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				return err
			}
			edit(m["signatures"].(map[string]any))
			if data, err = json.Marshal(m); err != nil {
				return err
			}
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Two inputs with one stem: the second is refused with the message it always
// had, which names the flag that lets both be explained (output's error does
// not know flags; the command adds the flag).
func TestExplainSameStemNamesTheFlag(t *testing.T) {
	model := fashionModel(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "a.jpg")
	writePNG(t, a, 40, 30, 1)
	writeFile(t, b, readFile(t, a))
	code, _, stderr := runMain(t, "", "explain", "-q", "-m", model, a, b)
	want := "saliency: " + b + ": its outputs would overwrite those of " + a +
		" (same name); explain them in separate calls or with --out-dir\n"
	if code != exitFailed || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	assertDir(t, dir, "a.jpg", "a.png", "a.saliency.png")
}

// --smooth and --vargrad name their outputs after the method they wrap, so
// they sit beside its plain maps; a folder run takes neither for an input.
func TestExplainSmoothedOutputs(t *testing.T) {
	model := fashionModel(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "item.png")
	writePNG(t, img, 50, 40, 1)
	for _, c := range []struct {
		flags []string
		tag   string
	}{
		{[]string{"--method", "gradcam"}, "gradcam"},
		{[]string{"--method", "gradcam", "--smooth", "3", "--noise", "0.1", "--seed", "4"}, "gradcam-smooth"},
		{[]string{"--smooth", "3", "--vargrad"}, "gradients-vargrad"},
		{[]string{"--method", "layercam", "--tta", "flip,2"}, "layercam-tta"},
		{[]string{"--method", "gradcam", "--smooth", "2", "--tta", "flip"}, "gradcam-smooth-tta"},
	} {
		args := append(append([]string{"explain", "--json", "-m", model}, c.flags...), img)
		code, stdout, stderr := runMain(t, "", args...)
		var r struct {
			Method string
			Maps   []string
		}
		if code != exitOK || json.Unmarshal([]byte(stdout), &r) != nil {
			t.Fatalf("%v: exit %d, %s %s", c.flags, code, stdout, stderr)
		}
		if want := filepath.Join(dir, "item.saliency."+c.tag+".png"); r.Method != c.tag || len(r.Maps) != 1 || r.Maps[0] != want {
			t.Errorf("%v: method %q, maps %v; want %q, %s", c.flags, r.Method, r.Maps, c.tag, want)
		}
	}
	code, stdout, stderr := runMain(t, "", "explain", "-m", model, "--json", "--skip-existing", dir)
	if code != exitOK || strings.Count(stdout, "\n") != 1 {
		t.Errorf("folder run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
