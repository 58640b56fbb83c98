package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

// addWorkCommands adds the commands that read and change the tracker. Each
// is a thin layer over e.tracker(): parse arguments, make one or a few
// Tracker calls, print the result as a table or, with --json, as the JSON
// of the returned domain values. Before any of them runs, --server and
// --as are checked, so that a mistake in them is a usage error rather than
// a failed request.
func addWorkCommands(root *cobra.Command, e *env) {
	cmds := []*cobra.Command{
		newProjectCmd(e),
		newFeatureCmd(e),
		newWPCmd(e),
		newLabelCmd(e),
		newFlagCmd(e),
		newArtifactCmd(e),
		newDepCmd(e),
		newClaimCmd(e),
		newReadyCmd(e),
		newNextCmd(e),
		newFindCmd(e),
		newMCPCmd(e),
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
		c.PersistentPreRunE = e.checkClientFlags
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
// process exits with status 2, and it shows the command's usage line when
// it has one.
type usageError struct {
	msg, usage string
}

func (u *usageError) Error() string {
	if u.usage == "" {
		return u.msg
	}
	return u.msg + " (usage: " + u.usage + ")"
}

func (u *usageError) Is(target error) bool { return target == errUsage }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), usage: cmd.UseLine()}
}

// flagError makes pflag's errors usage errors; a value our own flag types
// refuse is shown with their message, which names the flag and its range.
func flagError(cmd *cobra.Command, err error) error {
	var bad *badFlagValue
	if errors.As(err, &bad) {
		return &usageError{msg: bad.msg, usage: cmd.UseLine()}
	}
	return &usageError{msg: err.Error(), usage: cmd.UseLine()}
}

// usageArgs makes the errors of an argument validator usage errors: cobra's
// own (NoArgs, MaximumNArgs...) are plain errors, which would exit 1, and
// NoArgs calls an extra argument an unknown command even where there are
// no subcommands.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	if validate == nil {
		return nil // cobra then tells subcommands from arguments itself
	}
	return func(cmd *cobra.Command, args []string) error {
		err := validate(cmd, args)
		switch {
		case err == nil || errors.Is(err, errUsage):
			return err
		case !cmd.HasSubCommands() && len(args) > 0 && strings.HasPrefix(err.Error(), "unknown command "):
			return usagef(cmd, "unexpected argument %q", args[0])
		}
		return usagef(cmd, "%s", err)
	}
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

// optionalArg returns a validator for at most one positional argument.
func optionalArg() cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usagef(cmd, "unexpected argument %q", args[1])
		}
		return nil
	}
}

// someArgs returns a validator for one or more positional arguments.
func someArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef(cmd, "missing %s", name)
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
		RunE:  unknownSubcommand,
	}
	g.AddCommand(subs...)
	return g
}

// unknownSubcommand is the RunE of a command that only holds subcommands.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
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
	u.msg = fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath()) + didYouMean(cmd, args[0])
	return u
}

// didYouMean suggests the subcommands of cmd close to typed, if any.
func didYouMean(cmd *cobra.Command, typed string) string {
	if s := cmd.SuggestionsFor(typed); len(s) > 0 {
		return "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return ""
}

// ttlSeconds converts a --ttl duration to whole seconds, refusing what the
// server would refuse in its own words (ttl_seconds).
func ttlSeconds(cmd *cobra.Command, ttl time.Duration) (int64, error) {
	span := fmt.Sprintf("a lease lasts %s to %s", shortDuration(agileplus.MinLeaseTTL), shortDuration(agileplus.MaxLeaseTTL))
	switch {
	case ttl < agileplus.MinLeaseTTL:
		return 0, usagef(cmd, "--ttl %s is too short: %s", shortDuration(ttl), span)
	case ttl > agileplus.MaxLeaseTTL:
		return 0, usagef(cmd, "--ttl %s is too long: %s", shortDuration(ttl), span)
	}
	return int64(ttl / time.Second), nil
}

// shortDuration writes d without zero minutes and seconds: 168h, not
// 168h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// badFlagValue is how our flag types refuse a value. Its message names the
// flag and what it takes, so flagError shows it without pflag's "invalid
// argument ... for ... flag:" around it.
type badFlagValue struct{ msg string }

func (b *badFlagValue) Error() string { return b.msg }

// estimateFlag is --estimate: hours, a finite number the server accepts.
// Refusing NaN and infinities here matters: JSON cannot carry them.
type estimateFlag struct{ v *float64 }

func (f estimateFlag) String() string { return strconv.FormatFloat(*f.v, 'f', -1, 64) }
func (f estimateFlag) Type() string   { return "hours" }

func (f estimateFlag) Set(s string) error {
	h, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(h) || h < 0 || h > agileplus.MaxEstimate {
		return &badFlagValue{fmt.Sprintf("--estimate must be a number of hours between 0 and %g, not %q", agileplus.MaxEstimate, s)}
	}
	*f.v = h
	return nil
}

func estimateVar(cmd *cobra.Command, v *float64, usage string) {
	cmd.Flags().Var(estimateFlag{v}, "estimate", usage)
}

// intFlag is an integer flag limited to [min, max]; the variable keeps its
// zero value, "not given", until the flag is set.
type intFlag[T int | int64] struct {
	v        *T
	name     string
	min, max int64
	want     string // what the flag takes, for the error
}

func (f intFlag[T]) String() string { return strconv.FormatInt(int64(*f.v), 10) }
func (f intFlag[T]) Type() string   { return "int" }

func (f intFlag[T]) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < f.min || n > f.max {
		return &badFlagValue{fmt.Sprintf("--%s must be %s, not %q", f.name, f.want, s)}
	}
	*f.v = T(n)
	return nil
}

// limitVar adds --limit, the page size the server takes: 1 to MaxPageLimit.
func limitVar(cmd *cobra.Command, v *int, what string) {
	cmd.Flags().Var(intFlag[int]{v: v, name: "limit", min: 1, max: agileplus.MaxPageLimit,
		want: fmt.Sprintf("between 1 and %d", agileplus.MaxPageLimit)},
		"limit", fmt.Sprintf("at most this many %s, 1 to %d (default %d)", what, agileplus.MaxPageLimit, agileplus.DefaultPageLimit))
}

// seqFlag is --after for the lists paged by a uint64 seq. The largest
// uint64 is refused: the server reads from after+1, which would wrap to
// the start.
type seqFlag struct{ v *uint64 }

func (f seqFlag) String() string { return strconv.FormatUint(*f.v, 10) }
func (f seqFlag) Type() string   { return "seq" }

func (f seqFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == math.MaxUint64 {
		return &badFlagValue{fmt.Sprintf("--after must be a seq from 0 to %d, not %q", uint64(math.MaxUint64-1), s)}
	}
	*f.v = n
	return nil
}

func afterSeqVar(cmd *cobra.Command, v *uint64, usage string) {
	cmd.Flags().Var(seqFlag{v}, "after", usage)
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
