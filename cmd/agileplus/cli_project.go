package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newProjectCmd(e *env) *cobra.Command {
	return group("project", "Create, list, show and rename projects",
		newProjectCreateCmd(e), newProjectListCmd(e), newProjectShowCmd(e), newProjectUpdateCmd(e),
		newProjectArchiveCmd(e), newProjectRestoreCmd(e))
}

func newProjectCreateCmd(e *env) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "create KEY --name NAME",
		Short:   "Create a project; KEY (e.g. CORE) prefixes its work package keys",
		Example: `  agileplus project create CORE --name "Core platform"`,
		Args:    argNames("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usagef(cmd, "--name is required")
			}
			p, err := e.tracker().CreateProject(cmd.Context(), agileplus.ProjectCreate{Key: args[0], Name: name})
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, p)
			}
			_, err = fmt.Fprintf(e.stdout, "created project %s: %s\n", p.Key, p.Name)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name (required)")
	return cmd
}

func newProjectListCmd(e *env) *cobra.Command {
	var pg agileplus.Page
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := e.tracker().Projects(cmd.Context(), pg)
			if err != nil {
				return err
			}
			next := nextCursor(ps, pg.Limit, func(p *agileplus.Project) string { return p.ID })
			if e.asJSON {
				return printPage(e.stdout, ps, next)
			}
			t := newTable(e.stdout, "KEY", "NAME", "VERSION", "UPDATED", "ID")
			for _, p := range ps {
				t.row(p.Key, p.Name, p.Version, when(p.UpdatedAt), p.ID)
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	pageFlags(cmd, &pg)
	archivedFlags(cmd, &pg)
	return cmd
}

// pageFlags adds --limit and --after for lists ordered by id.
func pageFlags(cmd *cobra.Command, pg *agileplus.Page) {
	limitVar(cmd, &pg.Limit, "items")
	cmd.Flags().StringVar(&pg.After, "after", "", "items after this cursor: the next of the previous page")
}

func newProjectShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show PROJECT",
		Short: "Show a project and its features",
		Args:  argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := e.tracker()
			p, err := t.Project(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, p)
			}
			fs, err := t.Features(cmd.Context(), p.ID, agileplus.FeatureQuery{Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
			if err != nil {
				return err
			}
			if err := fields(e.stdout,
				"Key", p.Key,
				"Name", p.Name,
				"Archived", archivedField(p.ArchivedAt),
				"Version", strconv.FormatInt(p.Version, 10),
				"Created", when(p.CreatedAt),
				"Updated", when(p.UpdatedAt),
				"ID", p.ID,
			); err != nil {
				return err
			}
			if len(fs) == 0 {
				_, err := fmt.Fprintln(e.stdout, "\nNo features yet.")
				return err
			}
			fmt.Fprintln(e.stdout, "\nFeatures")
			return printFeatures(e.stdout, fs)
		},
	}
}

func newProjectUpdateCmd(e *env) *cobra.Command {
	var (
		name      string
		ifVersion int64
	)
	cmd := &cobra.Command{
		Use:   "update PROJECT --name NAME",
		Short: "Rename a project",
		Args:  argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("name") {
				return usagef(cmd, "nothing to update: pass --name")
			}
			p, err := e.tracker().UpdateProject(cmd.Context(), args[0], agileplus.ProjectUpdate{Name: &name}, ifVersion)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, p)
			}
			_, err = fmt.Fprintf(e.stdout, "updated project %s: %s (version %d)\n", p.Key, p.Name, p.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new display name")
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

// ifVersionFlag adds --if-version, the optimistic concurrency guard. Left
// at 0 it is not sent; set, it must be a version, which starts at 1.
func ifVersionFlag(cmd *cobra.Command, v *int64) {
	cmd.Flags().Var(intFlag[int64]{v: v, name: "if-version", min: 1, max: math.MaxInt64, want: "a version, 1 or more"},
		"if-version", "only change it if it is still at this version (else a conflict error)")
}
