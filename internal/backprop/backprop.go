// Package backprop runs an exported classifier in the TensorFlow runtime: it loads
// the SavedModel, finds the signatures its manifest names, computes logits, and
// evaluates the exported gradient subgraphs, the derivative of each selected
// logit with respect to the input pixels (Simonyan, Vedaldi & Zisserman 2013)
// or to the Grad-CAM layer. Its Model is the method.Model (and engine.Model)
// the rest of the code calls. It is the only package that talks to TensorFlow
// and the only one that needs cgo; everything it returns is plain Go slices,
// and every C tensor it creates or receives is freed before a call returns.
package backprop

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	tf "github.com/tensorflow/tensorflow/tensorflow/go"

	"github.com/saliency-tool/saliency/internal/manifest"
	"github.com/saliency-tool/saliency/internal/method"
)

// Model is a loaded SavedModel with the tensors of its signatures resolved: the
// method.Model the explaining methods call. Its methods are safe for concurrent
// use (TensorFlow sessions are).
type Model struct {
	Manifest *manifest.Manifest

	saved *tf.SavedModel
	// bound holds, for each role the model exports (manifest.Roles), the graph
	// tensors behind the signature's input and output keys.
	bound map[string]*boundSignature
	// shared is the gradients' shared_forward signature when its SavedModel is
	// the one loaded (Options.SharedForward), else nil.
	shared *manifest.SharedForward
	// own is the role whose SavedModel of its own (manifest.Signature.Dir) is
	// the one loaded (Options.Own), else "".
	own  string
	opts Options
	// owned holds the SavedModels of their own that this model opened for a
	// role it lacks (ownModel), by role; closed with it.
	ownedMu sync.Mutex
	owned   map[string]*Model
}

// boundSignature is one role's signature resolved to graph tensors: inputs by
// role key, outputs in the order manifest.Role.Outputs lists them.
type boundSignature struct {
	name    string
	inputs  map[string]tf.Output
	outputs []tf.Output
}

// Options tunes the TensorFlow session. Zero values let TensorFlow choose.
type Options struct {
	IntraOpThreads int
	InterOpThreads int
	// SharedForward loads, when the manifest has one, the SavedModel with the
	// signature that explains several units of an image from one forward pass
	// (manifest.SharedForward) instead of the main one: it has only the logits
	// and gradients roles besides, for runs that send an image's units in
	// groups (method.SharesForward says which).
	SharedForward bool
	// Own names a role exported in a SavedModel of its own (the manifest's
	// Signature.Dir, e.g. fullgrad) to load instead of the main one: it has
	// only that role and the logits (manifest.OwnRoles), for runs of the
	// methods that call it (method.OwnRole says which). Ignored when the
	// manifest has the role in the main SavedModel (older exports).
	Own string
	// BFloat16 has Grappler rewrite the graph to bfloat16 where oneDNN has
	// bfloat16 kernels (auto_mixed_precision_onednn_bfloat16); only CPUs with
	// native bfloat16 gain from it (hostcpu.BFloat16).
	BFloat16 bool
}

// Load reads the manifest of the model exported to dir by models/export.py and
// opens it.
func Load(dir string, opts Options) (*Model, error) {
	man, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	return Open(man, opts)
}

