package manifest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/testenv"
)

const valid = `{
 "version": 1, "name": "toy", "architecture": "test", "weights": "none",
 "input": {"height": 4, "width": 5, "channels": 3, "range": [0, 255], "preprocessing": "none"},
 "labels": ["a", "b"], "label_ids": ["n1", "n2"],
 "signatures": {
  "logits": {"name": "serving_default", "inputs": {"images": "images"}, "outputs": {"logits": "logits"}},
  "gradients": {"name": "gradients", "inputs": {"images": "images", "units": "units"},
                "outputs": {"logits": "logits", "gradients": "gradients"}}
 }
}`

func TestParseValid(t *testing.T) {
	m, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Height != 4 || m.Input.Width != 5 || len(m.Labels) != 2 || m.Signatures["gradients"].Outputs["gradients"] != "gradients" {
		t.Fatalf("parsed %+v", m)
	}
}

func TestParseSharedForward(t *testing.T) {
	data := strings.Replace(valid, `"gradients": "gradients"}`,
		`"gradients": "gradients"}, "shared_forward": {"units": 5, "signature": "gradients_k5", "dir": "shared"}`, 1)
	m, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if sf := m.Signatures["gradients"].SharedForward; sf == nil || *sf != (SharedForward{Units: 5, Signature: "gradients_k5", Dir: "shared"}) {
		t.Fatalf("shared_forward parsed as %+v", sf)
	}
	// With its top signature, which takes its keys from top1's.
	data = strings.Replace(strings.Replace(data, `"dir": "shared"}`, `"dir": "shared", "top": "top5"}`, 1),
		`"signatures": {`, `"signatures": {`+top1Signature+`,`, 1)
	if m, err = Parse([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sf := m.Signatures["gradients"].SharedForward; sf == nil || sf.Top != "top5" {
		t.Fatalf("shared_forward parsed as %+v", sf)
	}
}

// A fullgrad signature in the SavedModel of its own in dir.
func fullgradSignature(dir string) string {
	return `"fullgrad": {"name": "fullgrad", "dir": "` + dir + `", "inputs": {"images": "images", "units": "units"}, ` +
		`"outputs": {"logits": "logits", "inputs": "inputs", "bias": "bias", "bias_total": "bias_total"}}`
}

func TestParseOwnDir(t *testing.T) {
	m, err := Parse([]byte(strings.Replace(valid, `"signatures": {`, `"signatures": {`+fullgradSignature("fullgrad")+`,`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Signatures["fullgrad"].Dir; d != "fullgrad" {
		t.Errorf("fullgrad's dir parsed as %q", d)
	}
	if d := m.Signatures["gradients"].Dir; d != "" {
		t.Errorf("gradients' dir parsed as %q, want none", d)
	}
}

const top1Signature = `"top1": {"name": "top1", "inputs": {"images": "images"}, "outputs": {"units": "units", "logits": "logits", "gradients": "gradients"}}`

func TestParseRejects(t *testing.T) {
	cases := []struct{ name, from, to, wantErr string }{
		{"not JSON", valid, "{", "invalid JSON"},
		{"other version", `"version": 1`, `"version": 2`, "manifest version 2"},
		{"zero size", `"height": 4`, `"height": 0`, "out of range"},
		{"gray model", `"channels": 3`, `"channels": 1`, "only RGB"},
		{"no input range", `, "range": [0, 255]`, ``, "input range [0 0] does not hold"},
		{"range of a 0..1 model", `"range": [0, 255]`, `"range": [0, 1]`, "input range [0 1] does not hold"},
		{"no labels", `"labels": ["a", "b"]`, `"labels": []`, "no labels"},
		{"ids do not match labels", `["n1", "n2"]`, `["n1"]`, "1 label ids for 2 labels"},
		{"missing signature", `"logits": {"name": "serving_default"`, `"other": {"name": "serving_default"`, `no "logits" signature`},
		{"missing output", `"gradients": "gradients"}`, `"grads": "gradients"}`, `does not name its "gradients" output`},
		{"missing input", `"units": "units"`, `"unit": "units"`, `does not name its "units" input`},
		{"unknown output kind", `"labels": ["a", "b"]`, `"labels": ["a", "b"], "output": {"kind": "probabilities"}`, `output kind "probabilities"`},
		{"shared_forward of 1 unit", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 1, "signature": "g1", "dir": "shared"}`, `signature "gradients": shared_forward: 1 units`},
		{"shared_forward without a name", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 5, "dir": "shared"}`, "no signature name"},
		{"shared_forward outside the folder", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 5, "signature": "g5", "dir": "../other"}`, `dir "../other" is not a folder inside`},
		{"shared_forward at an absolute path", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 5, "signature": "g5", "dir": "/tmp/x"}`, `dir "/tmp/x" is not a folder inside`},
		{"shared_forward top without top1", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 5, "signature": "g5", "dir": "shared", "top": "top5"}`, `top "top5" has no top1 signature`},
		{"shared_forward top named as its gradients", `"gradients": "gradients"}`,
			`"gradients": "gradients"}, "shared_forward": {"units": 5, "signature": "g5", "dir": "shared", "top": "g5"}`, `top "g5" is the gradients signature's name`},
		{"required role in a folder of its own", `"gradients": {"name": "gradients",`,
			`"gradients": {"name": "gradients", "dir": "grads",`, `signature "gradients": dir "grads": only optional roles`},
		{"own folder outside the model's", `"signatures": {`,
			`"signatures": {` + fullgradSignature(`../fg`) + `,`, `signature "fullgrad": dir "../fg": only optional roles may live in a folder inside`},
		{"optional role incomplete", `"signatures": {`,
			`"signatures": {"gradcam": {"name": "gradcam", "inputs": {"images": "images", "units": "units"}, "outputs": {"logits": "logits"}},`,
			`signature "gradcam" does not name its "activations" output`},
		{"fullgrad without its bias total", `"signatures": {`,
			`"signatures": {"fullgrad": {"name": "fullgrad", "inputs": {"images": "images", "units": "units"}, "outputs": {"logits": "l", "inputs": "i", "bias": "b"}},`,
			`signature "fullgrad" does not name its "bias_total" output`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := strings.Replace(valid, c.from, c.to, 1)
			if c.from == valid {
				data = c.to
			}
			if data == valid {
				t.Fatal("test case did not change the manifest")
			}
			_, err := Parse([]byte(data))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// Every role the Go side calls is in the one table, with distinct names; the
// required ones are the two every export has.
func TestRoles(t *testing.T) {
	var required []string
	seen := map[string]bool{}
	for _, r := range Roles {
		if seen[r.Name] {
			t.Fatalf("role %q listed twice", r.Name)
		}
		seen[r.Name] = true
		if len(r.Inputs) == 0 || len(r.Outputs) == 0 || r.Inputs[0] != "images" {
			t.Errorf("role %q: inputs %v outputs %v", r.Name, r.Inputs, r.Outputs)
		}
		if r.Required {
			required = append(required, r.Name)
		}
	}
	if strings.Join(required, ",") != "logits,gradients" {
		t.Fatalf("required roles %v", required)
	}
	if !seen["gradcam"] || !seen["top1"] || !seen["fullgrad"] {
		t.Fatalf("optional roles missing: %v", seen)
	}
}

func TestOutputKind(t *testing.T) {
	m, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if m.OutputKind() != "logits" {
		t.Fatalf("a manifest without output is on logits, got %q", m.OutputKind())
	}
	m, err = Parse([]byte(strings.Replace(valid, `"labels"`,
		`"output": {"kind": "log_probabilities", "softmax_removed": false}, "labels"`, 1)))
	if err != nil || m.OutputKind() != "log_probabilities" {
		t.Fatalf("got %v, %v", m, err)
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	write := func(dir, manifest string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if manifest != "" {
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(manifest), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(filepath.Join(first, "b"), valid)
	write(filepath.Join(first, "a"), `{"version": 1}`) // broken: listed with its error
	write(filepath.Join(first, "notes"), "")           // no manifest: not a model
	write(filepath.Join(first, ".hidden"), valid)
	write(filepath.Join(second, "b"), valid) // shadowed by first/b
	write(filepath.Join(second, "c"), valid)

	got := List([]string{first, filepath.Join(root, "missing"), second, first})
	var names []string
	for _, f := range got {
		names = append(names, fmt.Sprintf("%s:%v:%v", f.Name, f.Err != nil, f.Shadowed))
		if f.Err == nil && (f.Manifest == nil || f.Manifest.Input.Width != 5) {
			t.Errorf("%s: manifest %+v", f.Dir, f.Manifest)
		}
	}
	want := "a:true:false b:false:false b:false:true c:false:false"
	if strings.Join(names, " ") != want {
		t.Fatalf("List = %v, want %s", names, want)
	}
	if got[2].Dir != filepath.Join(second, "b") {
		t.Fatalf("shadowed entry is %s", got[2].Dir)
	}
}

func TestReadNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "has no saliency.json") {
		t.Fatalf("empty folder: got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Fatalf("bad manifest: got %v, want the file named", err)
	}
}

// The exporter's real output must satisfy the Go side's contract.
func TestExportedManifestIsValid(t *testing.T) {
	m, err := Read(testenv.Path(t, testenv.Model))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Labels) != 1000 || m.Labels[0] != "tench" || m.LabelIDs[0] != "n01440764" {
		t.Fatalf("labels: %d, first %q (%q)", len(m.Labels), m.Labels[0], m.LabelIDs[0])
	}
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	for _, d := range []string{filepath.Join(second, "toy"), filepath.Join(first, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	search := []string{first, second}

	if got, err := Resolve("toy", search); err != nil || got != filepath.Join(second, "toy") {
		t.Fatalf("name: got %q, %v", got, err)
	}
	if got, err := Resolve(filepath.Join(first, "other"), nil); err != nil || got != filepath.Join(first, "other") {
		t.Fatalf("path: got %q, %v", got, err)
	}
	if _, err := Resolve("missing", search); err == nil || !strings.Contains(err.Error(), `no model named "missing"`) || !strings.Contains(err.Error(), first) {
		t.Fatalf("missing name: got %v", err)
	}
	if _, err := Resolve(filepath.Join(root, "nope"), search); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing path: got %v", err)
	}
	if _, err := Resolve("", search); err == nil {
		t.Fatal("empty name accepted")
	}
}

// FuzzParse checks what an accepted manifest promises the code that reads it,
// each property stated from its use (backprop, engine, method) rather than
// from validate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"version": 1, "input": {"height": -1}}`))
	f.Add([]byte(`null`))
	for _, seed := range edgeSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if (m == nil) == (err == nil) {
			t.Fatalf("Parse returned manifest %v and error %v", m, err)
		}
		if err != nil {
			return
		}
		for _, problem := range []string{inputSizeProblem(m.Input), inputRangeProblem(m.Input.Range),
			labelsProblem(m), outputProblem(m), signaturesProblem(m)} {
			if problem != "" {
				t.Fatalf("accepted a manifest whose %s:\n%s", problem, data)
			}
		}
	})
}

// edgeSeeds are manifests at the edges of what Parse accepts.
func edgeSeeds() [][]byte {
	edit := func(from, to string) []byte { return []byte(strings.Replace(valid, from, to, 1)) }
	return [][]byte{
		edit(`"height": 4, "width": 5`, `"height": 16384, "width": 16384`),
		edit(`"height": 4, "width": 5`, `"height": 1, "width": 1`),
		edit(`"range": [0, 255]`, `"range": [-1e30, 3.4e38]`),
		edit(`"range": [0, 255]`, `"range": [0, 1e39]`), // not a float32
		edit(`"label_ids": ["n1", "n2"]`, `"label_ids": null, "output": {"kind": "log_probabilities"}`),
		edit(`"signatures": {`, `"signatures": {
  "top1": {"name": "top1", "inputs": {"images": "i"}, "outputs": {"units": "u", "logits": "l", "gradients": "g"}},
  "gradcam": {"name": "gradcam", "layer": "block14", "inputs": {"images": "i", "units": "u"},
              "outputs": {"logits": "l", "activations": "a", "gradients": "g"}},`),
		edit(`"signatures": {`, `"signatures": {
  "fullgrad": {"name": "fullgrad", "inputs": {"images": "i", "units": "u"},
               "outputs": {"logits": "l", "inputs": "x", "bias": "b", "bias_total": "t"}},`),
	}
}

// inputSizeProblem: the Go side builds H x W x 3 float32 tensors (imageio
// gives RGB only), and one image's values must fit an int32, which TensorFlow
// indexes with and which is int on 32-bit platforms.
func inputSizeProblem(in Input) string {
	switch {
	case in.Height <= 0 || in.Width <= 0:
		return fmt.Sprintf("input size is %dx%d", in.Width, in.Height)
	case in.Channels != 3:
		return fmt.Sprintf("input has %d channels, not the 3 of RGB", in.Channels)
	case in.Width > math.MaxInt32/3/in.Height:
		return fmt.Sprintf("input %dx%dx3 has more values than an int32 counts", in.Width, in.Height)
	}
	return ""
}

// inputRangeProblem: imageio.ToTensor feeds pixels in 0..255, and integrated
// gradients' black and white baselines are the range's ends.
func inputRangeProblem(r [2]float32) string {
	lo, hi := float64(r[0]), float64(r[1])
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > 0 || hi < 255 {
		return fmt.Sprintf("input range %v does not hold the pixels 0..255", r)
	}
	return ""
}

// labelsProblem: units index Labels (as int32 in backprop), and a non-empty
// LabelIDs names the same units.
func labelsProblem(m *Manifest) string {
	if len(m.Labels) == 0 || len(m.Labels) > math.MaxInt32 {
		return fmt.Sprintf("class count is %d", len(m.Labels))
	}
	if len(m.LabelIDs) != 0 && len(m.LabelIDs) != len(m.Labels) {
		return fmt.Sprintf("%d label ids are for %d labels", len(m.LabelIDs), len(m.Labels))
	}
	return ""
}

// outputProblem: results and `saliency models` report the scores as one of two kinds.
func outputProblem(m *Manifest) string {
	if k := m.OutputKind(); k != "logits" && k != "log_probabilities" {
		return fmt.Sprintf("output kind is %q", k)
	}
	return ""
}

// signaturesProblem: backprop binds every key of every role the manifest
// names, and calls the required roles unconditionally.
func signaturesProblem(m *Manifest) string {
	for _, role := range Roles {
		sig, ok := m.Signatures[role.Name]
		if !ok {
			if role.Required {
				return fmt.Sprintf("required %q signature is missing", role.Name)
			}
			continue
		}
		if sig.Name == "" {
			return fmt.Sprintf("%q signature has no name", role.Name)
		}
		if k := unnamedKey(role.Inputs, sig.Inputs); k != "" {
			return fmt.Sprintf("%q signature does not name its %q input", role.Name, k)
		}
		if k := unnamedKey(role.Outputs, sig.Outputs); k != "" {
			return fmt.Sprintf("%q signature does not name its %q output", role.Name, k)
		}
	}
	return ""
}

// unnamedKey is the first of keys that names maps to no tensor, or "".
func unnamedKey(keys []string, names map[string]string) string {
	for _, k := range keys {
		if names[k] == "" {
			return k
		}
	}
	return ""
}
