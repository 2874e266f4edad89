// Package render turns saliency maps into pictures people can read. A saliency map
// is a row-major []float32 of h*w values in [0,1]; render colours it through a
// perceptual colour table (Colorize), blends it over the image it explains (Overlay),
// and lays originals and their maps out on one contact sheet (Grid), the layout of
// keras-explainable's visualize, so that several explanations can be compared at a
// glance. It is pure Go and draws no text, so it needs no font.
package render
