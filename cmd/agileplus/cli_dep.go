package main

import (
	"fmt"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

var dependencyKinds = []string{agileplus.DependsOn, agileplus.Blocks, agileplus.RelatesTo}

func newDepCmd(e *env) *cobra.Command {
	return group("dep", "Add, remove and list dependencies between work packages or features",
		newDepAddCmd(e), newDepRmCmd(e), newDepListCmd(e))
}

func newDepAddCmd(e *env) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "add FROM TO [--kind depends_on|blocks|relates_to]",
		Short: "Record that FROM depends on, blocks, or relates to TO",
		Long: `Record a dependency between two work packages or two features.

  depends_on  FROM cannot start until TO is done (the default)
  blocks      TO cannot start until FROM is done; stored as TO depends_on FROM
  relates_to  a link that blocks nothing

A dependency that would close a cycle is refused, with the cycle named.`,
		Example: `  agileplus dep add WEB-4 CORE-2
  agileplus dep add CORE-7 CORE-9 --kind blocks`,
		Args: argNames("FROM", "TO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.tracker().AddDependency(cmd.Context(), agileplus.DependencyCreate{From: args[0], To: args[1], Kind: kind})
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, d)
			}
			_, err = fmt.Fprintf(e.stdout, "added %s: %s %s %s\n", d.ID, d.FromKey, d.Kind, d.ToKey)
			return err
		},
	}
	cmd.Flags().StringVar(&kind, "kind", agileplus.DependsOn, "depends_on, blocks or relates_to")
	cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(dependencyKinds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newDepRmCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"remove"},
		Short:   "Remove a dependency by id (see dep list)",
		Args:    argNames("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.tracker().RemoveDependency(cmd.Context(), args[0]); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, map[string]any{"id": args[0], "removed": true})
			}
			_, err := fmt.Fprintf(e.stdout, "removed %s\n", args[0])
			return err
		},
	}
}

func newDepListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list WP|FEATURE",
		Short: "List the dependencies of a work package or a feature",
		Args:  argNames("WP|FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			edges, err := e.tracker().Dependencies(cmd.Context(), args[0])
			if err != nil {
				return notFoundAs(err, args[0])
			}
			if e.asJSON {
				return printPage(e.stdout, edges, "") // not paged: every dependency
			}
			return printEdges(e.stdout, edges)
		},
	}
}

// notFoundAs words a dependency list's not found the way show does
// (work package "X" not found), not the server's "wp: no work package".
func notFoundAs(err error, ref string) error {
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		return err
	}
	what, field := "feature", "feature"
	if agileplus.IsWPRef(ref) {
		what, field = "work package", "wp"
	}
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s %s not found", what, agileplus.QuoteRef(ref))}
}
