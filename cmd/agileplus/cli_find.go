package main

import (
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newFindCmd(e *env) *cobra.Command {
	var (
		q        agileplus.SearchQuery
		anyLabel bool
	)
	cmd := &cobra.Command{
		Use:   "find QUERY... [--project P] [--kind wp|feature] [--state S] [--label L]... [--owner NAME]",
		Short: "Find work packages and features by words in their key, title or description",
		Long: `Find work packages and features by words in their key, title or description.
Every word must match, the last one as a prefix ("logi" finds "login");
punctuation only separates words, so quotes, *, -, : and parentheses
search as plain text. The best first: the one whose key is the query
(CORE-12, login-flow), then those with every word in the title, then the
rest; features before work packages, then key order.

With --json the answer is {"items": [...], "next": "..."}; pass next as
--after for the next page.`,
		Example: `  agileplus find login form
  agileplus find CORE-12
  agileplus find rate limit --project CORE --kind wp --state planned --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(cmd, "missing QUERY")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			q.Q = strings.Join(args, " ")
			if anyLabel {
				q.LabelsMode = agileplus.LabelsAny
			}
			hs, err := e.tracker().Search(cmd.Context(), q)
			if err != nil {
				return err
			}
			next := nextCursor(hs, q.Limit, agileplus.SearchCursor)
			if e.asJSON {
				return printPage(e.stdout, hs, next)
			}
			if len(hs) == 0 {
				_, err := fmt.Fprintln(e.stdout, "nothing found")
				return err
			}
			t := newTable(e.stdout, "KEY", "KIND", "STATE", "MATCH", "TITLE")
			for _, h := range hs {
				t.row(h.Key, h.Kind, h.State, h.Match, h.Title)
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Project, "project", "", "only this project (default: every project)")
	f.StringVar(&q.Kind, "kind", "", "only wp or only feature")
	cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{agileplus.KindWP, agileplus.KindFeature}, cobra.ShellCompDirectiveNoFileComp))
	states := append(append([]string{}, agileplus.WPStates...), agileplus.FeatureStates...)
	f.StringVar(&q.State, "state", "", "only items in this state (a work package or feature state)")
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(states, cobra.ShellCompDirectiveNoFileComp))
	f.StringSliceVar(&q.Labels, "label", nil, "only items with this label (repeat or comma-separate: all of them)")
	f.BoolVar(&anyLabel, "any-label", false, "with several --label: any of them is enough")
	f.StringVar(&q.Owner, "owner", "", "only work packages this person or agent owns")
	limitVar(cmd, &q.Limit, "hits")
	f.StringVar(&q.After, "after", "", "hits after this cursor: the next of the previous page")
	return cmd
}
