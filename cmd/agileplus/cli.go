package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// addWorkCommands adds the commands that read and change the tracker. Each
// is a thin layer over e.tracker(): parse arguments, make one or a few
// Tracker calls, print the result as a table or, with --json, as the JSON
// of the returned domain values.
func addWorkCommands(root *cobra.Command, e *env) {
	cmds := []*cobra.Command{
		newProjectCmd(e),
		newFeatureCmd(e),
		newWPCmd(e),
		newDepCmd(e),
		newClaimCmd(e),
		newReadyCmd(e),
		newEventsCmd(e),
		newAuditCmd(e),
		newGraphCmd(e),
		newImportCmd(e),
		newExportCmd(e),
		newSeedCmd(e),
		newWebhookCmd(e),
		newDeadLettersCmd(e),
	}
	for _, c := range cmds {
		walk(c, func(c *cobra.Command) { c.SetFlagErrorFunc(flagError) })
	}
	root.AddCommand(cmds...)
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// usageError is a mistake in the command line. It matches errUsage, so the
// process exits with status 2, and it shows the command's usage line.
type usageError struct {
	msg, usage string
}

func (u *usageError) Error() string        { return u.msg + " (usage: " + u.usage + ")" }
func (u *usageError) Is(target error) bool { return target == errUsage }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), usage: cmd.UseLine()}
}

func flagError(cmd *cobra.Command, err error) error {
	return &usageError{msg: err.Error(), usage: cmd.UseLine()}
}

// argNames returns a validator for exactly the named positional arguments.
func argNames(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef(cmd, "missing %s", strings.Join(names[len(args):], " and "))
		case len(args) > len(names):
			return usagef(cmd, "unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// group makes a command that only holds subcommands; run bare or with an
// unknown subcommand it says what exists instead of printing help and
// succeeding.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			u := &usageError{usage: cmd.CommandPath() + " {" + strings.Join(names, "|") + "}"}
			if len(args) == 0 {
				u.msg = "missing command: one of " + strings.Join(names, ", ")
				return u
			}
			u.msg = fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				u.msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return u
		},
	}
	g.AddCommand(subs...)
	return g
}

// ttlSeconds converts a --ttl duration to whole seconds.
func ttlSeconds(cmd *cobra.Command, ttl time.Duration) (int64, error) {
	if ttl < time.Second {
		return 0, usagef(cmd, "--ttl %s is too short: a lease lasts at least 1s", ttl)
	}
	return int64(ttl / time.Second), nil
}

// completeArg completes the positional argument at index i from values.
func completeArg(i int, values []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == i {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}
