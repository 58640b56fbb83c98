package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// tracker returns the client of the server named by --server.
func (e *env) tracker() agileplus.Tracker {
	return httpapi.NewClient(e.server, httpapi.WithActor(e.actor))
}

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args[1:])
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command ") {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
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
	root.AddCommand(newServeCmd(e), newMigrateCmd(e), newVersionCmd(e))
	addWorkCommands(root, e)
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(e.stdout, "agileplus "+version+"\n")
			return err
		},
	}
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
// input, 1 otherwise.
func exitCode(err error) int {
	if agileplus.ErrorCode(err) == agileplus.EINVALID || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

// describe is the message printed for err: the domain message (with the
// field at fault) for domain errors, the whole chain otherwise.
func describe(err error) string {
	var de *agileplus.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	msg := de.Message
	if de.Field != "" && !strings.Contains(msg, de.Field) {
		msg += " (field " + de.Field + ")"
	}
	// Keep the context a caller wrapped around the domain error.
	if s := err.Error(); s != de.Error() {
		return strings.TrimSuffix(s, de.Error()) + msg
	}
	return msg
}
