package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/saliency-tool/saliency/internal/backprop"
)

// Exit statuses, as documented in the README.
const (
	exitOK     = 0
	exitFailed = 1 // some inputs failed; the rest were processed
	exitUsage  = 2 // bad flags, arguments or model; nothing was processed
)

// IO is the command's standard streams, injected so that tests run commands
// in-process with buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// DefaultIO is the process's own streams.
func DefaultIO() *IO { return &IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// usageError marks errors in what the user asked for, as opposed to failures
// while doing it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errPartial says some inputs failed; each has been reported already.
var errPartial = errors.New("some inputs failed")

// interrupted says a signal stopped the run; it has been reported already.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// exitCode is the shell's convention, 128 + the signal's number.
func (i interrupted) exitCode() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// version is set by the Makefile (-ldflags -X main.version=...).
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "dev"
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(ios *IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "saliency <command>",
		Short: "Explain image classifiers with gradient saliency maps",
		Long: `saliency explains why an image classifier predicted what it did: it runs a
TensorFlow SavedModel on your images, picks the top-K output units, takes the
gradient of each unit's logit with respect to the input pixels (Gradient
Backprop, Simonyan et al. 2013) and writes the result as heatmaps next to the
images.`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Bug reports carry the TensorFlow that was loaded, asked of the C library
	// only when --version is given.
	cobra.AddTemplateFunc("tensorflowVersion", backprop.TensorFlowVersion)
	root.SetVersionTemplate("saliency version {{.Version}}\nTensorFlow {{tensorflowVersion}} (C library)\n")
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(NewCmdExplain(ios, nil), NewCmdEval(ios, nil), NewCmdModels(ios, nil),
		newCmdManPages(func() *cobra.Command { return NewCmdRoot(ios) }))
	return root
}

// Main runs the command line and returns the process exit status.
func Main(args []string, ios *IO) int {
	root := NewCmdRoot(ios)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPartial):
		return exitFailed
	}
	var intr interrupted
	if errors.As(err, &intr) {
		return intr.exitCode()
	}
	var usage usageError
	if errors.As(err, &usage) || !ranCommand(cmd) {
		fmt.Fprintf(ios.ErrOut, "saliency: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(ios.ErrOut, "saliency: %v\n", err)
	return exitFailed
}

// ranCommand tells whether cobra got as far as a command's RunE; errors before
// that (unknown command, wrong number of arguments) are usage errors.
func ranCommand(cmd *cobra.Command) bool {
	return cmd != nil && cmd.Annotations["ran"] == "true"
}

// markRan wraps a RunE so that Main can tell its errors from cobra's own.
func markRan(run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if cmd.Annotations == nil {
			cmd.Annotations = map[string]string{}
		}
		cmd.Annotations["ran"] = "true"
		return run(cmd, args)
	}
}
