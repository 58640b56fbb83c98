package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/spf13/cobra"
)

// splitList reads repeatable, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func newWebhookCmd(e *env) *cobra.Command {
	return group("webhook", "Register webhooks that receive events as signed HTTP POSTs",
		newWebhookCreateCmd(e), newWebhookListCmd(e), newWebhookShowCmd(e), newWebhookDeleteCmd(e), newWebhookDeliveriesCmd(e))
}

func newWebhookCreateCmd(e *env) *cobra.Command {
	var project, secret string
	var entities, types []string
	cmd := &cobra.Command{
		Use:   "create URL [--project P] [--entity E] [--type T] [--secret S]",
		Short: "Register a URL to receive the events the filter selects",
		Long: `Register a webhook. From now on every event the filter selects is POSTed to
URL as a CloudEvent (JSON), signed with the secret:

  X-Agileplus-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))
  X-Agileplus-Timestamp: TIMESTAMP (Unix seconds)
  X-Agileplus-Delivery:  the same id on every attempt of one event

A receiver that does not answer 2xx gets the event again after the consumer
backoff (1s, 5s, 30s by default); after the last attempt the event goes to the
dead letters (agileplus deadletters). The secret is printed once; keep it.`,
		Example: `  agileplus webhook create http://127.0.0.1:9000/hook --project CORE --type wp.transitioned
  agileplus webhook create https://ci.example.com/agileplus --entity wp --secret "$SECRET"`,
		Args: argNames("URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.client().CreateWebhook(cmd.Context(), agileplus.WebhookCreate{
				URL: args[0], Secret: secret,
				Filter: agileplus.EventSelector{Project: project, Entities: splitList(entities), Types: splitList(types)},
			})
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, h)
			}
			return fields(e.stdout, "id", h.ID, "url", h.URL, "filter", h.Filter.String(), "secret", h.Secret,
				"consumer", "webhook-"+h.ID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "only events of this project (key)")
	f.StringSliceVar(&entities, "entity", nil, "only events about these entity kinds: project, feature, wp, dependency")
	f.StringSliceVar(&types, "type", nil, "only these event types, e.g. wp.transitioned,wp.claimed")
	f.StringVar(&secret, "secret", "", "HMAC key, 16-256 bytes (default: generated and printed)")
	cmd.RegisterFlagCompletionFunc("entity", cobra.FixedCompletions(agileplus.EntityKinds, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(agileplus.EventTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newWebhookListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List webhooks",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			hs, err := e.client().ListWebhooks(cmd.Context())
			if err != nil {
				return err
			}
			if e.asJSON {
				return printPage(e.stdout, hs, "") // not paged: every webhook
			}
			t := newTable(e.stdout, "ID", "URL", "FILTER", "CREATED")
			for _, h := range hs {
				t.row(h.ID, h.URL, h.Filter.String(), when(h.CreatedAt))
			}
			return t.flush()
		},
	}
}

func newWebhookShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a webhook",
		Args:  argNames("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := e.client().GetWebhook(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, h)
			}
			return fields(e.stdout, "id", h.ID, "url", h.URL, "filter", h.Filter.String(), "created", when(h.CreatedAt),
				"consumer", "webhook-"+h.ID)
		},
	}
}

func newWebhookDeleteCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"rm"},
		Short:   "Delete a webhook, its consumer and its delivery log",
		Args:    argNames("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.client().DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, map[string]any{"id": args[0], "deleted": true})
			}
			_, err := fmt.Fprintf(e.stdout, "deleted %s\n", args[0])
			return err
		},
	}
}

