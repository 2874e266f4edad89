package output

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/saliency-tool/saliency/internal/imageio"
)

// pngEncoder writes every PNG a run produces at deflate's fastest level. On
// 64 maps of the trained 128x128 demo model at their images' sizes (19 Mpx,
// issue 15), the default level took 4.1 s, 64% of the whole run, against
// 0.55 s for files 20% larger (6.2 MB against 5.1 MB); any PNG decoder reads
// either. A run writes thousands of maps and reads none.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed}

// WriteGrayPNG writes m, w*h values in [0, 1] in row-major order, as an 8-bit
// gray PNG: v becomes round(clamp(v, 0, 1)*255), NaN becomes 0. The file is
// written atomically.
func WriteGrayPNG(path string, m []float32, w, h int) error {
	if w <= 0 || h <= 0 || len(m) != w*h {
		return fmt.Errorf("write png: %d values do not form a %dx%d map", len(m), w, h)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range m {
		img.Pix[i] = unitToByte(v)
	}
	return WriteFileAtomic(path, func(wr io.Writer) error {
		if err := pngEncoder.Encode(wr, img); err != nil {
			return fmt.Errorf("write png: %w", err)
		}
		return nil
	})
}

func unitToByte(v float32) uint8 {
	if !(v > 0) { // also catches NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(float64(v) * 255))
}

// npyAlign is the alignment of the data offset that NumPy's format spec asks
// for, so the array can be memory-mapped.
const npyAlign = 64

// WriteNPY writes data as a NumPy .npy file (format 1.0, dtype '<f4', C
// order) of the given shape, atomically. The shape must match len(data).
func WriteNPY(path string, data []float32, shape []int) error {
	header, err := npyHeader(data, shape)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(header); err != nil {
			return fmt.Errorf("write npy: %w", err)
		}
		buf := make([]byte, 4)
		for _, v := range data {
			binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("write npy: %w", err)
			}
		}
		return nil
	})
}

// npyHeader returns the magic, version, header length and the header dict
// padded with spaces and ended by '\n' up to a multiple of npyAlign.
func npyHeader(data []float32, shape []int) ([]byte, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("write npy: negative dimension in shape %v", shape)
		}
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("write npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': " + pythonTuple(shape) + ", }"
	const prefix = 10 // magic (6) + version (2) + uint16 header length (2)
	total := (prefix + len(dict) + 1 + npyAlign - 1) / npyAlign * npyAlign
	headerLen := total - prefix
	if headerLen > math.MaxUint16 {
		return nil, fmt.Errorf("write npy: shape %v needs a header too long for format 1.0", shape)
	}
	h := make([]byte, 0, total)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(headerLen))
	h = append(h, dict...)
	h = append(h, strings.Repeat(" ", total-len(h)-1)...)
	return append(h, '\n'), nil
}

// pythonTuple formats shape as Python's repr of a tuple of ints, which is
// what NumPy parses: (), (3,), (2, 3).
func pythonTuple(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// WriteFileAtomic writes path by calling write on a temporary file in the same
// folder (".<name>.tmp-*", so directory listings and globs skip it), then
// renaming it over path. Readers see the old content or the new, never a
// part; on any error, or a panic in write, the temporary is removed and path
// is left as it was. The file gets mode 0644.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return imageio.WithoutPath(err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
		temporaries.forget(tmp)
	}()
	if err := f.Chmod(0o644); err != nil {
		return imageio.WithoutPath(err)
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return imageio.WithoutPath(err)
	}
	if err := f.Close(); err != nil {
		return imageio.WithoutPath(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return imageio.WithoutPath(err)
	}
	committed = true
	return nil
}

// WritePNG encodes img as PNG, atomically (see WriteFileAtomic).
func WritePNG(path string, img image.Image) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return pngEncoder.Encode(w, img) })
}

// temporaries are the files WriteFileAtomic has created and not yet renamed
// or removed, so that a process about to exit at once (a second Ctrl-C) can
// take them away with it.
var temporaries = &pending{files: map[string]bool{}}

type pending struct {
	mu     sync.Mutex
	files  map[string]bool
	closed bool // RemoveTemporaries ran: no new temporary may appear
}

func createTemp(dir, pattern string) (*os.File, error) {
	temporaries.mu.Lock()
	defer temporaries.mu.Unlock()
	if temporaries.closed {
		return nil, errors.New("write refused: the process is stopping")
	}
	f, err := os.CreateTemp(dir, pattern)
	if err == nil {
		temporaries.files[f.Name()] = true
	}
	return f, err
}

func (p *pending) forget(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.files, name)
}

// RemoveTemporaries deletes the temporaries of writes in progress and refuses
// new ones, for a process that exits next without finishing its writes. A write
// in progress then fails or, if it was renaming, leaves its complete file.
func RemoveTemporaries() {
	temporaries.mu.Lock()
	defer temporaries.mu.Unlock()
	temporaries.closed = true
	for name := range temporaries.files {
		os.Remove(name)
	}
	clear(temporaries.files)
}
