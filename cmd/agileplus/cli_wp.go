package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newWPCmd(e *env) *cobra.Command {
	return group("wp", "Create, list, show, edit and move work packages",
		newWPCreateCmd(e), newWPListCmd(e), newWPShowCmd(e), newWPUpdateCmd(e), newWPMoveCmd(e), newWPRefCmd(e),
		newCommentCmd(e, "WP"), newWPArchiveCmd(e), newWPRestoreCmd(e), newWPDeleteCmd(e), newWPHistoryCmd(e))
}

func newWPCreateCmd(e *env) *cobra.Command {
	var c agileplus.WPCreate
	estimate := agileplus.DefaultEstimate
	cmd := &cobra.Command{
		Use:   "create FEATURE --title TITLE [--estimate HOURS] [--priority P] [--label L]... [--owner NAME]",
		Short: "Create a work package in a feature; it gets the project's next key",
		Example: `  agileplus wp create login-flow --title "Login form with inline validation" --estimate 5
  agileplus wp create login-flow --title "Rate-limit logins" --priority high --label go,security --owner ann`,
		Args: argNames("FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.Title == "" {
				return usagef(cmd, "--title is required")
			}
			if cmd.Flags().Changed("estimate") {
				c.Estimate = &estimate
			}
			w, err := e.tracker().CreateWP(cmd.Context(), args[0], c)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, w)
			}
			_, err = fmt.Fprintf(e.stdout, "created %s: %s (%s, %s)\n", w.Key, w.Title, w.State, hours(w.Estimate))
			return err
		},
	}
	cmd.Flags().StringVar(&c.Title, "title", "", "title (required)")
	cmd.Flags().StringVar(&c.Description, "description", "", "longer description")
	estimateVar(cmd, &estimate, "estimate in hours")
	priorityVar(cmd, &c.Priority, "priority: "+strings.Join(agileplus.Priorities, ", ")+" (default normal)")
	cmd.Flags().StringSliceVar(&c.Labels, "label", nil, "a label (repeat or comma-separate for several)")
	cmd.Flags().StringVar(&c.Owner, "owner", "", "who is responsible (a person or agent), apart from any claim")
	return cmd
}

// priorityVar is a --priority flag with completion.
func priorityVar(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVar(p, "priority", "", usage)
	cmd.RegisterFlagCompletionFunc("priority", cobra.FixedCompletions(agileplus.Priorities, cobra.ShellCompDirectiveNoFileComp))
}

func newWPListCmd(e *env) *cobra.Command {
	var q agileplus.WPQuery
	var anyLabel bool
	cmd := &cobra.Command{
		Use:   "list [--project PROJECT] [--feature FEATURE] [--state STATE] [--priority P]... [--label L]... [--owner NAME | --mine] [--sort priority]",
		Short: "List work packages, by project, feature, state, priority, label or owner",
		Long: `List work packages, by project, feature, state, priority, label or owner.
Several --priority values match any of them; several --label values match
WPs with all of them, or with any of them with --any-label. --mine lists
the WPs the actor (--as, or the key's name) owns. --sort priority lists
urgent first; its --after cursor is the priority and id the hint shows.`,
		Example: `  agileplus wp list --project CORE --priority urgent --priority high --sort priority
  agileplus wp list --project CORE --label go --label db --any-label
  agileplus wp list --mine`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if anyLabel {
				q.LabelsMode = agileplus.LabelsAny
			}
			t := e.tracker()
			ws, err := t.WPs(cmd.Context(), q)
			if err != nil {
				return err
			}
			next := nextCursor(ws, q.Limit, func(w *agileplus.WP) string { return agileplus.WPCursor(w, q.Sort) })
			if e.asJSON {
				return printPage(e.stdout, ws, next)
			}
			slugs, err := featureSlugs(cmd.Context(), t, ws)
			if err != nil {
				return err
			}
			if err := printWPs(e.stdout, ws, slugs); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	cmd.Flags().StringVar(&q.Project, "project", "", "only this project's work packages")
	cmd.Flags().StringVar(&q.Feature, "feature", "", "only this feature's work packages")
	cmd.Flags().StringVar(&q.State, "state", "", "only work packages in this state: "+strings.Join(agileplus.WPStates, ", "))
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(agileplus.WPStates, cobra.ShellCompDirectiveNoFileComp))
	triageFlags(cmd, "work packages", &q.Priorities, &q.Labels, &anyLabel, &q.Sort)
	cmd.Flags().StringVar(&q.Owner, "owner", "", "only work packages this person or agent owns")
	cmd.Flags().BoolVar(&q.Mine, "mine", false, "only work packages the actor owns")
	cmd.MarkFlagsMutuallyExclusive("owner", "mine")
	pageFlags(cmd, &q.Page)
	archivedFlags(cmd, &q.Page)
	return cmd
}

