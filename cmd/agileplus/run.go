package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/spf13/cobra"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// env is what a command may touch of the outside world; tests pass their own.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	// Flags shared by the client commands.
	server string
	asJSON bool
	actor  string
	// Who the client is (cli_auth.go).
	token      string
	caCert     string
	dataDir    string       // where serve keeps the local key
	httpClient *http.Client // trusting --ca-cert, if given
}

// tracker returns the client of the server named by --server.
func (e *env) tracker() agileplus.Tracker { return e.client() }

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args[1:])
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	// A group's own usage error for an unknown subcommand already suggests
	// the right one; only cobra's top-level error is rewritten.
	if err != nil && !errors.Is(err, errUsage) && strings.HasPrefix(err.Error(), "unknown command ") {
		err = unknownCommand(root, err)
	}
	if err == nil {
		return nil
	}
	ce := &cliError{err: err, msg: describe(err)}
	ce.field, ce.msg = cliTerms(cmd, err, ce.msg)
	if e.asJSON {
		writeJSONError(stderr, ce)
		ce.reported = true
	}
	return ce
}

// cliError is a command's error with its message in the CLI's terms; with
// --json it was reported on stderr as JSON already.
type cliError struct {
	err      error
	msg      string
	field    string // the flag or argument at fault, "" if none
	reported bool
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// report prints what main prints for err, unless --json reported it, and
// returns the exit status.
func report(w io.Writer, err error) int {
	var ce *cliError
	if !errors.As(err, &ce) || !ce.reported {
		fmt.Fprintln(w, "agileplus:", describe(err))
	}
	return exitCode(err)
}

// writeJSONError writes {"error":{"code","message","field"}}: the code of
// the API's errors ("invalid", "not_found", ...; "usage" for a command
// line the CLI refused before asking the server).
func writeJSONError(w io.Writer, ce *cliError) {
	code := agileplus.ErrorCode(ce.err)
	if errors.Is(ce.err, errUsage) {
		code = "usage"
	} else if code == "" {
		code = agileplus.EINTERNAL
	}
	detail := map[string]string{"code": code, "message": ce.msg}
	if ce.field != "" {
		detail["field"] = ce.field
	}
	b, _ := json.Marshal(map[string]any{"error": detail})
	fmt.Fprintf(w, "%s\n", b)
}

// fieldArgs names the positional arguments that carry an API field, where
// no flag of the same name does.
var fieldArgs = map[string]string{"to": "STATE", "from": "FROM", "key": "KEY", "slug": "SLUG", "wp": "WP", "feature": "FEATURE", "project": "PROJECT"}

// cliTerms says what the message of err names in the API's terms in the
// CLI's: the field at fault as the flag (--token) or argument (STATE) of
// cmd that carries it, and a server nobody answers on with how to start
// one. It returns the flag or argument and the message.
func cliTerms(cmd *cobra.Command, err error, msg string) (string, string) {
	var de *agileplus.Error
	if !errors.As(err, &de) {
		return "", msg
	}
	if de.Code == agileplus.EUNAVAILABLE && strings.HasPrefix(de.Message, "cannot reach the server") && (cmd == nil || cmd.Name() != "serve") {
		msg += "; is it running? Start one with: agileplus serve (or name another with --server)"
	}
	if de.Field == "" || cmd == nil {
		return "", msg
	}
	name := strings.ReplaceAll(de.Field, "_", "-")
	term := ""
	if f := cmd.Flags().Lookup(name); f != nil {
		term = "--" + name
	} else if arg, ok := fieldArgs[de.Field]; ok && slices.Contains(strings.Fields(strings.NewReplacer("(", " ", ")", " ", "|", " ").Replace(cmd.Use)), arg) {
		term = arg
	}
	if term == "" {
		return de.Field, msg
	}
	return term, strings.Replace(msg, " (field "+de.Field+")", " ("+term+")", 1)
}

// unknownCommand rewrites cobra's error for an unknown top-level command,
// which spreads its suggestions over several lines, into a usage error of
// one line, as group gives for an unknown subcommand.
func unknownCommand(root *cobra.Command, err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if name, err := strconv.QuotedPrefix(strings.TrimPrefix(msg, "unknown command ")); err == nil {
		if name, err := strconv.Unquote(name); err == nil {
			msg += didYouMean(root, name)
		}
	}
	return &usageError{msg: msg}
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "agileplus",
		Short: "Plan and track software work: projects, features, work packages and their dependencies",
		Long: `AgilePlus plans and tracks software work for developers and coding agents.

Start the server with "agileplus serve"; every other command talks to it
over HTTP (--server, or AGILEPLUS_SERVER).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		// unknownCommand says the suggestions on one line instead.
		DisableSuggestions: true,
	}
	defServer := e.getenv("AGILEPLUS_SERVER")
	if defServer == "" {
		defServer = "http://" + defaultAddr(e.getenv)
	}
	defActor := e.getenv("AGILEPLUS_ACTOR")
	if defActor == "" {
		defActor = e.getenv("USER")
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.server, "server", defServer, "server URL (env AGILEPLUS_SERVER)")
	pf.BoolVar(&e.asJSON, "json", false, "print JSON instead of tables")
	pf.StringVar(&e.actor, "as", defActor, "who makes the change, recorded in events and audit (env AGILEPLUS_ACTOR)")
	pf.StringVar(&e.token, "token", "", "API key token to authenticate with (env AGILEPLUS_TOKEN); else the one login kept for --server, else on loopback the local key in --data")
	pf.StringVar(&e.caCert, "ca-cert", e.getenv("AGILEPLUS_CA_CERT"), "PEM file of a CA to trust for an https --server (env AGILEPLUS_CA_CERT)")
	pf.StringVar(&e.dataDir, "data", cmpOr(e.getenv("AGILEPLUS_DATA_DIR"), "agileplus-data"), "data directory: where serve keeps the local key (env AGILEPLUS_DATA_DIR)")
	root.AddCommand(newServeCmd(e), newMigrateCmd(e), newVersionCmd(e))
	root.AddCommand(newKeyCmd(e), newLoginCmd(e), newLogoutCmd(e), newWhoamiCmd(e), newBoardCmd(e))
	addWorkCommands(root, e)
	root.InitDefaultCompletionCmd()
	if c := subcommand(root, "completion"); c != nil {
		// Cobra's completion command prints help and succeeds when the
		// shell is missing or unknown.
		c.Args, c.RunE = cobra.ArbitraryArgs, unknownSubcommand
	}
	root.SetHelpCommand(newHelpCmd())
	root.SetFlagErrorFunc(flagError)
	walk(root, func(c *cobra.Command) {
		c.Args = usageArgs(c.Args)
		// Cobra suggests only prefixes unless the distance is set, on
		// each command that lists its subcommands.
		c.SuggestionsMinimumDistance = 2
	})
	addNameCompletion(e, root)
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if e.asJSON {
				return printJSON(e.stdout, map[string]string{"version": version})
			}
			_, err := io.WriteString(e.stdout, "agileplus "+version+"\n")
			return err
		},
	}
}

// newHelpCmd replaces cobra's help command, which prints the general usage
// and succeeds when asked about a command that does not exist.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			c, _, err := cmd.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := cmd.Root()
			for i, a := range args {
				sub := subcommand(topic, a)
				if sub == nil {
					return usagef(cmd, "unknown help topic %q%s", strings.Join(args[:i+1], " "), didYouMean(topic, a))
				}
				topic = sub
			}
			return topic.Help()
		},
	}
}

// subcommand returns the subcommand of c called name, or nil.
func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

// checkClientFlags refuses a --server or --as the client cannot use, before
// any request: otherwise the request fails and the mistake is reported as
// an unreachable server.
func (e *env) checkClientFlags(cmd *cobra.Command, _ []string) error {
	if err := httpapi.CheckBaseURL(e.server); err != nil {
		return &usageError{msg: fmt.Sprintf("bad server URL %q (%s): %v; want http:// or https:// and a host, such as http://127.0.0.1:8080",
			e.server, e.flagSource(cmd, "server", "AGILEPLUS_SERVER"), err)}
	}
	if err := httpapi.CheckActor(e.actor); err != nil {
		return &usageError{msg: fmt.Sprintf("bad --as %s (%s): %v", agileplus.QuoteRef(e.actor), e.flagSource(cmd, "as", "AGILEPLUS_ACTOR"), err)}
	}
	return e.checkCACert(cmd)
}

// flagSource says where the value of a client flag came from: the flag, or
// the environment variable that sets its default.
func (e *env) flagSource(cmd *cobra.Command, flag, envVar string) string {
	if f := cmd.Flag(flag); f != nil && f.Changed {
		return "from --" + flag
	}
	switch {
	case e.getenv(envVar) != "":
		return "from " + envVar + "; pass --" + flag + " to override"
	case flag == "server":
		return "made of SERVER_HOST and SERVER_PORT; pass --server to override"
	}
	return "from USER; pass --as to override"
}

// defaultAddr is the server address from SERVER_HOST and SERVER_PORT.
func defaultAddr(getenv func(string) string) string {
	host, port := getenv("SERVER_HOST"), getenv("SERVER_PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "8080"
	}
	return host + ":" + port
}

// exitCode maps an error to the process exit status: 2 for bad usage or
// input, a refused import file too (malformed or in conflict), 1
// otherwise.
func exitCode(err error) int {
	var ie *agileplus.ImportError
	if agileplus.ErrorCode(err) == agileplus.EINVALID || errors.Is(err, errUsage) || errors.As(err, &ie) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

// describe is the message printed for err: the domain message (with the
// field at fault) for domain errors, the whole chain otherwise. A command
// that acts on several items joins their errors; each gets a line, with
// the "agileplus: " main puts before the first.
func describe(err error) string {
	if ce, ok := err.(*cliError); ok {
		return ce.msg
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var lines []string
		for _, e := range j.Unwrap() {
			lines = append(lines, describe(e))
		}
		return strings.Join(lines, "\nagileplus: ")
	}
	if ie, ok := err.(*itemError); ok {
		// The item says what the request field (such as seq) would.
		msg := describe(ie.err)
		var de *agileplus.Error
		if errors.As(ie.err, &de) {
			msg = de.Message
		}
		if strings.Contains(msg, ie.item) {
			return msg
		}
		return ie.item + ": " + msg
	}
	var de *agileplus.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	msg := de.Message
	if de.Field != "" && !strings.Contains(msg, de.Field) {
		msg += " (field " + de.Field + ")"
	}
	// Keep the context a caller wrapped around the domain error; an error
	// that only keeps one underneath says what it means itself.
	if s := err.Error(); s != de.Error() {
		if !strings.HasSuffix(s, de.Error()) {
			return s
		}
		return strings.TrimSuffix(s, de.Error()) + msg
	}
	return msg
}

// itemError is the failure of one item of a command that acts on several,
// such as one dead letter of a redrive. describe names the item once, even
// when the server's message names it too.
type itemError struct {
	item string
	err  error
}

func (e *itemError) Error() string { return e.item + ": " + e.err.Error() }
func (e *itemError) Unwrap() error { return e.err }
