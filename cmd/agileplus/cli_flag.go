package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newFlagCmd(e *env) *cobra.Command {
	g := group("flag", "Read and set the flags the platform obeys: WIP limits and the review rule",
		newFlagListCmd(e), newFlagGetCmd(e), newFlagSetCmd(e), newFlagUnsetCmd(e))
	g.Long = `Read and set the flags the platform obeys, globally or, with --project, in one
project, where a project's value overrides the global one. Setting and
unsetting need an admin key.

` + flagTable()
	return g
}

// flagTable lists the known flags for help texts.
func flagTable() string {
	var b strings.Builder
	b.WriteString("Flags:\n")
	for _, d := range agileplus.FlagDefs {
		fmt.Fprintf(&b, "  %s (%s, default %s): %s\n", d.Name, d.Type, d.Default, d.Doc)
	}
	return b.String()
}

// flagWords are the request fields of the flag commands in the CLI's words.
var flagWords = map[string]string{"name": "NAME", "value": "VALUE", "project": "--project"}

func completeFlagNames(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return agileplus.FlagNames(), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// where names a scope in messages.
func where(project string) string {
	if project == "" {
		return "globally"
	}
	return "in " + project
}

func newFlagListCmd(e *env) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List every flag's value in force, where it comes from, and its default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs, err := e.tracker().Flags(cmd.Context(), project)
			if err != nil {
				return inFlagWords(err, flagWords)
			}
			if e.asJSON {
				return printJSON(e.stdout, fs)
			}
			t := newTable(e.stdout, "NAME", "TYPE", "VALUE", "SOURCE", "DEFAULT")
			for _, f := range fs.Flags {
				t.row(f.Name, f.Type, string(f.Value), f.Source, string(f.Default))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "the flags in force in this project instead of the global ones")
	return cmd
}

func newFlagGetCmd(e *env) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:               "get NAME [--project P]",
		Short:             "Print one flag's value in force",
		Args:              argNames("NAME"),
		ValidArgsFunction: completeFlagNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := agileplus.LookupFlag("name", args[0]); err != nil {
				return inFlagWords(err, flagWords)
			}
			fs, err := e.tracker().Flags(cmd.Context(), project)
			if err != nil {
				return inFlagWords(err, flagWords)
			}
			f := fs.Get(args[0])
			if f == nil {
				return fmt.Errorf("the server does not know flag %s", args[0])
			}
			if e.asJSON {
				return printJSON(e.stdout, f)
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", f.Value)
			return err
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "the value in force in this project")
	return cmd
}

func newFlagSetCmd(e *env) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "set NAME VALUE [--project P]",
		Short: "Set a flag, globally or in one project (admin)",
		Example: `  agileplus flag set wip.max_claims_per_agent 3
  agileplus flag set workflow.require_review false --project CORE`,
		Args:              argNames("NAME", "VALUE"),
		ValidArgsFunction: completeFlagNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := agileplus.LookupFlag("name", args[0])
			if err != nil {
				return inFlagWords(err, flagWords)
			}
			v, err := d.FromText("value", args[1])
			if err != nil {
				return inFlagWords(err, flagWords)
			}
			return e.changeFlag(cmd, project, args[0], agileplus.FlagsUpdate{Set: map[string]json.RawMessage{args[0]: v}})
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "set it in this project, over the global value")
	return cmd
}

func newFlagUnsetCmd(e *env) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:               "unset NAME [--project P]",
		Short:             "Remove a flag's value: the global one (or the default) applies again (admin)",
		Args:              argNames("NAME"),
		ValidArgsFunction: completeFlagNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := agileplus.LookupFlag("name", args[0]); err != nil {
				return inFlagWords(err, flagWords)
			}
			return e.changeFlag(cmd, project, args[0], agileplus.FlagsUpdate{Unset: []string{args[0]}})
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "remove the project's own value")
	return cmd
}

// changeFlag sends u and prints the flag name as it now is.
func (e *env) changeFlag(cmd *cobra.Command, project, name string, u agileplus.FlagsUpdate) error {
	fs, err := e.tracker().SetFlags(cmd.Context(), project, u)
	if err != nil {
		return inFlagWords(err, map[string]string{"set." + name: "VALUE", "unset[0]": "NAME", "project": "--project"})
	}
	f := fs.Get(name)
	if f == nil {
		return fmt.Errorf("the server does not know flag %s", name)
	}
	if e.asJSON {
		return printJSON(e.stdout, f)
	}
	_, err = fmt.Fprintf(e.stdout, "%s is %s %s (%s)\n", name, f.Value, where(project), f.Source)
	return err
}