// triageFlags are the --priority, --label, --any-label and --sort flags
// that WP and feature lists share; what names the items.
func triageFlags(cmd *cobra.Command, what string, priorities, labels *[]string, anyLabel *bool, sort *string) {
	cmd.Flags().StringSliceVar(priorities, "priority", nil, "only "+what+" with this priority (repeat for any of several)")
	cmd.RegisterFlagCompletionFunc("priority", cobra.FixedCompletions(agileplus.Priorities, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringSliceVar(labels, "label", nil, "only "+what+" with this label (repeat or comma-separate: all of them)")
	cmd.Flags().BoolVar(anyLabel, "any-label", false, "with several --label: any of them is enough")
	cmd.Flags().StringVar(sort, "sort", "", "order: id (default) or priority")
	cmd.RegisterFlagCompletionFunc("sort", cobra.FixedCompletions([]string{agileplus.SortID, agileplus.OrderPriority}, cobra.ShellCompDirectiveNoFileComp))
}

// featureSlugs maps the feature ids of ws to slugs, so tables show names
// people know; it asks once per project.
func featureSlugs(ctx context.Context, t agileplus.Tracker, ws []*agileplus.WP) (map[string]string, error) {
	slugs := map[string]string{}
	var projects []string
	for _, w := range ws {
		if !slices.Contains(projects, w.ProjectKey) {
			projects = append(projects, w.ProjectKey)
		}
	}
	for _, p := range projects {
		fs, err := t.Features(ctx, p, agileplus.FeatureQuery{Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			slugs[f.ID] = f.Slug
		}
	}
	return slugs, nil
}

// wpWithDependencies is the JSON of wp show: the WP's own fields, so it
// decodes into agileplus.WP, plus its dependencies.
type wpWithDependencies struct {
	*agileplus.WP
	Dependencies []*agileplus.Edge `json:"dependencies"`
}

func newWPShowCmd(e *env) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "show WP [--at SEQ|TIME]",
		Short: "Show a work package, its claim and its dependencies",
		Long: `Show a work package, its live claim and its dependencies. With --json it
prints the work package's fields plus "dependencies", the list of edges.`,
		Args: argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := e.tracker()
			w, err := showWP(cmd, t, args[0], at)
			if err != nil {
				return err
			}
			edges, err := showDependencies(cmd, t, w, at)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, wpWithDependencies{WP: w, Dependencies: listJSON(edges)})
			}
			feature := w.FeatureID
			if f, err := t.Feature(cmd.Context(), w.FeatureID); err == nil {
				feature = f.Slug
			} else if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
				return err
			}
			claim := "-"
			if l := w.Lease; l != nil {
				claim = fmt.Sprintf("%s (token %d, expires %s, %s)", l.Agent, l.Token, when(l.ExpiresAt), untilNow(l.ExpiresAt))
			}
			if err := fields(e.stdout,
				"Key", w.Key,
				"Title", w.Title,
				"State", w.State,
				"Estimate", hours(w.Estimate),
				"Priority", w.Priority,
				"Labels", orDash(strings.Join(w.Labels, ", ")),
				"Owner", orDash(w.Owner),
				"Project", w.ProjectKey,
				"Feature", feature,
				"Claimed by", claim,
				"Archived", archivedField(w.ArchivedAt),
				"Version", strconv.FormatInt(w.Version, 10),
				"Created", when(w.CreatedAt),
				"Updated", when(w.UpdatedAt),
				"ID", w.ID,
			); err != nil {
				return err
			}
			if w.Description != "" {
				fmt.Fprintf(e.stdout, "\n%s\n", strings.TrimRight(w.Description, "\n"))
			}
			if len(w.References) > 0 {
				fmt.Fprintln(e.stdout, "\nCode")
				t := newTable(e.stdout, "KIND", "WHERE", "STATE")
				for _, r := range w.References {
					if r.Kind == agileplus.RefCommit {
						t.row("commit", r.Repo+"@"+r.SHA, "-")
					} else {
						t.row("pull request", r.URL, r.State)
					}
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if len(edges) == 0 {
				_, err := fmt.Fprintln(e.stdout, "\nNo dependencies.")
				return err
			}
			fmt.Fprintln(e.stdout, "\nDependencies")
			return printEdges(e.stdout, edges)
		},
	}
	atVar(cmd, &at)
	return cmd
}

