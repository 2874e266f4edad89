package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"

	// Registered for image.Decode; GIF is imported for the same reason.
	_ "image/gif"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// DefaultMaxPixels is the decompression-bomb limit used when a caller passes
// maxPixels <= 0: 100 megapixels is far beyond any camera image a classifier
// needs, yet still decodes in a few hundred MiB.
const DefaultMaxPixels = 100_000_000

// ErrUnsupportedFormat is wrapped by errors for data that is not an image in a
// supported format, or that uses a feature its decoder does not implement.
var ErrUnsupportedFormat = errors.New("unsupported image format")

// ErrTooLarge is wrapped by errors for images whose declared width*height
// exceeds the pixel limit.
var ErrTooLarge = errors.New("image too large")

var errEmptyFile = errors.New("empty file")

// Load reads and decodes the image file at path; see Decode. The error never
// contains path, so that callers can prefix it once.
func Load(path string, maxPixels int) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, WithoutPath(err)
	}
	img, _, err := Decode(data, maxPixels)
	return img, err
}

// WithoutPath strips the paths that os puts into its errors, keeping the
// operation and the cause (so errors.Is(err, fs.ErrNotExist) still holds), so
// that a caller names the file once. Reading here and writing in
// internal/output both use it.
func WithoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("cannot %s: %w", le.Op, le.Err)
	}
	return err
}

// Decode decodes data as JPEG, PNG, GIF (first frame), BMP, TIFF or WebP and
// returns the image with the sniffed format name ("jpeg", "png", ...). The
// declared size is checked against maxPixels (<= 0 means DefaultMaxPixels)
// before decoding. JPEGs come back upright, with their EXIF orientation
// applied.
func Decode(data []byte, maxPixels int) (img image.Image, format string, err error) {
	if len(data) == 0 {
		return nil, "", errEmptyFile
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) {
		return nil, "", fmt.Errorf("%w (not JPEG, PNG, GIF, BMP, TIFF or WebP)", ErrUnsupportedFormat)
	}
	if err != nil {
		return nil, format, fmt.Errorf("decode %s header: %w", format, explain(err))
	}
	if err := checkPixelCount(cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, format, fmt.Errorf("decode %s: %w", format, err)
	}
	// image.Decode, not a bytes.Reader handed to the decoder directly: it
	// wraps the data in a bufio.Reader, which keeps the TIFF decoder from
	// trusting strip byte counts for its allocations (an io.ReaderAt would).
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("decode %s: %w", format, explain(err))
	}
	if format == "gif" {
		img = onScreen(img, cfg.Width, cfg.Height)
	}
	if img.Bounds().Empty() {
		return nil, format, fmt.Errorf("decode %s: image has no pixels", format)
	}
	if format == "jpeg" {
		img = Orient(img, JPEGOrientation(data))
	}
	return img, format, nil
}

// onScreen places a GIF's first frame on the w x h logical screen its header
// declares, as viewers and PIL show it: a frame may cover only part of the
// screen, away from (0, 0). Like PIL, the rest is the frame's transparent
// index if it has one, else index 0.
func onScreen(img image.Image, w, h int) image.Image {
	frame, ok := img.(*image.Paletted)
	screen := image.Rect(0, 0, w, h)
	if !ok || frame.Rect == screen {
		return img
	}
	out := image.NewPaletted(screen, frame.Palette)
	if i := transparentIndex(frame.Palette); i > 0 {
		for p := range out.Pix {
			out.Pix[p] = uint8(i)
		}
	}
	r := frame.Rect.Intersect(screen)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[out.PixOffset(r.Min.X, y):], frame.Pix[frame.PixOffset(r.Min.X, y):][:r.Dx()])
	}
	return out
}

// transparentIndex is the first fully transparent palette entry, which is
// where image/gif puts a frame's transparent colour, or -1.
func transparentIndex(p color.Palette) int {
	for i, c := range p {
		if _, _, _, a := c.RGBA(); a == 0 {
			return i
		}
	}
	return -1
}

// checkPixelCount refuses sizes whose pixel buffers could exhaust memory. It
// divides rather than multiplies so that absurd declared sizes cannot
// overflow.
func checkPixelCount(w, h, maxPixels int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image has no pixels (declared size %dx%d)", w, h)
	}
	if w > maxPixels/h {
		return fmt.Errorf("%w: declared size %dx%d exceeds the limit of %d pixels", ErrTooLarge, w, h, maxPixels)
	}
	return nil
}

// explain makes decoder errors say what a user can act on. Once the format
// is sniffed, a decoder fails either on a feature it does not implement (an
// unsupported format) or on bytes that are missing or wrong; decoders word
// the latter variously ("unexpected EOF", "not enough pixel data"), so say
// it plainly in front.
func explain(err error) error {
	if isUnsupportedFeature(err) {
		return unsupportedFeature{err}
	}
	return fmt.Errorf("truncated or corrupt file: %w", err)
}

func isUnsupportedFeature(err error) bool {
	var je jpeg.UnsupportedError
	var pe png.UnsupportedError
	var te tiff.UnsupportedError
	return errors.As(err, &je) || errors.As(err, &pe) || errors.As(err, &te) ||
		errors.Is(err, bmp.ErrUnsupported)
}

// unsupportedFeature keeps the decoder's own message while also matching
// ErrUnsupportedFormat.
type unsupportedFeature struct{ err error }

func (u unsupportedFeature) Error() string   { return u.err.Error() }
func (u unsupportedFeature) Unwrap() []error { return []error{u.err, ErrUnsupportedFormat} }
