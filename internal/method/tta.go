package method

import (
	"slices"
	"strconv"
	"strings"

	"github.com/saliency-tool/saliency/internal/postproc"
)

// augmented wraps any method in test-time augmentation (--tta): the method
// explains augmented views of each image, each view's map is mapped back onto
// the image, and the map is their average (keras-explainable's `tta`, the
// TTA-CAM of its author's work). The views are the image itself and each
// zoom, each of them also mirrored left to right when the spec has "flip":
// keras-explainable's default (scales 0.5, 1.5, 2 and flips) is
// "--tta flip,0.5,1.5,2".
//
// keras-explainable resizes the model's input to zoom; an exported model
// takes one input size, so a zoom here keeps the size and changes what it
// shows: a scale s > 1 shows the central 1/s of the image enlarged to the
// input (zoom in), a scale s < 1 shows the whole image shrunk by s in the
// middle of an input of the model's lowest value (zoom out, black for
// export.py's models). Each view's map, upsampled to the input size (a class
// activation map is coarser), is flipped back and resized onto the part of the
// image the view showed; a pixel's map is the mean over the views that showed
// it (a zoom in shows the centre only; its weight tapers to 0 over the outer
// eighth of what it shows, so that its edge does not show). Resampling is bilinear with half-pixel
// centres (tf.image.resize's rule, as everywhere in this tool). The maps
// averaged are the method's own before normalisation, as --smooth averages
// them; the logits reported are the clean images'.
type augmented struct {
	inner  Method
	flip   bool
	scales []float64 // 1 (the image itself) first
}

// ttaSuffix ends the name of an augmented method: gradcam-tta.
const ttaSuffix = "-tta"

// tta wraps inner when p asks for it.
func tta(inner Method, p Params) (Method, error) {
	if p.TTA == "" {
		return inner, nil
	}
	flip, scales, err := parseTTA(p.TTA)
	if err != nil {
		return nil, err
	}
	return augmented{inner, flip, scales}, nil
}

// parseTTA reads "flip,0.5,2": flips and the zoom scales, 1 first, each once.
func parseTTA(spec string) (flip bool, scales []float64, err error) {
	scales = []float64{1}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "flip" {
			flip = true
			continue
		}
		s, perr := strconv.ParseFloat(f, 64)
		if perr != nil || !(s >= 0.25 && s <= 4) {
			return false, nil, paramError("tta", "%s: %q is neither flip nor a scale from 0.25 to 4", f)
		}
		if !slices.Contains(scales, s) {
			scales = append(scales, s)
		}
	}
	if !flip && len(scales) == 1 {
		return false, nil, paramError("tta", "%s %q adds no view (want flip and/or scales other than 1)", spec)
	}
	return flip, scales, nil
}

func (a augmented) Name() string { return a.inner.Name() + ttaSuffix }

// view is one augmentation: a zoom and a mirror.
type view struct {
	scale float64
	flip  bool
}

func (a augmented) views() []view {
	var vs []view
	for _, s := range a.scales {
		vs = append(vs, view{s, false})
		if a.flip {
			vs = append(vs, view{s, true})
		}
	}
	return vs
}

func (a augmented) Explain(m Model, b Batch) (Result, error) {
	h, w, c := m.InputSize()
	lo, _ := m.InputRange()
	pixels := h * w * c
	res := Result{MapH: h, MapW: w, Logits: make([]float32, b.N*b.K)}
	sums := make([][]float64, b.N*b.K)
	covered := make([][]float64, b.N*b.K)
	for row := range sums {
		sums[row], covered[row] = make([]float64, h*w), make([]float64, h*w)
	}
	shown := b
	shown.Images = make([]float32, len(b.Images))
	for _, v := range a.views() {
		win := v.window(h, w)
		for i := range b.N {
			v.show(b.image(i, pixels), shown.image(i, pixels), h, w, c, win, lo)
		}
		r, err := a.inner.Explain(m, shown)
		if err != nil {
			return res, err
		}
		for row, mp := range r.Maps {
			v.addBack(sums[row], covered[row], postproc.ResizeBilinear(mp, r.MapH, r.MapW, h, w), h, w, win)
		}
	}
	res.Maps = make([][]float32, len(sums))
	for row := range sums {
		mp := make([]float32, h*w)
		for p := range mp {
			mp[p] = float32(sums[row][p] / covered[row][p]) // the image itself covers every pixel
		}
		res.Maps[row] = mp
	}
	return res, cleanLogits(m, b, res.Logits)
}

