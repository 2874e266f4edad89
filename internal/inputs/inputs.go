// Package inputs turns command-line arguments into the list of image files a
// batch works on: files as given, folders expanded to the images in them
// (recursively on request), "-" read from standard input (lines, or NUL-separated
// for find -print0), repeated paths dropped, and, for spreading a job over
// machines, a deterministic shard of the result. It decodes nothing.
package inputs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/saliency-tool/saliency/internal/output"
)

// Options says how to read arguments.
type Options struct {
	Recursive bool      // descend into subfolders of folder arguments
	Null      bool      // stdin paths are NUL-separated, not newline-separated
	Stdin     io.Reader // source of "-"
}

// imageExts are the extensions a folder is searched for, lower case.
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// NoImagesError is a folder argument that holds no input, so that a batch over
// it does not pass for a batch that did its work.
type NoImagesError struct {
	Dir       string
	Recursive bool
}

func (e *NoImagesError) Error() string {
	where := "this folder"
	if e.Recursive {
		where = "this folder or its subfolders"
	}
	return fmt.Sprintf("no images in %s (looked for %s; hidden files and saliency's outputs are not inputs)",
		where, strings.Join(imageExts, ", "))
}

// Collect expands args into image paths, in argument order, without repeats. A
// folder contributes its image files in name order, skipping hidden files and
// the tool's own outputs; a folder that contributes none is returned in empty,
// for the caller to report as a failed argument. A path that does not exist is
// kept, so that the batch reports it in its turn. err is about the arguments
// as a whole (an unreadable folder, "-" twice) and stops the run.
func Collect(args []string, opts Options) (paths []string, empty []*NoImagesError, err error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		key := filepath.Clean(p)
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	usedStdin := false
	for _, a := range args {
		switch {
		case a == "-":
			if usedStdin {
				return nil, nil, fmt.Errorf(`"-" given more than once`)
			}
			usedStdin = true
			paths, err := readPaths(opts.Stdin, opts.Null)
			if err != nil {
				return nil, nil, fmt.Errorf("read paths from stdin: %w", err)
			}
			for _, p := range paths {
				add(p)
			}
		case isDir(a):
			found, err := imagesIn(a, opts.Recursive)
			if err != nil {
				return nil, nil, err
			}
			if len(found) == 0 {
				empty = append(empty, &NoImagesError{Dir: a, Recursive: opts.Recursive})
			}
			for _, p := range found {
				add(p)
			}
		default:
			add(a)
		}
	}
	return out, empty, nil
}

// readPaths reads one path per line (CR and blank lines dropped) or per NUL.
func readPaths(r io.Reader, null bool) ([]string, error) {
	if r == nil {
		return nil, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	if null {
		sc.Split(splitNUL)
	}
	var paths []string
	for sc.Scan() {
		p := sc.Text()
		if !null {
			p = strings.TrimRight(p, "\r")
		}
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, sc.Err()
}

func splitNUL(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// imagesIn lists the image files of dir (and its subfolders if recursive).
func imagesIn(dir string, recursive bool) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", p, unwrapPath(err))
		}
		if d.IsDir() {
			if p != dir && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if isCandidate(d.Name()) {
			found = append(found, p)
		}
		return nil
	})
	return found, err
}

// isCandidate tells whether a file in a folder is an input: an image by its
// extension, not hidden (temporaries are), and not one of saliency's outputs,
// so that re-running over a folder does not explain its own heatmaps.
func isCandidate(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	if !slices.Contains(imageExts, ext) {
		return false
	}
	return !output.IsOutput(name)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

// Shard is one part of a job split over machines: part I of N, 1-based.
type Shard struct{ I, N int }

// ParseShard reads "I/N" with 1 <= I <= N.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("%q: want I/N with 1 <= I <= N, e.g. 2/8", s)
	}
	return Shard{I: i, N: n}, nil
}

// Keep returns the paths that belong to the shard. Membership depends on each
// path alone (a hash of its cleaned form), not on its position, so every
// machine given the same paths in any order agrees on who does what, and the N
// shards are disjoint and cover the input.
func (s Shard) Keep(paths []string) []string {
	if s.N <= 1 {
		return paths
	}
	var out []string
	for _, p := range paths {
		h := fnv.New64a()
		h.Write([]byte(filepath.Clean(p)))
		if int(h.Sum64()%uint64(s.N)) == s.I-1 {
			out = append(out, p)
		}
	}
	return out
}
