package main

import (
	"fmt"
	"strconv"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newReadyCmd(e *env) *cobra.Command {
	var pg agileplus.Page
	var order string
	cmd := &cobra.Command{
		Use:   "ready PROJECT [--order key|priority] [--limit N] [--after CURSOR]",
		Short: "List the project's work packages that can start now",
		Long: `List the project's work packages that can start now: planned, every
work package they depend on done, and not claimed. By key number, or with
--order priority urgent first; the --after cursor is then the priority and
key the hint shows (high:CORE-12).`,
		Args: argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := e.tracker()
			ws, err := t.Ready(cmd.Context(), args[0], order, pg)
			if err != nil {
				return err
			}
			if n := len(ws); n > 0 {
				defer moreHint(e.stderr, n, pg.Limit, agileplus.ReadyCursor(ws[n-1], order))
			}
			if e.asJSON {
				return printJSON(e.stdout, listJSON(ws))
			}
			if len(ws) == 0 {
				_, err := fmt.Fprintf(e.stdout, "no work package of %s is ready to start\n", args[0])
				return err
			}
			slugs, err := featureSlugs(cmd.Context(), t, ws)
			if err != nil {
				return err
			}
			tw := newTable(e.stdout, "KEY", "PRIORITY", "EST", "FEATURE", "TITLE")
			for _, w := range ws {
				tw.row(w.Key, w.Priority, hours(w.Estimate), orDash(slugs[w.FeatureID]), w.Title)
			}
			return tw.flush()
		},
	}
	limitVar(cmd, &pg.Limit, "work packages")
	cmd.Flags().StringVar(&pg.After, "after", "", "items after this cursor: the last key of the previous page (priority:key with --order priority)")
	orderVar(cmd, &order)
	return cmd
}

// orderVar is the --order flag of ready and graph layers.
func orderVar(cmd *cobra.Command, order *string) {
	cmd.Flags().StringVar(order, "order", "", "key (default): by key number; priority: urgent first, then by key number")
	cmd.RegisterFlagCompletionFunc("order", cobra.FixedCompletions([]string{agileplus.OrderKey, agileplus.OrderPriority}, cobra.ShellCompDirectiveNoFileComp))
}

func newEventsCmd(e *env) *cobra.Command {
	var q agileplus.EventQuery
	cmd := &cobra.Command{
		Use:   "events [--after SEQ] [--entity REF] [--limit N]",
		Short: "List events in order, after a global sequence number",
		Example: `  agileplus events --entity CORE-12
  agileplus events --after 120 --json
  agileplus events tail --project CORE     # follow new events`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			es, err := e.tracker().Events(cmd.Context(), q)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, listJSON(es))
			}
			t := newTable(e.stdout, "SEQ", "TIME", "ACTOR", "TYPE", "PROJECT", "ENTITY")
			for _, ev := range es {
				t.row(ev.GlobalSeq, when(ev.Time), ev.Actor, ev.Type, ev.ProjectKey, eventLabel(ev))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(es) > 0 {
				moreHint(e.stderr, len(es), q.Limit, strconv.FormatInt(es[len(es)-1].GlobalSeq, 10))
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&q.After, "after", 0, "events after this global sequence number")
	cmd.Flags().StringVar(&q.Entity, "entity", "", "only events of this project, feature, work package or dependency")
	limitVar(cmd, &q.Limit, "events")
	cmd.AddCommand(newEventsTailCmd(e))
	return cmd
}

func newAuditCmd(e *env) *cobra.Command {
	return group("audit", "Read and verify a feature's audit trail",
		newAuditShowCmd(e), newAuditVerifyCmd(e))
}

func newAuditShowCmd(e *env) *cobra.Command {
	var (
		after int64
		limit int
	)
	cmd := &cobra.Command{
		Use:   "show FEATURE [--after SEQ] [--limit N]",
		Short: "Show a feature's audit trail: every change to it and its work packages",
		Args:  argNames("FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			as, err := e.tracker().Audit(cmd.Context(), args[0], after, limit)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, listJSON(as))
			}
			t := newTable(e.stdout, "SEQ", "TIME", "ACTOR", "SUMMARY", "REASON")
			for _, a := range as {
				reason := a.Reason
				if a.Forced {
					reason = "FORCED: " + reason
				}
				t.row(a.Seq, when(a.Time), a.Actor, a.Summary, orDash(reason))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(as) > 0 {
				moreHint(e.stderr, len(as), limit, strconv.FormatInt(as[len(as)-1].Seq, 10))
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "entries after this sequence number")
	limitVar(cmd, &limit, "entries")
	return cmd
}

func newAuditVerifyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "verify FEATURE",
		Short: "Check a feature's audit hash chain; fails if any link is broken",
		Args:  argNames("FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := e.tracker().VerifyAudit(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				if err := printJSON(e.stdout, v); err != nil {
					return err
				}
			} else if v.Valid {
				if _, err := fmt.Fprintf(e.stdout, "audit trail of %s is intact: %d entries, head %s\n", args[0], v.Entries, orDash(v.HeadHash)); err != nil {
					return err
				}
			}
			if !v.Valid {
				return fmt.Errorf("audit trail of %s is broken at entry %d of %d: %s", args[0], v.BrokenAt, v.Entries, v.Problem)
			}
			return nil
		},
	}
}
