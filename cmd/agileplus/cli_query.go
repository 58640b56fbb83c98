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
		Use:   "ready [PROJECT] [--order key|priority] [--limit N] [--after CURSOR]",
		Short: "List the work packages that can start now, of a project or of every project",
		Long: `List the work packages that can start now: planned, every work package
they depend on done, and not claimed. Without PROJECT, those of every
unarchived project the key may use, by project key. By key number, or with
--order priority urgent first; the --after cursor is then the priority and
key the hint shows (high:CORE-12).`,
		Example: `  agileplus ready CORE
  agileplus ready --order priority --limit 10`,
		Args: optionalArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := e.tracker()
			project := ""
			if len(args) > 0 {
				project = args[0]
			}
			ws, err := t.Ready(cmd.Context(), project, order, pg)
			if err != nil {
				return err
			}
			next := nextCursor(ws, pg.Limit, func(w *agileplus.WP) string { return agileplus.ReadyCursor(w, order) })
			if e.asJSON {
				return printPage(e.stdout, ws, next)
			}
			defer moreHint(e.stderr, next)
			if len(ws) == 0 {
				where := "of " + project
				if project == "" {
					where = "in any project"
				}
				_, err := fmt.Fprintf(e.stdout, "no work package %s is ready to start\n", where)
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
	cmd.Flags().StringVar(&pg.After, "after", "", "items after this cursor: the next of the previous page (a WP key; priority:key with --order priority)")
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
			next := nextCursor(es, q.Limit, func(ev *agileplus.Event) string { return strconv.FormatInt(ev.GlobalSeq, 10) })
			if e.asJSON {
				return printPage(e.stdout, es, next)
			}
			t := newTable(e.stdout, "SEQ", "TIME", "ACTOR", "TYPE", "PROJECT", "ENTITY")
			for _, ev := range es {
				t.row(ev.GlobalSeq, when(ev.Time), ev.Actor, ev.Type, ev.ProjectKey, eventLabel(ev))
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	cmd.Flags().Int64Var(&q.After, "after", 0, "events after this cursor: the next of the previous page (a global sequence number)")
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
			next := nextCursor(as, limit, func(a *agileplus.AuditEntry) string { return strconv.FormatInt(a.Seq, 10) })
			if e.asJSON {
				return printPage(e.stdout, as, next)
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
			moreHint(e.stderr, next)
			return nil
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "entries after this cursor: the next of the previous page (a sequence number)")
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