// Open loads the SavedModel of a manifest already read (manifest.Read) and
// binds the signatures it names.
func Open(man *manifest.Manifest, opts Options) (*Model, error) {
	dir, shared, own := man.Dir, man.Signatures["gradients"].SharedForward, ""
	switch {
	case opts.Own != "" && man.Signatures[opts.Own].Dir != "":
		dir, shared, own = filepath.Join(man.Dir, man.Signatures[opts.Own].Dir), nil, opts.Own
	case opts.SharedForward && shared != nil:
		dir = filepath.Join(man.Dir, shared.Dir)
	default:
		shared = nil
	}
	sessionOpts, err := opts.session()
	if err != nil {
		return nil, err
	}
	saved, err := tf.LoadSavedModel(dir, []string{"serve"}, sessionOpts)
	if err != nil {
		return nil, fmt.Errorf("load SavedModel %s: %w", dir, err)
	}
	m := &Model{Manifest: man, saved: saved, shared: shared, own: own, opts: opts}
	if err := m.resolve(); err != nil {
		saved.Session.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// resolve finds the graph tensors behind the signature keys of every role the
// manifest names, from the one table of roles.
func (m *Model) resolve() error {
	var errs []error
	m.bound = map[string]*boundSignature{}
	for _, role := range manifest.Roles {
		named, ok := m.Manifest.Signatures[role.Name]
		if !ok {
			continue // optional roles the model lacks (validate checked the required ones)
		}
		name := named.Name
		switch {
		case m.own != "" && role.Name != m.own && !slices.Contains(manifest.OwnRoles, role.Name):
			continue // not in the role's own SavedModel
		case m.own == "" && named.Dir != "":
			continue // in a SavedModel of its own (ownModel opens it when called)
		}
		if m.shared != nil {
			switch {
			case role.Name == "top1" && m.shared.Top != "":
				name = m.shared.Top // the shared SavedModel's top-Units signature, with top1's keys
			case !slices.Contains(manifest.SharedRoles, role.Name):
				continue // not in the shared SavedModel
			}
		}
		if b := m.bind(role, named, name, &errs); b != nil {
			m.bound[role.Name] = b
		}
		if role.Name == "gradients" && m.shared != nil {
			if b := m.bind(role, named, m.shared.Signature, &errs); b != nil {
				m.bound[sharedGradients] = b
			}
		}
	}
	return joinErrors(errs)
}

// bind finds the tensors of the signature name, whose keys are named's, for role.
func (m *Model) bind(role manifest.Role, named manifest.Signature, name string, errs *[]error) *boundSignature {
	sig, ok := m.saved.Signatures[name]
	if !ok {
		*errs = append(*errs, fmt.Errorf("SavedModel has no signature %q", name))
		return nil
	}
	b := &boundSignature{name: name, inputs: map[string]tf.Output{}}
	for _, key := range role.Inputs {
		out, err := m.tensor(sig.Inputs, "input", name, named.Inputs[key])
		if err != nil {
			*errs = append(*errs, err)
		}
		b.inputs[key] = out
	}
	for _, key := range role.Outputs {
		out, err := m.tensor(sig.Outputs, "output", name, named.Outputs[key])
		if err != nil {
			*errs = append(*errs, err)
		}
		b.outputs = append(b.outputs, out)
	}
	return b
}

// sharedGradients is the bound name of the gradients' shared_forward signature.
const sharedGradients = "gradients/shared"

// SharedUnits is the number of units per image that Gradients explains from
// one forward pass when called with that k, or 0 when the loaded SavedModel
// has no such signature (method.SharedForward).
func (m *Model) SharedUnits() int {
	if m.shared == nil || !m.has(sharedGradients) {
		return 0
	}
	return m.shared.Units
}

// joinErrors joins errs as errors.Join does (errors.Is and As see each), on one
// line: a model's problems are one line of stderr, not one per problem.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return joined(errs)
}

type joined []error

func (e joined) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e joined) Unwrap() []error { return e }

// tensor finds the graph tensor behind one key of a signature's inputs or outputs.
func (m *Model) tensor(infos map[string]tf.TensorInfo, kind, sigName, key string) (tf.Output, error) {
	info, ok := infos[key]
	if !ok {
		return tf.Output{}, fmt.Errorf("signature %q has no %s %q", sigName, kind, key)
	}
	out, err := m.output(info.Name)
	if err != nil {
		return tf.Output{}, fmt.Errorf("signature %q %s %q: %v", sigName, kind, key, err)
	}
	return out, nil
}

// has reports whether the model exports the signature of role.
func (m *Model) has(role string) bool { return m.bound[role] != nil }

// run feeds a role's signature (inputs by role key) and returns its outputs in
// the role's order; the caller releases them.
func (m *Model) run(role string, feeds map[string]*tf.Tensor) ([]*tf.Tensor, error) {
	b := m.bound[role]
	if b == nil {
		return nil, fmt.Errorf("model %s has no %s signature: export it again with models/export.py", m.Manifest.Name, role)
	}
	in := make(map[tf.Output]*tf.Tensor, len(feeds))
	for key, t := range feeds {
		in[b.inputs[key]] = t
	}
	outs, err := m.saved.Session.Run(in, b.outputs, nil)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", b.name, err)
	}
	return outs, nil
}

