// Package backprop runs an exported classifier in the TensorFlow runtime: it loads
// the SavedModel, finds the signatures its manifest names, computes logits, picks
// the top-K units, and evaluates the exported gradient subgraph, the derivative of
// each selected logit with respect to the input pixels (Simonyan, Vedaldi &
// Zisserman 2013). It is the only package that talks to TensorFlow; everything it
// returns is plain Go slices, and every C tensor it creates or receives is freed
// before a call returns.
package backprop

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"

	tf "github.com/tensorflow/tensorflow/tensorflow/go"

	"github.com/saliency-tool/saliency/internal/manifest"
)

// Model is a loaded SavedModel with the tensors of its two signatures resolved.
// Its methods are safe for concurrent use (TensorFlow sessions are).
type Model struct {
	Manifest *manifest.Manifest

	saved *tf.SavedModel

	logitsImages tf.Output
	logits       tf.Output

	gradImages tf.Output
	gradUnits  tf.Output
	gradLogits tf.Output
	gradients  tf.Output
}

// Options tunes the TensorFlow session. Zero values let TensorFlow choose.
type Options struct {
	IntraOpThreads int
	InterOpThreads int
}

// Load loads the model exported to dir by models/export.py.
func Load(dir string, opts Options) (*Model, error) {
	man, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	sessionOpts, err := opts.session()
	if err != nil {
		return nil, err
	}
	saved, err := tf.LoadSavedModel(dir, []string{"serve"}, sessionOpts)
	if err != nil {
		return nil, fmt.Errorf("load SavedModel %s: %w", dir, err)
	}
	m := &Model{Manifest: man, saved: saved}
	if err := m.resolve(); err != nil {
		saved.Session.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// resolve finds the graph tensors behind the manifest's signature keys.
func (m *Model) resolve() error {
	var errs []string
	find := func(role, kind, key string) tf.Output {
		sigName := m.Manifest.Signatures[role].Name
		sig, ok := m.saved.Signatures[sigName]
		if !ok {
			errs = append(errs, fmt.Sprintf("SavedModel has no signature %q", sigName))
			return tf.Output{}
		}
		infos := sig.Inputs
		keyName := m.Manifest.Signatures[role].Inputs[key]
		if kind == "output" {
			infos = sig.Outputs
			keyName = m.Manifest.Signatures[role].Outputs[key]
		}
		info, ok := infos[keyName]
		if !ok {
			errs = append(errs, fmt.Sprintf("signature %q has no %s %q", sigName, kind, keyName))
			return tf.Output{}
		}
		out, err := m.output(info.Name)
		if err != nil {
			errs = append(errs, fmt.Sprintf("signature %q %s %q: %v", sigName, kind, keyName, err))
		}
		return out
	}
	m.logitsImages = find("logits", "input", "images")
	m.logits = find("logits", "output", "logits")
	m.gradImages = find("gradients", "input", "images")
	m.gradUnits = find("gradients", "input", "units")
	m.gradLogits = find("gradients", "output", "logits")
	m.gradients = find("gradients", "output", "gradients")
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
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

// Close releases the session. Closing twice is harmless.
func (m *Model) Close() error {
	if m == nil || m.saved == nil {
		return nil
	}
	err := m.saved.Session.Close()
	m.saved = nil
	return err
}

// NumClasses is the number of output units.
func (m *Model) NumClasses() int { return len(m.Manifest.Labels) }

// InputSize is the height, width and channels of one input image.
func (m *Model) InputSize() (h, w, c int) {
	in := m.Manifest.Input
	return in.Height, in.Width, in.Channels
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
	outs, err := m.saved.Session.Run(map[tf.Output]*tf.Tensor{m.logitsImages: in}, []tf.Output{m.logits}, nil)
	if err != nil {
		return nil, fmt.Errorf("run logits: %w", err)
	}
	defer releaseAll(outs)
	return copyFloats(outs[0], n*m.NumClasses())
}

// Gradients evaluates the gradient signature for n images and k units per image
// (units holds n*k class indices, row by row). It returns the n*k selected logits
// and the n*k*H*W*C input gradients, d logit[i][j] / d images[i].
func (m *Model) Gradients(images []float32, n int, units []int32, k int) (logits, grads []float32, err error) {
	if len(units) != n*k {
		return nil, nil, fmt.Errorf("got %d units for %d images x %d", len(units), n, k)
	}
	for _, u := range units {
		if u < 0 || int(u) >= m.NumClasses() {
			return nil, nil, fmt.Errorf("unit %d out of range [0, %d)", u, m.NumClasses())
		}
	}
	in, err := m.imageTensor(images, n)
	if err != nil {
		return nil, nil, err
	}
	defer in.Release()
	unitTensor, err := tf.ReadTensor(tf.Int32, []int64{int64(n), int64(k)}, &byteReader{b: int32Bytes(units)})
	if err != nil {
		return nil, nil, err
	}
	defer unitTensor.Release()

	outs, err := m.saved.Session.Run(
		map[tf.Output]*tf.Tensor{m.gradImages: in, m.gradUnits: unitTensor},
		[]tf.Output{m.gradLogits, m.gradients}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("run gradients: %w", err)
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
