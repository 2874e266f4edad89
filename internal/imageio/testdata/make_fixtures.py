#!/usr/bin/env python3
"""Regenerate the imageio test fixtures with Pillow, an encoder independent of Go.

Run from the repository root:

    .venv/bin/python internal/imageio/testdata/make_fixtures.py

Every image is synthetic: its pixels come from the formulas below, which the Go
tests recompute (see fixtures_test.go), so the files carry no third-party
content. Keep the formulas in step with the Go side.
"""

import os
import struct

from PIL import Image

OUT = os.path.dirname(os.path.abspath(__file__))
W, H = 33, 21  # odd on purpose: exercises chroma subsampling edges and strides


def smooth(x, y):
    """Gradient pattern for lossy JPEGs: red grows along x, green along y,
    so every flip or rotation moves a large error somewhere."""
    r = (x * 255 + 16) // 32
    g = (y * 255 + 10) // 20
    b = 200 - (x * y * 150 + 320) // 640
    return r, g, b


def palette_color(i):
    """Colour of palette index i; 37, 91 and 53 are odd, so the 251 indices
    used give 251 distinct colours."""
    return (i * 37) % 256, (i * 91) % 256, (i * 53) % 256


def index(x, y):
    """Palette index of pixel (x, y); neighbours always differ."""
    return (x + W * y) % 251


def gray(x, y):
    return (x * 7 + y * 11) % 256


def gray16(x, y):
    if (x, y) == (W - 1, H - 1):
        return 65535
    return (x * 1999 + y * 3001) % 65536


def alpha(x, y):
    return (x * 40 + y * 7) % 256


TRANSPARENT_AT = (5, 3)
TRANSPARENT_RGB = (12, 34, 56)
PALETTE_TRANSPARENT_INDEX = 7


def image_from(mode, size, fn):
    im = Image.new(mode, size)
    im.putdata([fn(x, y) for y in range(size[1]) for x in range(size[0])])
    return im


def smooth_image():
    return image_from("RGB", (W, H), smooth)


def block_image():
    return image_from("RGB", (W, H), lambda x, y: palette_color(index(x, y)))


def paletted_image():
    im = image_from("P", (W, H), index)
    flat = []
    for i in range(256):
        flat.extend(palette_color(i))
    im.putpalette(flat)
    return im


def rgba_image():
    def px(x, y):
        if (x, y) == TRANSPARENT_AT:
            return TRANSPARENT_RGB + (0,)
        return palette_color(index(x, y)) + (alpha(x, y),)

    return image_from("RGBA", (W, H), px)


# Inverse of the transform a viewer applies for each EXIF orientation, so that
# viewer(stored) == upright. 2, 3, 4, 5 and 7 are their own inverses.
INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # viewer rotates 90 clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # viewer rotates 90 counter-clockwise
}


def big_endian_exif(orientation):
    """APP1 payload written by hand in Motorola (MM) order, which Pillow does
    not produce itself: one IFD0 entry, Orientation SHORT count 1."""
    tiff = b"MM" + struct.pack(">HI", 42, 8)
    tiff += struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff


def little_endian_exif(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()  # Pillow writes Intel (II) order


def save(im, name, **kw):
    path = os.path.join(OUT, name)
    im.save(path, **kw)
    print(f"{name}: {os.path.getsize(path)} bytes")


def main():
    jpeg = dict(quality=95, subsampling=0)
    up = smooth_image()
    save(up, "rgb.jpg", **jpeg)
    save(up.convert("CMYK"), "cmyk.jpg", **jpeg)
    for o, inv in INVERSE.items():
        exif = big_endian_exif(o) if o % 2 == 0 else little_endian_exif(o)
        save(up.transpose(inv), f"orient{o}.jpg", exif=exif, **jpeg)

    blocks = block_image()
    save(blocks, "rgb.png")
    save(image_from("L", (W, H), gray), "gray.png")
    save(image_from("I;16", (W, H), gray16), "gray16.png")
    save(rgba_image(), "rgba.png")
    save(paletted_image(), "palette.png", transparency=PALETTE_TRANSPARENT_INDEX)
    save(paletted_image(), "pattern.gif")
    save(blocks, "pattern.bmp")
    save(blocks, "pattern.tiff", compression="tiff_lzw")
    save(blocks, "pattern.webp", lossless=True)


if __name__ == "__main__":
    main()