// output finds a graph tensor from its "operation:index" name.
func (m *Model) output(name string) (tf.Output, error) {
	opName, idx := name, 0
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return tf.Output{}, fmt.Errorf("bad tensor name %q", name)
		}
		opName, idx = name[:i], n
	}
	op := m.saved.Graph.Operation(opName)
	if op == nil {
		return tf.Output{}, fmt.Errorf("graph has no operation %q", opName)
	}
	return op.Output(idx), nil
}

// Close releases the session, and those of the SavedModels of their own it
// opened. Closing twice is harmless.
func (m *Model) Close() error {
	if m == nil || m.saved == nil {
		return nil
	}
	m.ownedMu.Lock()
	errs := []error{m.saved.Session.Close()}
	for _, o := range m.owned {
		errs = append(errs, o.Close())
	}
	m.saved, m.owned = nil, nil
	m.ownedMu.Unlock()
	return errors.Join(errs...)
}

// ownModel returns the model that has role's signature: m itself, or, when the
// manifest puts the role in a SavedModel of its own that m did not load, that
// SavedModel, opened on first use with m's options. The command line loads it
// directly for the runs that call it (Options.Own); this keeps every Model
// able to answer every role its manifest names.
func (m *Model) ownModel(role string) (*Model, error) {
	if m.has(role) || m.Manifest.Signatures[role].Dir == "" {
		return m, nil
	}
	m.ownedMu.Lock()
	defer m.ownedMu.Unlock()
	if o := m.owned[role]; o != nil {
		return o, nil
	}
	opts := m.opts
	opts.SharedForward, opts.Own = false, role
	o, err := Open(m.Manifest, opts)
	if err != nil {
		return nil, err
	}
	if m.owned == nil {
		m.owned = map[string]*Model{}
	}
	m.owned[role] = o
	return o, nil
}

// NumClasses is the number of output units.
func (m *Model) NumClasses() int { return len(m.Manifest.Labels) }

// Labels names the output units, by index.
func (m *Model) Labels() []string { return m.Manifest.Labels }

// OutputKind says what the model's scores are (manifest.Manifest.OutputKind).
func (m *Model) OutputKind() string { return m.Manifest.OutputKind() }

// InputSize is the height, width and channels of one input image.
func (m *Model) InputSize() (h, w, c int) {
	in := m.Manifest.Input
	return in.Height, in.Width, in.Channels
}

// InputRange is the least and greatest pixel value the model's input takes.
func (m *Model) InputRange() (lo, hi float32) {
	r := m.Manifest.Input.Range
	return r[0], r[1]
}

// pixelsPerImage is the number of float32 values in one input image.
func (m *Model) pixelsPerImage() int {
	h, w, c := m.InputSize()
	return h * w * c
}

// Logits runs the model on n images (n*H*W*C floats, NHWC) and returns the
// n*classes logits, row by row.
func (m *Model) Logits(images []float32, n int) ([]float32, error) {
	in, err := m.imageTensor(images, n)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	outs, err := m.run("logits", map[string]*tf.Tensor{"images": in})
	if err != nil {
		return nil, err
	}
	defer releaseAll(outs)
	return copyFloats(outs[0], n*m.NumClasses())
}

// Gradients evaluates the gradient signature for n images and k units per image
// (units holds n*k class indices, row by row). It returns the n*k selected logits
// and the n*k*H*W*C input gradients, d logit[i][j] / d images[i]. When the
// export has a signature for exactly k units from one forward pass
// (SharedUnits), that one runs.
func (m *Model) Gradients(images []float32, n int, units []int32, k int) (logits, grads []float32, err error) {
	outs, err := m.runWithUnits("gradients", images, n, units, k)
	if err != nil {
		return nil, nil, err
	}
	defer releaseAll(outs)
	if logits, err = copyFloats(outs[0], n*k); err != nil {
		return nil, nil, err
	}
	if grads, err = copyFloats(outs[1], n*k*m.pixelsPerImage()); err != nil {
		return nil, nil, err
	}
	return logits, grads, nil
}

