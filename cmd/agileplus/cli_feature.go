package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newFeatureCmd(e *env) *cobra.Command {
	return group("feature", "Create, list, show, edit and move features",
		newFeatureCreateCmd(e), newFeatureListCmd(e), newFeatureShowCmd(e), newFeatureUpdateCmd(e), newFeatureMoveCmd(e),
		newCommentCmd(e, "FEATURE"), newFeatureArchiveCmd(e), newFeatureRestoreCmd(e))
}

func newFeatureCreateCmd(e *env) *cobra.Command {
	var c agileplus.FeatureCreate
	cmd := &cobra.Command{
		Use:     "create PROJECT SLUG --title TITLE",
		Short:   "Create a feature in a project; SLUG is unique across projects",
		Example: `  agileplus feature create WEB login-flow --title "Login and signup flow"`,
		Args:    argNames("PROJECT", "SLUG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.Title == "" {
				return usagef(cmd, "--title is required")
			}
			c.Slug = args[1]
			f, err := e.tracker().CreateFeature(cmd.Context(), args[0], c)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, f)
			}
			_, err = fmt.Fprintf(e.stdout, "created feature %s in %s: %s (%s)\n", f.Slug, f.ProjectKey, f.Title, f.State)
			return err
		},
	}
	cmd.Flags().StringVar(&c.Title, "title", "", "title (required)")
	cmd.Flags().StringVar(&c.Description, "description", "", "longer description")
	priorityVar(cmd, &c.Priority, "priority: "+strings.Join(agileplus.Priorities, ", ")+" (default normal)")
	cmd.Flags().StringSliceVar(&c.Labels, "label", nil, "a label (repeat or comma-separate for several)")
	return cmd
}

func newFeatureListCmd(e *env) *cobra.Command {
	var q agileplus.FeatureQuery
	var anyLabel bool
	cmd := &cobra.Command{
		Use:   "list PROJECT [--priority P]... [--label L]... [--any-label] [--sort priority]",
		Short: "List a project's features, by priority or label",
		Long: `List a project's features, by priority or label.
Several --priority values match any of them; several --label values match
features with all of them, or with any of them with --any-label. --sort
priority lists urgent first; its --after cursor is the priority and id the
hint shows.`,
		Example: `  agileplus feature list CORE --priority urgent --priority high --sort priority
  agileplus feature list CORE --label api --label ui --any-label`,
		Args: argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if anyLabel {
				q.LabelsMode = agileplus.LabelsAny
			}
			fs, err := e.tracker().Features(cmd.Context(), args[0], q)
			if err != nil {
				return err
			}
			next := nextCursor(fs, q.Limit, func(f *agileplus.Feature) string { return agileplus.FeatureCursor(f, q.Sort) })
			if e.asJSON {
				return printPage(e.stdout, fs, next)
			}
			if err := printFeatures(e.stdout, fs); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	triageFlags(cmd, "features", &q.Priorities, &q.Labels, &anyLabel, &q.Sort)
	pageFlags(cmd, &q.Page)
	archivedFlags(cmd, &q.Page)
	return cmd
}

func newFeatureShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show FEATURE",
		Short: "Show a feature, its work packages and its dependencies",
		Args:  argNames("FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := e.tracker()
			f, err := t.Feature(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, f)
			}
			ws, err := t.WPs(cmd.Context(), agileplus.WPQuery{Feature: f.ID, Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
			if err != nil {
				return err
			}
			edges, err := t.Dependencies(cmd.Context(), f.Slug)
			if err != nil {
				return err
			}
			if err := fields(e.stdout,
				"Slug", f.Slug,
				"Title", f.Title,
				"Project", f.ProjectKey,
				"State", f.State,
				"Priority", f.Priority,
				"Labels", orDash(strings.Join(f.Labels, ", ")),
				"Archived", archivedField(f.ArchivedAt),
				"Version", strconv.FormatInt(f.Version, 10),
				"Created", when(f.CreatedAt),
				"Updated", when(f.UpdatedAt),
				"ID", f.ID,
			); err != nil {
				return err
			}
			if f.Description != "" {
				fmt.Fprintf(e.stdout, "\n%s\n", strings.TrimRight(f.Description, "\n"))
			}
			if len(edges) > 0 {
				fmt.Fprintln(e.stdout, "\nDependencies")
				if err := printEdges(e.stdout, edges); err != nil {
					return err
				}
			}
			if len(ws) == 0 {
				_, err := fmt.Fprintln(e.stdout, "\nNo work packages yet.")
				return err
			}
			fmt.Fprintln(e.stdout, "\nWork packages")
			return printWPs(e.stdout, ws, map[string]string{f.ID: f.Slug})
		},
	}
}

func newFeatureUpdateCmd(e *env) *cobra.Command {
	var (
		title, description string
		ifVersion          int64
		priority           string
		labels             []string
		clearLabels        bool
	)
	cmd := &cobra.Command{
		Use:   "update FEATURE [--title TITLE] [--description TEXT] [--priority P] [--label L]... [--clear-labels]",
		Short: "Change a feature's title, description, priority or labels",
		Args:  argNames("FEATURE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u agileplus.FeatureUpdate
			if cmd.Flags().Changed("title") {
				u.Title = &title
			}
			if cmd.Flags().Changed("description") {
				u.Description = &description
			}
			if cmd.Flags().Changed("priority") {
				u.Priority = &priority
			}
			var err error
			if u.Labels, err = labelsUpdate(cmd, labels, clearLabels); err != nil {
				return err
			}
			if u == (agileplus.FeatureUpdate{}) {
				return usagef(cmd, "nothing to update: pass --title, --description, --priority, --label or --clear-labels")
			}
			f, err := e.tracker().UpdateFeature(cmd.Context(), args[0], u, ifVersion)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, f)
			}
			_, err = fmt.Fprintf(e.stdout, "updated feature %s: %s (version %d)\n", f.Slug, f.Title, f.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&title, "title", "", "new title")
	cmd.Flags().StringVar(&description, "description", "", "new description")
	priorityVar(cmd, &priority, "new priority: "+strings.Join(agileplus.Priorities, ", "))
	labelsUpdateFlags(cmd, &labels, &clearLabels)
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

func newFeatureMoveCmd(e *env) *cobra.Command {
	var (
		reason    string
		ifVersion int64
	)
	cmd := &cobra.Command{
		Use:   "move FEATURE STATE [--reason TEXT]",
		Short: "Move a feature forward to a later state",
		Long: "Move a feature forward. States, in order: " + strings.Join(agileplus.FeatureStates, ", ") + `.
A feature may skip states; the skipped ones are recorded in its audit trail.`,
		Example:           `  agileplus feature move login-flow planned --reason "research done in the spike"`,
		Args:              argNames("FEATURE", "STATE"),
		ValidArgsFunction: completeArg(1, agileplus.FeatureStates),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := e.tracker().TransitionFeature(cmd.Context(), args[0], agileplus.Transition{To: args[1], Reason: reason}, ifVersion)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, f)
			}
			_, err = fmt.Fprintf(e.stdout, "feature %s is now %s (version %d)\n", f.Slug, f.State, f.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the audit trail")
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}
