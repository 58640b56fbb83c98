package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

// atVar is the --at flag of a show: the entity as it was then.
func atVar(cmd *cobra.Command, at *string) {
	cmd.Flags().StringVar(at, "at", "", "show it as it was at this global sequence or RFC 3339 time (dependencies are left out)")
}

// showWP reads a WP now, or as it was --at a moment.
func showWP(cmd *cobra.Command, t agileplus.Tracker, ref, at string) (*agileplus.WP, error) {
	if !cmd.Flags().Changed("at") {
		return t.WP(cmd.Context(), ref)
	}
	asOf, err := agileplus.ParseAsOf(at)
	if err != nil {
		return nil, inFlagWords(err, map[string]string{"at": "--at"})
	}
	return t.WPAt(cmd.Context(), ref, asOf)
}

// showDependencies are a WP's dependencies now; a past WP shows none (a
// dependency has a history of its own).
func showDependencies(cmd *cobra.Command, t agileplus.Tracker, w *agileplus.WP, at string) ([]*agileplus.Edge, error) {
	if cmd.Flags().Changed("at") {
		return nil, nil
	}
	return t.Dependencies(cmd.Context(), w.Key)
}

// historyJSON is the --json form of a history page.
type historyJSON struct {
	Items []*agileplus.HistoryEntry `json:"items"`
	Next  string                    `json:"next,omitempty"`
}

func newWPHistoryCmd(e *env) *cobra.Command {
	var q agileplus.HistoryQuery
	cmd := &cobra.Command{
		Use:   "history WP [--after SEQ] [--limit N]",
		Short: "List a work package's changes in order, with who made each and why",
		Long: `List a work package's changes in order: each event's sequence, time,
actor, the reason it was given (a transition's) and the fields it changed.
With --json the answer is {"items": [...], "next": "..."}; pass next as
--after for the next page.`,
		Example: `  agileplus wp history CORE-12
  agileplus wp history CORE-12 --json --limit 20`,
		Args: argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			hs, err := e.tracker().History(cmd.Context(), agileplus.KindWP, args[0], q)
			if err != nil {
				return inFlagWords(err, map[string]string{"after": "--after", "limit": "--limit"})
			}
			next := ""
			if n, limit := len(hs), q.Limit; n > 0 && (n == limit || limit == 0 && n == agileplus.DefaultPageLimit) {
				next = strconv.FormatInt(hs[n-1].GlobalSeq, 10)
			}
			if e.asJSON {
				return printJSON(e.stdout, historyJSON{Items: listJSON(hs), Next: next})
			}
			if len(hs) == 0 {
				_, err := fmt.Fprintln(e.stdout, "no changes")
				return err
			}
			t := newTable(e.stdout, "SEQ", "GLOBAL", "TIME", "ACTOR", "EVENT", "CHANGES", "REASON")
			for _, h := range hs {
				t.row(strconv.FormatInt(h.Seq, 10), strconv.FormatInt(h.GlobalSeq, 10), when(h.Time), h.Actor,
					strings.TrimPrefix(h.Type, agileplus.KindWP+"."), orDash(changeWords(h.Changes)), orDash(h.Reason))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(e.stderr, "(more: pass --after %s)\n", next)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&q.After, "after", 0, "changes after this cursor: the next of the previous page (a global sequence number)")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "at most this many changes (1-1000, default 100)")
	return cmd
}

// changeWords lists the changed fields: "state: planned -> doing, title".
func changeWords(cs []agileplus.FieldChange) string {
	var out []string
	for _, c := range cs {
		switch c.Field {
		case "state", "priority", "owner", "estimate":
			out = append(out, c.Field+": "+strings.Trim(string(c.From), `"`)+" -> "+strings.Trim(string(c.To), `"`))
		default:
			out = append(out, c.Field)
		}
	}
	return strings.Join(out, ", ")
}