func newWebhookDeliveriesCmd(e *env) *cobra.Command {
	var after uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "deliveries ID [--after SEQ] [--limit N]",
		Short: "Show a webhook's delivery attempts, oldest first",
		Args:  argNames("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := e.client().WebhookDeliveries(cmd.Context(), args[0], after, limit)
			if err != nil {
				return err
			}
			next := nextCursor(ds, limit, func(d *agileplus.WebhookDelivery) string { return strconv.FormatUint(d.Seq, 10) })
			if e.asJSON {
				return printPage(e.stdout, ds, next)
			}
			t := newTable(e.stdout, "SEQ", "TIME", "EVENT", "TYPE", "ATTEMPT", "OUTCOME", "STATUS", "MS", "ERROR")
			for _, d := range ds {
				attempt := strconv.Itoa(d.Attempt)
				if d.Redrive {
					attempt += " (redrive)"
				}
				status := "-"
				if d.StatusCode != 0 {
					status = strconv.Itoa(d.StatusCode)
				}
				t.row(d.Seq, when(d.Time), d.EventID, d.EventType, attempt, d.Outcome, status, fmt.Sprintf("%.1f", d.DurationMS), orDash(clip(d.Error, 80)))
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	afterSeqVar(cmd, &after, "attempts after this cursor: the next of the previous page (a seq)")
	limitVar(cmd, &limit, "attempts")
	return cmd
}

func newDeadLettersCmd(e *env) *cobra.Command {
	return group("deadletters", "Inspect, re-drive and discard events that consumers gave up on",
		newDeadLettersListCmd(e), newDeadLettersRedriveCmd(e), newDeadLettersDiscardCmd(e))
}

func newDeadLettersListCmd(e *env) *cobra.Command {
	var consumer string
	var after uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--consumer NAME] [--after SEQ] [--limit N]",
		Short: "List dead letters, oldest first",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := e.client().DeadLetters(cmd.Context(), consumer, after, limit)
			if err != nil {
				return err
			}
			next := nextCursor(ds, limit, func(d *agileplus.DeadLetter) string { return strconv.FormatUint(d.Seq, 10) })
			if e.asJSON {
				return printPage(e.stdout, ds, next)
			}
			t := newTable(e.stdout, "SEQ", "TIME", "CONSUMER", "REASON", "TRIES", "EVENT", "TYPE", "SUBJECT")
			for _, d := range ds {
				ev, typ, subj := "(expired)", "-", "-"
				if d.Event != nil {
					ev, typ, subj = d.Event.ID, d.Event.Type, d.Event.Subject()
				}
				t.row(d.Seq, when(d.Time), d.Consumer, d.Reason, d.Deliveries, ev, typ, subj)
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	cmd.Flags().StringVar(&consumer, "consumer", "", "only this consumer's, e.g. webhook-whk_...")
	afterSeqVar(cmd, &after, "dead letters after this cursor: the next of the previous page (a seq)")
	limitVar(cmd, &limit, "dead letters")
	return cmd
}

func newDeadLettersRedriveCmd(e *env) *cobra.Command {
	var all bool
	var consumer string
	cmd := &cobra.Command{
		Use:   "redrive SEQ... | --all [--consumer NAME]",
		Short: "Hand dead letters to their consumer again; each is removed when it succeeds",
		Long: `Hand dead letters to their consumer again; each is removed when it
succeeds. Every SEQ is checked before any is re-driven; then each is tried,
and each that cannot be re-driven (not found, say) is reported on its own
line while the others go ahead.`,
		Example: `  agileplus deadletters redrive 12 13
  agileplus deadletters redrive --all --consumer webhook-whk_01jd...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Each redrive may take a webhook attempt's whole timeout, and
			// --all does them one by one: no overall client timeout.
			c := httpapi.NewClient(e.server, httpapi.WithActor(e.actor), httpapi.WithHTTPClient(&http.Client{}))
			var results []*agileplus.RedriveResult
			var errs []error
			switch {
			case all && len(args) > 0:
				return usagef(cmd, "give dead letter seqs or --all, not both")
			case !all && consumer != "":
				return usagef(cmd, "--consumer goes with --all")
			case all:
				r, err := c.RedriveAll(cmd.Context(), consumer)
				if err != nil {
					return err
				}
				results = r.Results
			case len(args) == 0:
				return usagef(cmd, "give the seq of one or more dead letters (agileplus deadletters list), or --all")
			default:
				seqs, err := parseSeqs(cmd, args)
				if err != nil {
					return err
				}
				for _, seq := range seqs {
					r, err := c.Redrive(cmd.Context(), seq)
					if err != nil {
						errs = append(errs, &itemError{item: deadLetterName(seq), err: err})
						continue
					}
					results = append(results, r)
				}
			}
			failed := 0
			for _, r := range results {
				if !r.Delivered {
					failed++
				}
			}
			if err := printRedrive(e, results, failed, len(errs)); err != nil {
				return err
			}
			if failed > 0 {
				errs = append(errs, fmt.Errorf("%d of %d dead letters failed again and stay in the dead-letter stream", failed, len(results)))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "re-drive every dead letter")
	cmd.Flags().StringVar(&consumer, "consumer", "", "with --all: only this consumer's")
	return cmd
}

// printRedrive prints what a redrive did: with --json the results, else a
// table and a count, or nothing when no dead letter was re-driven (the
// errors say why).
func printRedrive(e *env, results []*agileplus.RedriveResult, failed, notTried int) error {
	if e.asJSON {
		return printJSON(e.stdout, listJSON(results))
	}
	if len(results) == 0 {
		return nil
	}
	t := newTable(e.stdout, "SEQ", "CONSUMER", "EVENT", "RESULT")
	for _, r := range results {
		res := "delivered"
		if !r.Delivered {
			res = "failed: " + r.Error
		}
		t.row(r.Seq, r.Consumer, orDash(r.EventID), res)
	}
	if err := t.flush(); err != nil {
		return err
	}
	summary := fmt.Sprintf("%d re-driven, %d failed", len(results)-failed, failed)
	if notTried > 0 {
		summary += fmt.Sprintf(", %d could not be re-driven", notTried)
	}
	_, err := fmt.Fprintln(e.stdout, summary)
	return err
}

// parseSeqs reads dead letter seqs, all of them before anything is done.
func parseSeqs(cmd *cobra.Command, args []string) ([]uint64, error) {
	seqs := make([]uint64, len(args))
	for i, a := range args {
		seq, err := strconv.ParseUint(a, 10, 64)
		if err != nil || seq == 0 {
			return nil, usagef(cmd, "%q is not a dead letter seq (a positive integer)", a)
		}
		seqs[i] = seq
	}
	return seqs, nil
}

func deadLetterName(seq uint64) string { return "dead letter " + strconv.FormatUint(seq, 10) }

// discardFailure is a dead letter discard could not remove, in its --json.
type discardFailure struct {
	Seq   uint64 `json:"seq"`
	Error string `json:"error"`
}

func newDeadLettersDiscardCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "discard SEQ...",
		Short: "Remove dead letters without re-driving them",
		Long: `Remove dead letters without re-driving them. Every SEQ is checked before
any is removed; then each is tried, and each that cannot be removed (not
found, say) is reported on its own line while the others go ahead.`,
		Args: someArgs("SEQ"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(cmd, args)
			if err != nil {
				return err
			}
			discarded := []uint64{}
			var failures []discardFailure
			var errs []error
			for _, seq := range seqs {
				if err := e.client().DiscardDeadLetter(cmd.Context(), seq); err != nil {
					ie := &itemError{item: deadLetterName(seq), err: err}
					errs = append(errs, ie)
					failures = append(failures, discardFailure{Seq: seq, Error: describe(ie)})
					continue
				}
				discarded = append(discarded, seq)
				if !e.asJSON {
					fmt.Fprintf(e.stdout, "discarded %d\n", seq)
				}
			}
			if e.asJSON {
				if err := printJSON(e.stdout, struct {
					Discarded []uint64         `json:"discarded"`
					Failed    []discardFailure `json:"failed,omitempty"`
				}{discarded, failures}); err != nil {
					return err
				}
			}
			if len(errs) > 0 {
				errs = append(errs, fmt.Errorf("%d of %d dead letters discarded", len(discarded), len(seqs)))
			}
			return errors.Join(errs...)
		},
	}
}

// clip shortens s for a table cell (--json has it whole).
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
