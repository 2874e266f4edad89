package imageio

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f, ".jpg", ".png", ".gif", ".bmp", ".tiff", ".webp")
	f.Add([]byte{})
	f.Add(pngHeader(100_000, 100_000))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small limit keeps each run fast; the limit is what bounds memory.
		img, format, err := Decode(data, 1<<20)
		if err != nil {
			if img != nil {
				t.Errorf("image %T returned with error %v", img, err)
			}
			return
		}
		if img == nil || img.Bounds().Empty() || format == "" {
			t.Fatalf("nil error with image %v, format %q", img, format)
		}
		b := img.Bounds()
		if got := ToTensor(img, 5, 3); len(got) != 5*3*3 {
			t.Errorf("ToTensor to 5x3 gave %d values", len(got))
		}
		if got := ToTensor(img, b.Dx(), b.Dy()); len(got) != b.Dx()*b.Dy()*3 {
			t.Errorf("ToTensor at native size gave %d values", len(got))
		}
	})
}
