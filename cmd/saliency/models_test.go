package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/saliency-tool/saliency/internal/method"
)

// `saliency models` lists what --model NAME finds: the real exported model, a
// copy without the gradcam signature (which must not offer gradcam), and a
// broken folder (reported, exit 1, the others still listed).
func TestModelsListsTheSearchPath(t *testing.T) {
	root := t.TempDir()
	copyModelEditing(t, testModel(t), filepath.Join(root, "nocam"), func(sigs map[string]any) { delete(sigs, "gradcam") })
	if err := os.Symlink(testModel(t), filepath.Join(root, "xception")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SALIENCY_MODELS", root)

	code, stdout, stderr := runMain(t, "", "models", "--json")
	if code != exitOK || stderr != "" {
		t.Fatalf("models --json: exit %d, stderr %q", code, stderr)
	}
	byName := map[string]modelRecord{}
	for _, line := range lines(stdout) {
		var r modelRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if _, dup := byName[r.Name]; !dup { // later ones on the path are shadowed copies
			byName[r.Name] = r
		}
	}
	x, ok := byName["xception"]
	if !ok || x.Height != 299 || x.Width != 299 || x.Classes != 1000 || x.Scores != "logits" ||
		!slices.Contains(x.Methods, "gradcam") || !slices.Contains(x.Methods, "gradients") {
		t.Errorf("xception listed as %+v", x)
	}
	n, ok := byName["nocam"]
	if !ok || slices.Contains(n.Methods, "gradcam") || !slices.Contains(n.Methods, "integrated") {
		t.Errorf("nocam listed as %+v", n)
	}

	code, stdout, _ = runMain(t, "", "models")
	if code != exitOK || !strings.HasPrefix(stdout, "NAME") || !strings.Contains(stdout, "299x299") {
		t.Errorf("models table: exit %d\n%s", code, stdout)
	}

	if err := os.Mkdir(filepath.Join(root, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "broken", "saliency.json"), []byte(`{"version": 1}`))
	code, stdout, stderr = runMain(t, "", "models", "--json")
	if code != exitFailed || !strings.Contains(stderr, filepath.Join(root, "broken")) || !strings.Contains(stdout, `"name":"xception"`) {
		t.Errorf("broken model: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
}

func TestMethodsColumn(t *testing.T) {
	all := method.Names()
	noOcclusion := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "occlusion" })
	for _, c := range []struct {
		in   []string
		want string
	}{
		{all, "all"},
		{noOcclusion, "all but occlusion"},
		{[]string{"gradcam", "gradients"}, "gradcam,gradients"}, // more missing than present: the list itself
	} {
		if got := methodsColumn(c.in); got != c.want {
			t.Errorf("methodsColumn(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
