package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newCmdManPages builds the hidden `saliency man-pages DIR`, which `make
// install` and `make dist` run to write one man page per command (saliency.1,
// saliency-explain.1, ...) from the same help text --help prints, so that the
// two cannot drift apart.
func newCmdManPages(root func() *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man-pages DIR",
		Short:  "Write the man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: markRan(func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			tree := root()
			tree.DisableAutoGenTag = true // the pages of one version are byte-identical
			header := &doc.GenManHeader{Title: "SALIENCY", Section: "1", Source: "saliency " + buildVersion(), Manual: "saliency manual"}
			if err := doc.GenManTree(tree, header, args[0]); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			return nil
		}),
	}
}
