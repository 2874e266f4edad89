package postproc

import (
	"fmt"
	"slices"
)

// Filter selects which part of a signed attribution counts, before the channel
// reduction (keras-explainable's absolute_normalize, positive_normalize and
// negative_normalize filters, applied per value).
type Filter int

const (
	// Absolute keeps |a|: evidence for and against the unit alike (the default,
	// keras-explainable's ke.gradients).
	Absolute Filter = iota
	// Positive keeps max(a, 0): what raises the unit.
	Positive
	// Negative keeps max(-a, 0), the magnitude of what lowers the unit.
	// (keras-explainable's filters.negative was at one time written as
	// tf.maximum(x, 0), the same as positive; that is not what this does.)
	Negative
)

var filterNames = []string{"absolute", "positive", "negative"}

func (f Filter) String() string { return filterNames[f] }

// ParseFilter reads a filter name.
func ParseFilter(name string) (Filter, error) {
	i, err := indexOf(filterNames, name, "filter", "absolute, positive or negative")
	return Filter(i), err
}

// indexOf returns name's place in names, or an error naming what was wanted.
func indexOf(names []string, name, kind, want string) (int, error) {
	if i := slices.Index(names, name); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", kind, name, want)
}

func (f Filter) apply(a float32) float32 {
	switch f {
	case Positive:
		return max(a, 0)
	case Negative:
		return max(-a, 0)
	}
	if a < 0 {
		return -a
	}
	return a
}

// Reduce combines a pixel's filtered channels into one value.
type Reduce int

const (
	// Mean averages the channels (keras-explainable).
	Mean Reduce = iota
	// Max takes the largest channel (Simonyan et al. 2013).
	Max
)

var reduceNames = []string{"mean", "max"}

func (r Reduce) String() string { return reduceNames[r] }

// ParseReduce reads a reduction name.
func ParseReduce(name string) (Reduce, error) {
	i, err := indexOf(reduceNames, name, "reduction", "mean or max")
	return Reduce(i), err
}

// Channels says how a per-pixel, per-channel attribution becomes one value per
// pixel. The zero value is the default: absolute values, averaged.
type Channels struct {
	Filter Filter
	Reduce Reduce
}

// Apply reduces an attribution of h*w pixels with c channels each (HWC order) to
// h*w values: the filter on every value, then the reduction over the channels.
func (ch Channels) Apply(attr []float32, h, w, c int) []float32 {
	out := make([]float32, h*w)
	for p := range out {
		px := attr[p*c : (p+1)*c]
		acc := ch.Filter.apply(px[0])
		for _, a := range px[1:] {
			if v := ch.Filter.apply(a); ch.Reduce == Max {
				acc = max(acc, v)
			} else {
				acc += v
			}
		}
		if ch.Reduce == Mean {
			acc /= float32(c)
		}
		out[p] = acc
	}
	return out
}