// TopUnits is the number of units per image the model's top signature picks
// and explains from one forward pass: 1 for the main SavedModel's top1, the
// shared-forward size for the shared SavedModel's top signature, 0 when the
// loaded SavedModel has none.
func (m *Model) TopUnits() int {
	switch {
	case !m.has("top1"):
		return 0
	case m.shared != nil:
		return m.shared.Units
	}
	return 1
}

// TopGradients evaluates the top signature: each image's TopUnits
// highest-scoring units (highest first, ties: the lower index), their logits
// and d logit / d image, from one forward pass: n*TopUnits units and logits,
// n*TopUnits*H*W*C gradients, image by image. Same results as
// TopK(Logits(...), TopUnits) followed by Gradients, without the first
// forward pass.
func (m *Model) TopGradients(images []float32, n int) (units []int32, logits, grads []float32, err error) {
	t := m.TopUnits()
	in, err := m.imageTensor(images, n)
	if err != nil {
		return nil, nil, nil, err
	}
	defer in.Release()
	outs, err := m.run("top1", map[string]*tf.Tensor{"images": in})
	if err != nil {
		return nil, nil, nil, err
	}
	defer releaseAll(outs)
	if outs[0].DataType() != tf.Int32 || len(outs[0].Shape()) != 2 || outs[0].Shape()[0] != int64(n) || outs[0].Shape()[1] != int64(t) {
		return nil, nil, nil, fmt.Errorf("%s units have type %v shape %v, want int32 [%d, %d]",
			m.bound["top1"].name, outs[0].DataType(), outs[0].Shape(), n, t)
	}
	units = make([]int32, n*t)
	if _, err := outs[0].WriteContentsTo(&byteWriter{b: int32Bytes(units)}); err != nil {
		return nil, nil, nil, err
	}
	if logits, err = copyFloats(outs[1], n*t); err != nil {
		return nil, nil, nil, err
	}
	if grads, err = copyFloats(outs[2], n*t*m.pixelsPerImage()); err != nil {
		return nil, nil, nil, err
	}
	return units, logits, grads, nil
}

// HasGradCAM reports whether the model was exported with the gradcam signature.
func (m *Model) HasGradCAM() bool { return m.has("gradcam") }

// GradCAM evaluates the gradcam signature (see method.CAM).
func (m *Model) GradCAM(images []float32, n int, units []int32, k int) (method.CAM, error) {
	outs, err := m.runWithUnits("gradcam", images, n, units, k)
	if err != nil {
		return method.CAM{}, err
	}
	defer releaseAll(outs)
	shape := outs[1].Shape()
	if len(shape) != 4 || shape[0] != int64(n) {
		return method.CAM{}, fmt.Errorf("gradcam activations have shape %v, want [%d, H, W, C]", shape, n)
	}
	cam := method.CAM{Layer: m.Manifest.Signatures["gradcam"].Layer, H: int(shape[1]), W: int(shape[2]), C: int(shape[3])}
	block := cam.H * cam.W * cam.C
	if cam.Logits, err = copyFloats(outs[0], n*k); err != nil {
		return method.CAM{}, err
	}
	if cam.Activations, err = copyFloats(outs[1], n*block); err != nil {
		return method.CAM{}, err
	}
	if cam.Gradients, err = copyFloats(outs[2], n*k*block); err != nil {
		return method.CAM{}, err
	}
	return cam, nil
}

