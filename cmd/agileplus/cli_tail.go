package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/spf13/cobra"
)

func newEventsTailCmd(e *env) *cobra.Command {
	var (
		sel   agileplus.EventSelector
		since string
		after int64
	)
	cmd := &cobra.Command{
		Use:   "tail [--project P] [--entity KIND] [--type T] [--since 1h | --after SEQ]",
		Short: "Follow events as they are committed, until interrupted",
		Long: `Follow events as they are committed, until interrupted (Ctrl-C). By default
only new events are shown; --since or --after first replays earlier ones from
the event log. The stream resumes by itself after a dropped connection or a
server restart, without missing or repeating an event.

Each line is SEQ TIME TYPE SUBJECT ACTOR; with --json, one CloudEvent per line.`,
		Example: `  agileplus events tail
  agileplus events tail --project CORE --type wp.transitioned,wp.claimed
  agileplus events tail --since 1h --json
  agileplus events tail --after 0          # everything, then follow`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			switch {
			case flags.Changed("since") && flags.Changed("after"):
				return usagef(cmd, "pass --since or --after, not both")
			case after < 0:
				return usagef(cmd, "--after %d: a global sequence number is 0 or more", after)
			case flags.Changed("since"):
				if _, err := httpapi.ParseSince(since, time.Now()); err != nil {
					return usagef(cmd, "--since %q: want a duration such as 90s or 1h, or an RFC 3339 time such as 2026-03-14T15:09:26Z", since)
				}
			case !flags.Changed("after"):
				// From now on, by the server's clock; the server then
				// sends its position, which a reconnection resumes from.
				since = "0s"
			}
			sel = sel.Normalize()
			if err := sel.Validate(); err != nil {
				return usagef(cmd, "--%s: %s", agileplus.ErrorField(err), agileplus.ErrorMessage(err))
			}

			show := printTailLine(e.stdout)
			if e.asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetEscapeHTML(false)
				show = func(ce *agileplus.CloudEvent) error { return enc.Encode(ce) }
			} else if _, err := fmt.Fprintf(e.stdout, tailFormat, "SEQ", "TIME", "TYPE", "SUBJECT", "ACTOR"); err != nil {
				return err
			}
			client := httpapi.NewClient(e.server, httpapi.WithActor(e.actor))
			err := client.StreamEvents(cmd.Context(), sel, after, since, show)
			if cmd.Context().Err() != nil {
				return nil // interrupted: the way a tail ends
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&sel.Project, "project", "", "only events of this project (key)")
	f.StringSliceVar(&sel.Entities, "entity", nil, "only events about these entity kinds: project, feature, wp, dependency")
	f.StringSliceVar(&sel.Types, "type", nil, "only these event types, e.g. wp.transitioned,wp.claimed")
	f.StringVar(&since, "since", "", "first replay the events from this long ago (90s, 1h) or since this RFC 3339 time")
	f.Int64Var(&after, "after", 0, "first replay the events after this global sequence number (0: all)")
	cmd.RegisterFlagCompletionFunc("entity", cobra.FixedCompletions(agileplus.EntityKinds, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(agileplus.EventTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// tailFormat lays out a tail line: columns padded to the usual widths,
// since a stream cannot be aligned as a whole the way a table is.
const tailFormat = "%-6s  %-23s  %-20s  %-28s  %s\n"

// printTailLine prints an event for people: SEQ TIME TYPE SUBJECT ACTOR,
// the subject named by the entity's key or slug where the event has one.
func printTailLine(w io.Writer) func(*agileplus.CloudEvent) error {
	return func(ce *agileplus.CloudEvent) error {
		ev := ce.Event()
		_, err := fmt.Fprintf(w, tailFormat, strconv.FormatInt(ev.GlobalSeq, 10), when(ev.Time), cell(ev.Type),
			cell(ev.EntityKind+"/"+eventLabel(ev)), cell(orDash(ev.Actor)))
		return err
	}
}
