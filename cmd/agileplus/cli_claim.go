package main

import (
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newClaimCmd(e *env) *cobra.Command {
	return group("claim", "Take, renew and release leases on work packages",
		newClaimTakeCmd(e), newClaimRenewCmd(e), newClaimReleaseCmd(e))
}

func newClaimTakeCmd(e *env) *cobra.Command {
	var (
		agent string
		ttl   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "take WP [--agent NAME] [--ttl 15m]",
		Short: "Claim a work package; prints the lease's fencing token",
		Long: `Claim a work package for an agent or a person. The lease lasts --ttl unless
renewed. The printed fencing token is needed to renew or release the claim
and to move the work package while it is claimed.`,
		Example: `  agileplus claim take CORE-12 --agent claude-code --ttl 30m`,
		Args:    argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if agent == "" {
				agent = e.actor
			}
			if agent == "" {
				return usagef(cmd, "--agent is required (it defaults to --as, which is empty)")
			}
			secs, err := ttlSeconds(cmd, ttl)
			if err != nil {
				return err
			}
			l, err := e.tracker().Claim(cmd.Context(), args[0], agileplus.ClaimRequest{Agent: agent, TTLSeconds: secs})
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			_, err = fmt.Fprintf(e.stdout, "claimed %s for %s: token %d, expires %s (%s)\n",
				args[0], l.Agent, l.Token, when(l.ExpiresAt), untilNow(l.ExpiresAt))
			return err
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "", "who holds the claim (default: the --as actor)")
	cmd.Flags().DurationVar(&ttl, "ttl", agileplus.DefaultLeaseTTL, "lease length, e.g. 30m or 2h")
	return cmd
}

func newClaimRenewCmd(e *env) *cobra.Command {
	var (
		token int64
		ttl   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "renew WP --token N [--ttl 15m]",
		Short: "Extend a live claim from now by --ttl",
		Args:  argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token <= 0 {
				return usagef(cmd, "--token is required: the fencing token claim take printed")
			}
			secs, err := ttlSeconds(cmd, ttl)
			if err != nil {
				return err
			}
			l, err := e.tracker().Renew(cmd.Context(), args[0], agileplus.ClaimRequest{Token: token, TTLSeconds: secs})
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			_, err = fmt.Fprintf(e.stdout, "renewed %s for %s: token %d, expires %s (%s)\n",
				args[0], l.Agent, l.Token, when(l.ExpiresAt), untilNow(l.ExpiresAt))
			return err
		},
	}
	cmd.Flags().Int64Var(&token, "token", 0, "the claim's fencing token (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", agileplus.DefaultLeaseTTL, "new lease length from now, e.g. 30m or 2h")
	return cmd
}

func newClaimReleaseCmd(e *env) *cobra.Command {
	var token int64
	cmd := &cobra.Command{
		Use:   "release WP --token N",
		Short: "End a live claim",
		Args:  argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token <= 0 {
				return usagef(cmd, "--token is required: the fencing token claim take printed")
			}
			if err := e.tracker().Release(cmd.Context(), args[0], agileplus.ClaimRequest{Token: token}); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, map[string]any{"wp": args[0], "token": token, "released": true})
			}
			_, err := fmt.Fprintf(e.stdout, "released %s (token %d)\n", args[0], token)
			return err
		},
	}
	cmd.Flags().Int64Var(&token, "token", 0, "the claim's fencing token (required)")
	return cmd
}
