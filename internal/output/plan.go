package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/saliency-tool/saliency/internal/render"
)

// Options says where a run's outputs go and which are written.
type Options struct {
	// Dir receives the outputs; empty means next to each input.
	Dir string
	// Method is the name of the method that draws the maps; it is in every
	// output's name unless it is gradients (Name).
	Method string
	// Raw also writes the maps as one float32 NumPy array per input.
	Raw bool
	// Colormap colours the heatmaps; nil or gray writes 8-bit grayscale.
	Colormap *render.Colormap
	// Overlay also writes each heatmap blended over the original.
	Overlay bool
	// OverlayAlpha is the heatmap's weight in the overlay; 0 means 0.5.
	OverlayAlpha float32
	// SkipExisting skips inputs whose outputs all exist already, so that a run
	// resumes where an interrupted one stopped. Units and PerImage say which
	// outputs an input gets.
	SkipExisting bool
	Units        []int // the fixed units every image is explained on; nil: its top PerImage
	PerImage     int   // maps per image
	// Sheet, when set, is the file of one contact sheet of every input
	// explained and its maps (a PNG).
	Sheet string
	// Report, when set, is the file of the run's HTML report (package report
	// writes it; Plan only checks where it goes).
	Report string
}

// Job is one input of a run and where its outputs go.
type Job struct {
	Input string
	Stem  string // the input's name without extension, in the output folder
	// Err refuses the input before any work (its outputs would replace
	// another input's).
	Err error
	// Skipped says SkipExisting found all its outputs.
	Skipped bool
}

// Todo tells whether the job is to be explained.
func (j Job) Todo() bool { return j.Err == nil && !j.Skipped }

// Set is the outputs of one run: a job per input, the inputs that no output
// may replace, and the contact sheet being built.
type Set struct {
	Jobs      []Job
	opts      Options
	protected map[string]bool // the run's inputs, absolute
	sheet     *sheet          // nil: no sheet, or refused
	report    string          // "": no report, or refused
}

// RunFile names a file of the whole run, as opposed to one input's outputs.
type RunFile string

const (
	SheetFile  RunFile = "contact sheet"
	ReportFile RunFile = "report"
)

// RunFileError refuses a file of the whole run before any work.
type RunFileError struct {
	File RunFile
	Path string
	Err  error
}

func (e *RunFileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *RunFileError) Unwrap() error { return e.Err }

// Plan plans the outputs of a run over inputs: repeated inputs count once,
// each input gets a stem, an input whose outputs would replace another's (a.jpg
// and a.png in one folder) is refused, and with SkipExisting an input whose
// outputs all exist is marked skipped. The files of the whole run (the contact
// sheet, the report) are checked against the inputs and each other here,
// before any work: one that would replace an input or the other is not written
// and comes back in refused; the rest of the run goes on.
func Plan(inputs []string, o Options) (s *Set, refused []*RunFileError) {
	s = &Set{opts: o, protected: make(map[string]bool, len(inputs))}
	for _, in := range inputs {
		s.protected[absClean(in)] = true
	}
	s.Jobs = planJobs(inputs, o.Dir)
	if o.SkipExisting {
		for i, j := range s.Jobs {
			s.Jobs[i].Skipped = j.Err == nil && s.complete(j.Stem)
		}
	}
	if o.Sheet != "" {
		if err := s.checkRunFile(o.Sheet); err != nil {
			refused = append(refused, &RunFileError{File: SheetFile, Path: o.Sheet, Err: err})
		} else {
			s.sheet = &sheet{path: o.Sheet, colormap: sheetColormap(o.Colormap)}
		}
	}
	if o.Report != "" {
		err := s.checkRunFile(o.Report)
		if err == nil && o.Sheet != "" && absClean(o.Sheet) == absClean(o.Report) {
			err = errors.New("is also the contact sheet's file")
		}
		if err != nil {
			refused = append(refused, &RunFileError{File: ReportFile, Path: o.Report, Err: err})
		} else {
			s.report = o.Report
		}
	}
	return s, refused
}

// checkRunFile refuses a whole-run file that would replace an input.
func (s *Set) checkRunFile(path string) error {
	if s.protected[absClean(path)] {
		return errors.New("would overwrite an input")
	}
	return nil
}

// Report is the path of the run's report, "" when none was asked for or Plan
// refused it.
func (s *Set) Report() string { return s.report }

// CollisionError refuses an input whose outputs would replace those of
// another input of the run with the same name.
type CollisionError struct{ Other string }

