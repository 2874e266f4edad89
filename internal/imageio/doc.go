// Package imageio knows pixels and files, and nothing about models: it decodes
// input images (JPEG, PNG, GIF, BMP, TIFF, WebP) from bytes or a path,
// refusing any whose declared width*height exceeds a pixel limit before a
// single pixel buffer is allocated, applies a JPEG's EXIF orientation so that
// callers always see the upright image, converts an image to a float32 RGB
// tensor in HWC order with values 0..255 (alpha dropped, straight colour kept,
// resampled with bilinear filtering only when the size differs). Writing is
// internal/output's job. Errors are wrapped with
// %w, never mention the path (callers add it), and match ErrUnsupportedFormat
// or ErrTooLarge where those apply.
package imageio