// window is the rectangle of the image (zoom in) or of the input (zoom out)
// that the other one is resized onto: top, left, height, width. Sides are
// truncated, as keras-explainable's int(scale * size), and centred.
type window struct{ y, x, h, w int }

func (v view) window(h, w int) window {
	f := v.scale
	if f > 1 {
		f = 1 / f
	}
	wh, ww := max(int(f*float64(h)), 1), max(int(f*float64(w)), 1)
	return window{(h - wh) / 2, (w - ww) / 2, wh, ww}
}

// show writes the view of image x (h x w x c) into dst: the window enlarged
// (zoom in) or the image shrunk into the window on a fill of lo (zoom out),
// then mirrored if the view flips.
func (v view) show(x, dst []float32, h, w, c int, win window, lo float32) {
	for ch := range c {
		var plane []float32
		switch {
		case v.scale > 1:
			plane = postproc.ResizeBilinear(channelOf(x, ch, c, win.y, win.x, win.h, win.w, w), win.h, win.w, h, w)
		case v.scale < 1:
			small := postproc.ResizeBilinear(channelOf(x, ch, c, 0, 0, h, w, w), h, w, win.h, win.w)
			plane = make([]float32, h*w)
			for p := range plane {
				plane[p] = lo
			}
			for y := range win.h {
				copy(plane[(win.y+y)*w+win.x:(win.y+y)*w+win.x+win.w], small[y*win.w:(y+1)*win.w])
			}
		default:
			plane = channelOf(x, ch, c, 0, 0, h, w, w)
		}
		for y := range h {
			for xx := range w {
				src := xx
				if v.flip {
					src = w - 1 - xx
				}
				dst[(y*w+xx)*c+ch] = plane[y*w+src]
			}
		}
	}
}

// channelOf copies channel ch of the rows y..y+hh, columns x..x+ww of an
// interleaved image whose rows are w pixels wide.
func channelOf(img []float32, ch, c, y, x, hh, ww, w int) []float32 {
	out := make([]float32, hh*ww)
	for r := range hh {
		for q := range ww {
			out[r*ww+q] = img[((y+r)*w+x+q)*c+ch]
		}
	}
	return out
}

// addBack maps a view's map (h x w, on the view) back onto the image: mirrored
// back, then the window's part of the view resized onto the whole image (zoom
// out) or the whole view resized onto the window (zoom in); each pixel it
// reaches gains the value times the view's weight there, and that weight.
func (v view) addBack(sum, covered []float64, mp []float32, h, w int, win window) {
	if v.flip {
		flipped := make([]float32, len(mp))
		for y := range h {
			for x := range w {
				flipped[y*w+x] = mp[y*w+w-1-x]
			}
		}
		mp = flipped
	}
	switch {
	case v.scale > 1:
		small := postproc.ResizeBilinear(mp, h, w, win.h, win.w)
		ramp := float64(max(min(win.h, win.w)/8, 1))
		for y := range win.h {
			for x := range win.w {
				// The view's weight falls to 0 over the window's outer eighth: a
				// zoomed view's map has another scale than the image's, and a
				// weight that stopped at the window's edge drew the edge into the map.
				edge := min(y, x, win.h-1-y, win.w-1-x)
				wt := min(float64(edge)+0.5, ramp) / ramp
				p := (win.y+y)*w + win.x + x
				sum[p] += wt * float64(small[y*win.w+x])
				covered[p] += wt
			}
		}
		return
	case v.scale < 1:
		mp = postproc.ResizeBilinear(channelOf(mp, 0, 1, win.y, win.x, win.h, win.w, w), win.h, win.w, h, w)
	}
	for p, val := range mp {
		sum[p] += float64(val)
		covered[p]++
	}
}

// CheckInput passes the wrapped method's check on.
func (a augmented) CheckInput(h, w int) error {
	if ic, ok := a.inner.(InputChecker); ok {
		return ic.CheckInput(h, w)
	}
	return nil
}
