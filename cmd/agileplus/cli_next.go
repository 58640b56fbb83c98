package main

import (
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newNextCmd(e *env) *cobra.Command {
	var (
		q   agileplus.NextRequest
		ttl time.Duration
	)
	var anyLabel bool
	cmd := &cobra.Command{
		Use:   "next [--project P] [--feature F] [--owner O] [--label L]... [--claim --agent A [--ttl 15m]]",
		Short: "Show the best work package to start now; with --claim, claim it in the same step",
		Long: `Show the best work package to start now. The order: ready (planned, every
dependency done) and unclaimed; then priority; then least slack on the
project's critical path; then most open work waiting on it; then key order.
--owner and --label narrow the choice to one owner's work, or to work with
these labels (an agent's skills: all of them, or any with --any-label).

With --claim the choice and the claim are one command on the server, so two
agents asking at once never get the same work package; the fencing token it
prints is needed to move, renew or release it. Nothing ready is no error: it
says so and exits 0.`,
		Example: `  agileplus next --project CORE
  agileplus next --project CORE --claim --agent claude-code --json
  agileplus next --project CORE --label go --label db --any-label`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if anyLabel {
				q.LabelsMode = agileplus.LabelsAny
			}
			if q.Claim {
				if q.Agent == "" {
					q.Agent = e.actor
				}
				if q.Agent == "" {
					return usagef(cmd, "--agent is required with --claim (it defaults to --as, which is empty)")
				}
				secs, err := ttlSeconds(cmd, ttl)
				if err != nil {
					return err
				}
				q.TTLSeconds = secs
			} else if cmd.Flags().Changed("agent") || cmd.Flags().Changed("ttl") {
				return usagef(cmd, "--agent and --ttl go with --claim")
			}
			res, err := e.tracker().Next(cmd.Context(), q)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, res)
			}
			if res.WP == nil {
				_, err := fmt.Fprintln(e.stdout, res.Message)
				return err
			}
			kv := []string{"WP", res.WP.Key, "Title", res.WP.Title, "State", res.WP.State, "Estimate", hours(res.WP.Estimate),
				"Slack", hours(res.Slack), "Unblocks", fmt.Sprint(res.Impact), "Ready", fmt.Sprint(res.Ready)}
			if l := res.Lease; l != nil {
				kv = append(kv, "Claimed by", l.Agent, "Token", fmt.Sprint(l.Token), "Expires", when(l.ExpiresAt)+" ("+untilNow(l.ExpiresAt)+")")
			}
			return fields(e.stdout, kv...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Project, "project", "", "only this project (default: every project)")
	f.StringVar(&q.Feature, "feature", "", "only this feature")
	f.StringVar(&q.Owner, "owner", "", "only work packages this person or agent owns")
	f.StringSliceVar(&q.Labels, "label", nil, "only work packages with this label (repeat or comma-separate: all of them)")
	f.BoolVar(&anyLabel, "any-label", false, "with several --label: any of them is enough")
	f.BoolVar(&q.Claim, "claim", false, "claim the work package in the same command")
	f.StringVar(&q.Agent, "agent", "", "who holds the claim (default: the --as actor)")
	f.DurationVar(&ttl, "ttl", agileplus.DefaultLeaseTTL, "lease length with --claim, e.g. 30m or 2h")
	return cmd
}
