package output

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteNPYHeaderAndPayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npy")
	data := []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-3}
	if err := WriteNPY(path, data, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	// 10 bytes of preamble + dict + padding + '\n' = 128, the next multiple of 64.
	want := "\x93NUMPY\x01\x00" + "\x76\x00" + dict + strings.Repeat(" ", 128-10-len(dict)-1) + "\n"
	if string(got[:len(want)]) != want {
		t.Fatalf("header\n%q\nwant\n%q", got[:min(len(got), len(want))], want)
	}
	payload := got[len(want):]
	if len(payload) != 4*len(data) {
		t.Fatalf("payload is %d bytes, want %d", len(payload), 4*len(data))
	}
	for i, v := range data {
		if bits := binary.LittleEndian.Uint32(payload[4*i:]); bits != math.Float32bits(v) {
			t.Errorf("value %d: bits %#x, want %#x", i, bits, math.Float32bits(v))
		}
	}
}

func TestWriteNPYShapes(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		tuple string
	}{
		{[]int{}, "()"},
		{[]int{5}, "(5,)"},
		{[]int{1, 299, 299, 3}, "(1, 299, 299, 3)"},
	} {
		n := 1
		for _, d := range tc.shape {
			n *= d
		}
		h, err := npyHeader(make([]float32, n), tc.shape)
		if err != nil {
			t.Fatal(err)
		}
		if len(h)%64 != 0 || h[len(h)-1] != '\n' {
			t.Errorf("%v: header of %d bytes, ends %q", tc.shape, len(h), h[len(h)-1])
		}
		if int(binary.LittleEndian.Uint16(h[8:])) != len(h)-10 {
			t.Errorf("%v: header length field %d, header %d", tc.shape, binary.LittleEndian.Uint16(h[8:]), len(h)-10)
		}
		if !bytes.Contains(h, []byte("'shape': "+tc.tuple+", }")) {
			t.Errorf("%v: header %q lacks %s", tc.shape, h, tc.tuple)
		}
	}
}

func TestWriteNPYRejectsShapeMismatch(t *testing.T) {
	dir := t.TempDir()
	if err := WriteNPY(filepath.Join(dir, "a.npy"), make([]float32, 5), []int{2, 3}); err == nil {
		t.Error("no error for 5 values in shape (2, 3)")
	}
	assertFiles(t, dir)
}

func TestWriteGrayPNGRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.png")
	m := []float32{0, 1, 0.5, -1, 2, float32(math.NaN()), 0.2, 0.998}
	if err := WriteGrayPNG(path, m, 4, 2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("decoded %T, want *image.Gray", img)
	}
	if g.Rect != image.Rect(0, 0, 4, 2) {
		t.Fatalf("bounds %v", g.Rect)
	}
	want := []byte{0, 255, 128, 0, 255, 0, 51, 254}
	if !bytes.Equal(g.Pix, want) {
		t.Errorf("pixels %v, want %v", g.Pix, want)
	}
	if err := WriteGrayPNG(path, m, 3, 2); err == nil {
		t.Error("no error for 8 values as 3x2")
	}
}

// TestPNGsAtFastestLevel reads the zlib header of the first IDAT chunk of a
// map and of an overlay-like RGB picture: its FLEVEL bits say which level
// wrote the stream (0: fastest; Go's default level writes 2).
func TestPNGsAtFastestLevel(t *testing.T) {
	dir := t.TempDir()
	gray := filepath.Join(dir, "m.png")
	if err := WriteGrayPNG(gray, make([]float32, 64*48), 64, 48); err != nil {
		t.Fatal(err)
	}
	rgb := filepath.Join(dir, "o.png")
	if err := WritePNG(rgb, image.NewNRGBA(image.Rect(0, 0, 64, 48))); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{gray, rgb} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(data, []byte("IDAT"))
		if i < 0 || len(data) < i+6 {
			t.Fatalf("%s: no IDAT chunk", path)
		}
		if level := data[i+5] >> 6; level != 0 {
			t.Errorf("%s: zlib FLEVEL %d, want 0 (fastest)", filepath.Base(path), level)
		}
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, "new")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", info.Mode().Perm())
	}
	assertFiles(t, dir, "out.bin")
}

func TestWriteFileAtomicFailureLeavesTargetAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	// More than bufio's buffer, so part of it reaches the temporary file.
	partial := strings.Repeat("x", 10_000)
	err := WriteFileAtomic(path, func(w io.Writer) error {
		io.WriteString(w, partial)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want the write func's", err)
	}
	assertContent(t, path, "old")
	assertFiles(t, dir, "out.bin")

	func() {
		defer func() { recover() }()
		WriteFileAtomic(path, func(w io.Writer) error { panic("write panicked") })
	}()
	assertContent(t, path, "old")
	assertFiles(t, dir, "out.bin")
}

func TestWriteFileAtomicMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	err := WriteFileAtomic(filepath.Join(dir, "x"), func(io.Writer) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want ErrNotExist", err)
	}
	if err != nil && strings.Contains(err.Error(), dir) {
		t.Errorf("error %q contains the path", err)
	}
}

func assertContent(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("content %.20q, want %q", got, want)
	}
}

// assertFiles checks that dir holds exactly the named files: no temporaries.
func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}

// A process that stops at once removes the temporaries of writes in progress,
// and no write can leave a new one afterwards.
func TestRemoveTemporaries(t *testing.T) {
	defer func() { temporaries = &pending{files: map[string]bool{}} }()
	dir := t.TempDir()
	inWrite, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- WriteFileAtomic(filepath.Join(dir, "a.png"), func(w io.Writer) error {
			close(inWrite)
			<-release
			_, err := w.Write([]byte("late"))
			return err
		})
	}()
	<-inWrite
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".a.png.tmp-") {
		t.Fatalf("while writing: %v, want one temporary", entries)
	}
	RemoveTemporaries()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after RemoveTemporaries: %v", entries)
	}
	close(release)
	if err := <-done; err == nil {
		t.Error("the interrupted write reported success")
	}
	if err := WriteFileAtomic(filepath.Join(dir, "b.png"), func(io.Writer) error { return nil }); err == nil {
		t.Error("a write after RemoveTemporaries succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}