func (e *CollisionError) Error() string {
	return fmt.Sprintf("its outputs would overwrite those of %s (same name)", e.Other)
}

// planJobs drops repeated inputs and assigns output stems; an input whose stem
// another input already claimed is refused.
func planJobs(inputs []string, dir string) []Job {
	seen := map[string]bool{}
	claimed := map[string]string{}
	var jobs []Job
	for _, in := range inputs {
		key := absClean(in)
		if seen[key] {
			continue
		}
		seen[key] = true
		folder := filepath.Dir(in)
		if dir != "" {
			folder = dir
		}
		base := filepath.Base(in)
		stem := filepath.Join(folder, strings.TrimSuffix(base, filepath.Ext(base)))
		var err error
		if other, ok := claimed[absClean(stem)]; ok {
			err = &CollisionError{Other: other}
		} else {
			claimed[absClean(stem)] = in
		}
		jobs = append(jobs, Job{Input: in, Stem: stem, Err: err})
	}
	return jobs
}

// complete tells whether every output an input would get exists already: its
// heatmaps (and overlays, and raw array, when asked for). With top-K units the
// names are not known before the model runs, so K files of each kind must be
// there; the writes are atomic, so a file that exists is whole.
func (s *Set) complete(stem string) bool {
	o := s.opts
	if o.Raw && !exists(s.raw(stem)) {
		return false
	}
	kinds := []string{Heatmap}
	if o.Overlay {
		kinds = append(kinds, Overlay)
	}
	for _, kind := range kinds {
		switch {
		case o.PerImage == 1:
			if !exists(s.image(stem, kind, 0, 1)) {
				return false
			}
		case len(o.Units) > 0:
			for _, u := range o.Units {
				if !exists(s.image(stem, kind, u, o.PerImage)) {
					return false
				}
			}
		default:
			if s.countUnitImages(stem, kind) < o.PerImage {
				return false
			}
		}
	}
	return true
}

// Existing lists the outputs a skipped job already has, as a run that wrote
// them would have recorded them: heatmaps and overlays in unit order (by the
// units given, else by unit number, as the rank of a top-K run's units is not
// in their names), and the raw array.
func (s *Set) Existing(j Job) Files {
	var f Files
	f.Maps = s.existingImages(j.Stem, Heatmap)
	if s.opts.Overlay {
		f.Overlays = s.existingImages(j.Stem, Overlay)
	}
	if s.opts.Raw && exists(s.raw(j.Stem)) {
		f.Raw = s.raw(j.Stem)
	}
	return f
}

func (s *Set) existingImages(stem, kind string) []string {
	o := s.opts
	var names []string
	switch {
	case o.PerImage == 1:
		names = []string{s.image(stem, kind, 0, 1)}
	case len(o.Units) > 0:
		for _, u := range o.Units {
			names = append(names, s.image(stem, kind, u, o.PerImage))
		}
	default:
		for _, u := range s.unitsOnDisk(stem, kind) {
			names = append(names, s.image(stem, kind, u, o.PerImage))
		}
	}
	return slices.DeleteFunc(names, func(p string) bool { return !exists(p) })
}

// countUnitImages counts the images of kind with a unit in their name, for
// stem and the run's method.
func (s *Set) countUnitImages(stem, kind string) int {
	return len(s.unitsOnDisk(stem, kind))
}

// unitsOnDisk lists, in increasing order, the units of the images of kind
// with a unit in their name that exist for stem and the run's method.
func (s *Set) unitsOnDisk(stem, kind string) []int {
	entries, err := os.ReadDir(filepath.Dir(stem))
	if err != nil {
		return nil
	}
	base, tag := filepath.Base(stem), methodTag(s.opts.Method)
	var units []int
	for _, e := range entries {
		got, ok := Parse(e.Name())
		if ok && got.HasUnit && got.Stem == base && got.Kind == kind && got.Method == tag && got.Ext == ".png" {
			units = append(units, got.Unit)
		}
	}
	slices.Sort(units)
	return units
}

// image names the PNG of one map of kind: with its unit when the image gets
// several (k > 1).
func (s *Set) image(stem, kind string, unit, k int) string {
	return Name{Stem: stem, Kind: kind, Method: methodTag(s.opts.Method), Unit: unit, HasUnit: k > 1, Ext: ".png"}.String()
}

// raw names the NumPy array of an input's maps.
func (s *Set) raw(stem string) string {
	return Name{Stem: stem, Kind: Heatmap, Method: methodTag(s.opts.Method), Ext: ".npy"}.String()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
