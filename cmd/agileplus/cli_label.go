package main

import (
	"fmt"
	"strconv"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newLabelCmd(e *env) *cobra.Command {
	g := group("label", "Define a project's labels: a colour and what each means",
		newLabelCreateCmd(e), newLabelListCmd(e), newLabelShowCmd(e), newLabelUpdateCmd(e), newLabelDeleteCmd(e))
	g.Long = `Define a project's labels: a colour and what each means. Work packages and
features take any label (wp create --label go); a definition only describes one.`
	return g
}

func newLabelCreateCmd(e *env) *cobra.Command {
	var c agileplus.LabelCreate
	cmd := &cobra.Command{
		Use:     "create PROJECT NAME [--color #RRGGBB] [--description TEXT]",
		Short:   "Define a label in a project",
		Example: `  agileplus label create CORE go --color "#00add8" --description "Go code"`,
		Args:    argNames("PROJECT", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.Name = args[1]
			l, err := e.tracker().CreateLabel(cmd.Context(), args[0], c)
			if err != nil {
				return inFlagWords(err, labelFlags)
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			_, err = fmt.Fprintf(e.stdout, "defined label %s in %s\n", l.Name, l.ProjectKey)
			return err
		},
	}
	cmd.Flags().StringVar(&c.Color, "color", "", "colour as #rrggbb")
	cmd.Flags().StringVar(&c.Description, "description", "", "what the label means")
	return cmd
}

// labelFlags are the flags of the label commands by the request field each sets.
var labelFlags = map[string]string{"color": "--color", "description": "--description", "name": "NAME", "label": "NAME"}

func newLabelListCmd(e *env) *cobra.Command {
	var pg agileplus.Page
	cmd := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's label definitions by name",
		Args:  argNames("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ls, err := e.tracker().Labels(cmd.Context(), args[0], pg)
			if err != nil {
				return err
			}
			next := nextCursor(ls, pg.Limit, func(l *agileplus.LabelDef) string { return l.Name })
			if e.asJSON {
				return printPage(e.stdout, ls, next)
			}
			if len(ls) == 0 {
				_, err := fmt.Fprintf(e.stdout, "no label is defined in %s\n", args[0])
				return err
			}
			t := newTable(e.stdout, "NAME", "COLOR", "DESCRIPTION")
			for _, l := range ls {
				t.row(l.Name, orDash(l.Color), orDash(l.Description))
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	limitVar(cmd, &pg.Limit, "labels")
	cmd.Flags().StringVar(&pg.After, "after", "", "labels after this cursor: the next of the previous page (the last name)")
	return cmd
}

func newLabelShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show PROJECT NAME",
		Short: "Show a label definition",
		Args:  argNames("PROJECT", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := e.tracker().Label(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			return fields(e.stdout,
				"Name", l.Name,
				"Project", l.ProjectKey,
				"Color", orDash(l.Color),
				"Description", orDash(l.Description),
				"Version", strconv.FormatInt(l.Version, 10),
				"Created", when(l.CreatedAt),
				"Updated", when(l.UpdatedAt),
				"ID", l.ID,
			)
		},
	}
}

func newLabelUpdateCmd(e *env) *cobra.Command {
	var (
		color, description string
		ifVersion          int64
	)
	cmd := &cobra.Command{
		Use:   "update PROJECT NAME [--color #RRGGBB] [--description TEXT]",
		Short: `Change a label definition's colour or description (--color "" removes the colour)`,
		Args:  argNames("PROJECT", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u agileplus.LabelUpdate
			if cmd.Flags().Changed("color") {
				u.Color = &color
			}
			if cmd.Flags().Changed("description") {
				u.Description = &description
			}
			if u == (agileplus.LabelUpdate{}) {
				return usagef(cmd, "nothing to update: pass --color or --description")
			}
			l, err := e.tracker().UpdateLabel(cmd.Context(), args[0], args[1], u, ifVersion)
			if err != nil {
				return inFlagWords(err, labelFlags)
			}
			if e.asJSON {
				return printJSON(e.stdout, l)
			}
			_, err = fmt.Fprintf(e.stdout, "updated label %s in %s (version %d)\n", l.Name, l.ProjectKey, l.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&color, "color", "", `new colour as #rrggbb; "" for none`)
	cmd.Flags().StringVar(&description, "description", "", "new description")
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

func newLabelDeleteCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "delete PROJECT NAME",
		Short: "Remove a label definition; work packages and features keep the label",
		Args:  argNames("PROJECT", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.tracker().DeleteLabel(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, map[string]string{"deleted": args[1]})
			}
			_, err := fmt.Fprintf(e.stdout, "removed the definition of label %s from %s\n", args[1], args[0])
			return err
		},
	}
}