func newWPRefCmd(e *env) *cobra.Command {
	var in agileplus.ReferenceCreate
	cmd := &cobra.Command{
		Use:   "ref WP (--sha SHA --repo REPO | --pr URL [--state open|draft|merged|closed])",
		Short: "Link a work package to a commit or a pull request",
		Example: `  agileplus wp ref CORE-12 --sha 3f2a9c1 --repo github.com/acme/api
  agileplus wp ref CORE-12 --pr https://github.com/acme/api/pull/481 --state merged`,
		Args: argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRefFlags(cmd, in); err != nil {
				return err
			}
			r, err := e.tracker().AddReference(cmd.Context(), args[0], in)
			if err != nil {
				return inFlagWords(err, refFlags)
			}
			if e.asJSON {
				return printJSON(e.stdout, r)
			}
			if r.Kind == agileplus.RefCommit {
				_, err = fmt.Fprintf(e.stdout, "%s references commit %s@%s\n", args[0], r.Repo, r.SHA)
			} else {
				_, err = fmt.Fprintf(e.stdout, "%s references pull request %s (%s)\n", args[0], r.URL, r.State)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&in.SHA, "sha", "", "commit hash")
	cmd.Flags().StringVar(&in.Repo, "repo", "", "repository of the commit (or of the pull request)")
	cmd.Flags().StringVar(&in.URL, "pr", "", "pull request URL")
	cmd.Flags().StringVar(&in.State, "state", "", "pull request state: draft, open (default), merged, closed")
	return cmd
}

// refFlags are the flags of wp ref by the request field each sets.
var refFlags = map[string]string{"sha": "--sha", "repo": "--repo", "url": "--pr", "state": "--state", "kind": "--sha or --pr"}

// checkRefFlags says which flags of wp ref are missing or do not go
// together; the server would answer about a kind field the CLI has no flag
// for.
func checkRefFlags(cmd *cobra.Command, in agileplus.ReferenceCreate) error {
	switch {
	case in.SHA != "" && in.URL != "":
		return usagef(cmd, "pass --sha and --repo for a commit, or --pr for a pull request, not both")
	case in.SHA == "" && in.URL == "":
		return usagef(cmd, "missing --sha and --repo (a commit) or --pr (a pull request)")
	case in.SHA != "" && in.Repo == "":
		return usagef(cmd, "--sha needs --repo, the repository of the commit")
	case in.SHA != "" && in.State != "":
		return usagef(cmd, "--state is a pull request's: it goes with --pr, not --sha")
	}
	return nil
}

// inFlagWords names the flag instead of the request field in a domain
// error the server gave about a field, for the fields that flags set.
func inFlagWords(err error, flags map[string]string) error {
	var de *agileplus.Error
	if !errors.As(err, &de) || flags[de.Field] == "" {
		return err
	}
	return &agileplus.Error{Code: de.Code, Message: de.Message + " (" + flags[de.Field] + ")"}
}

func newWPUpdateCmd(e *env) *cobra.Command {
	var (
		title, description string
		estimate           float64
		ifVersion          int64
		priority, owner    string
		labels             []string
		clearLabels        bool
	)
	cmd := &cobra.Command{
		Use:   "update WP [--title TITLE] [--description TEXT] [--estimate HOURS] [--priority P] [--label L]... [--clear-labels] [--owner NAME]",
		Short: "Change a work package's title, description, estimate, priority, labels or owner",
		Long: `Change a work package's title, description, estimate, priority, labels or
owner. --label replaces the labels with those given; --clear-labels removes
them all; --owner "" leaves the work package without an owner.`,
		Args: argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u agileplus.WPUpdate
			if cmd.Flags().Changed("title") {
				u.Title = &title
			}
			if cmd.Flags().Changed("description") {
				u.Description = &description
			}
			if cmd.Flags().Changed("estimate") {
				u.Estimate = &estimate
			}
			if cmd.Flags().Changed("priority") {
				u.Priority = &priority
			}
			if cmd.Flags().Changed("owner") {
				u.Owner = &owner
			}
			var err error
			if u.Labels, err = labelsUpdate(cmd, labels, clearLabels); err != nil {
				return err
			}
			if u == (agileplus.WPUpdate{}) {
				return usagef(cmd, "nothing to update: pass --title, --description, --estimate, --priority, --label, --clear-labels or --owner")
			}
			w, err := e.tracker().UpdateWP(cmd.Context(), args[0], u, ifVersion)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, w)
			}
			_, err = fmt.Fprintf(e.stdout, "updated %s: %s (%s, version %d)\n", w.Key, w.Title, hours(w.Estimate), w.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&title, "title", "", "new title")
	cmd.Flags().StringVar(&description, "description", "", "new description")
	estimateVar(cmd, &estimate, "new estimate in hours")
	priorityVar(cmd, &priority, "new priority: "+strings.Join(agileplus.Priorities, ", "))
	labelsUpdateFlags(cmd, &labels, &clearLabels)
	cmd.Flags().StringVar(&owner, "owner", "", `new owner; "" for none`)
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

// labelsUpdateFlags are --label and --clear-labels of an update.
func labelsUpdateFlags(cmd *cobra.Command, labels *[]string, clear *bool) {
	cmd.Flags().StringSliceVar(labels, "label", nil, "the new labels, replacing the old (repeat or comma-separate)")
	cmd.Flags().BoolVar(clear, "clear-labels", false, "remove every label")
	cmd.MarkFlagsMutuallyExclusive("label", "clear-labels")
}

// labelsUpdate is the labels field of an update from --label and
// --clear-labels: nil when neither is given.
func labelsUpdate(cmd *cobra.Command, labels []string, clear bool) (*[]string, error) {
	switch {
	case clear:
		return &[]string{}, nil
	case cmd.Flags().Changed("label"):
		if len(labels) == 0 {
			return nil, usagef(cmd, "--label needs a label; pass --clear-labels to remove them all")
		}
		return &labels, nil
	}
	return nil, nil
}

func newWPMoveCmd(e *env) *cobra.Command {
	var (
		t         agileplus.Transition
		ifVersion int64
	)
	cmd := &cobra.Command{
		Use:   "move WP STATE [--token N] [--force --reason TEXT]",
		Short: "Move a work package to another state",
		Long: `Move a work package along its states:
  planned -> doing | blocked
  doing   -> review | blocked
  review  -> done | doing
  blocked -> planned | doing
  done is final.

Starting it (to doing) needs every work package it depends on done; --force
with a --reason starts it anyway and the audit trail records why. While the
work package is claimed, pass the claim's fencing token with --token.`,
		Example: `  agileplus wp move CORE-12 doing --token 3
  agileplus wp move CORE-13 doing --force --reason "API contract agreed, mocking CORE-12"`,
		Args:              argNames("WP", "STATE"),
		ValidArgsFunction: completeArg(1, agileplus.WPStates),
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.Force && t.Reason == "" {
				return usagef(cmd, "--force needs a --reason, recorded in the audit trail")
			}
			t.To = args[1]
			w, err := e.tracker().TransitionWP(cmd.Context(), args[0], t, ifVersion)
			if err != nil {
				return forceHint(err)
			}
			if e.asJSON {
				return printJSON(e.stdout, w)
			}
			_, err = fmt.Fprintf(e.stdout, "%s is now %s (version %d)\n", w.Key, w.State, w.Version)
			return err
		},
	}
	cmd.Flags().Int64Var(&t.Token, "token", 0, "fencing token of your claim, required while the work package is claimed")
	cmd.Flags().BoolVar(&t.Force, "force", false, "start even though dependencies are not done (needs --reason)")
	cmd.Flags().StringVar(&t.Reason, "reason", "", "why, recorded in the audit trail")
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

// forceHint puts the flags in the server's advice to "pass force with a
// reason", which speaks of the API's fields.
func forceHint(err error) error {
	var de *agileplus.Error
	if !errors.As(err, &de) || de.Code != agileplus.ERULE || !strings.Contains(de.Message, "pass force") {
		return err
	}
	msg := strings.Replace(de.Message, "pass force with a reason", "pass --force --reason TEXT", 1)
	if msg == de.Message {
		msg += " (flags: --force --reason TEXT)"
	}
	return &agileplus.Error{Code: de.Code, Message: msg, Field: de.Field}
}