// FullGrad evaluates the fullgrad signature (see method.FullGradParts): n*k
// logits, n*k*H*W*C input terms, n*k*H*W bias maps and n*k bias totals, each
// output's shape checked.
func (m *Model) FullGrad(images []float32, n int, units []int32, k int) (method.FullGradParts, error) {
	o, err := m.ownModel("fullgrad")
	if err != nil {
		return method.FullGradParts{}, err
	}
	if o != m {
		return o.FullGrad(images, n, units, k)
	}
	outs, err := m.runWithUnits("fullgrad", images, n, units, k)
	if err != nil {
		return method.FullGradParts{}, err
	}
	defer releaseAll(outs)
	h, w, c := m.InputSize()
	rows := []int64{int64(n), int64(k)}
	// In the order of the role's outputs (manifest.Roles): logits, inputs, bias, bias_total.
	keys := []string{"logits", "inputs", "bias", "bias_total"}
	shapes := [][]int64{rows, append(rows, int64(h), int64(w), int64(c)), append(rows, int64(h), int64(w)), rows}
	values := make([][]float32, len(keys))
	for i, want := range shapes {
		if got := outs[i].Shape(); !slices.Equal(got, want) {
			return method.FullGradParts{}, fmt.Errorf("%s %s has shape %v, want %v", m.bound["fullgrad"].name, keys[i], got, want)
		}
		size := 1
		for _, d := range want {
			size *= int(d)
		}
		if values[i], err = copyFloats(outs[i], size); err != nil {
			return method.FullGradParts{}, fmt.Errorf("%s %s: %w", m.bound["fullgrad"].name, keys[i], err)
		}
	}
	return method.FullGradParts{Logits: values[0], Inputs: values[1], Bias: values[2], BiasTotal: values[3]}, nil
}

// runWithUnits feeds n images and their n*k units to a role's signature and
// returns its outputs, which the caller releases.
func (m *Model) runWithUnits(role string, images []float32, n int, units []int32, k int) ([]*tf.Tensor, error) {
	if len(units) != n*k {
		return nil, fmt.Errorf("got %d units for %d images x %d", len(units), n, k)
	}
	for _, u := range units {
		if u < 0 || int(u) >= m.NumClasses() {
			return nil, fmt.Errorf("unit %d out of range [0, %d)", u, m.NumClasses())
		}
	}
	in, err := m.imageTensor(images, n)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	unitTensor, err := tf.ReadTensor(tf.Int32, []int64{int64(n), int64(k)}, &byteReader{b: int32Bytes(units)})
	if err != nil {
		return nil, err
	}
	defer unitTensor.Release()
	if role == "gradients" && k == m.SharedUnits() {
		role = sharedGradients
	}
	return m.run(role, map[string]*tf.Tensor{"images": in, "units": unitTensor})
}

// imageTensor copies n images into a new C tensor of the model's input shape.
func (m *Model) imageTensor(images []float32, n int) (*tf.Tensor, error) {
	h, w, c := m.InputSize()
	if n <= 0 || len(images) != n*h*w*c {
		return nil, fmt.Errorf("got %d values for %d images of %dx%dx%d", len(images), n, h, w, c)
	}
	return tf.ReadTensor(tf.Float, []int64{int64(n), int64(h), int64(w), int64(c)}, &byteReader{b: float32Bytes(images)})
}

// copyFloats copies a float32 tensor's contents out flat, checking its size;
// Tensor.Value would build nested slices by reflection, which is slow for
// gradient batches of tens of megabytes.
func copyFloats(t *tf.Tensor, want int) ([]float32, error) {
	if t.DataType() != tf.Float {
		return nil, fmt.Errorf("output has type %v, want float32", t.DataType())
	}
	got := 1
	for _, d := range t.Shape() {
		got *= int(d)
	}
	if got != want {
		return nil, fmt.Errorf("output has shape %v (%d values), want %d values", t.Shape(), got, want)
	}
	out := make([]float32, want)
	w := &byteWriter{b: float32Bytes(out)}
	if _, err := t.WriteContentsTo(w); err != nil {
		return nil, err
	}
	if len(w.b) != 0 {
		return nil, fmt.Errorf("output tensor shorter than its shape")
	}
	return out, nil
}

func releaseAll(ts []*tf.Tensor) {
	for _, t := range ts {
		t.Release()
	}
}

func float32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
}

func int32Bytes(v []int32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
}

// byteReader and byteWriter move tensor bytes without the intermediate buffers
// of bytes.Reader / bytes.Buffer growth.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

type byteWriter struct{ b []byte }

func (w *byteWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b) {
		return 0, fmt.Errorf("output tensor larger than its shape")
	}
	n := copy(w.b, p)
	w.b = w.b[n:]
	return n, nil
}

// TensorFlowVersion is the version of the TensorFlow C library the process
// loaded (TF_Version), which may differ from the one the binary was built with.
func TensorFlowVersion() string { return tf.Version() }
