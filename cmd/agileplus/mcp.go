package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/mcpserver"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
)

func newMCPCmd(e *env) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "mcp [--http 127.0.0.1:5000]",
		Short: "Serve the Model Context Protocol for coding agents (stdio, or HTTP with --http)",
		Long: `Serve the Model Context Protocol: the tools next, show, plan, move, claim,
depend, graph, link, events and status for a coding agent.

By default it speaks MCP over stdin and stdout, as agents start it, and sends
every call to the server at --server with your key (--token, AGILEPLUS_TOKEN,
login, or on loopback the local key). With --data given, it opens that data
directory itself when no server holds it (changes reach the event bus the
next time serve runs there), and uses the server otherwise.

With --http it serves streamable HTTP at /mcp and /health on a loopback
address instead. "agileplus serve" serves /mcp too, behind its API keys.`,
		Example: `  claude mcp add agileplus -- agileplus mcp
  agileplus mcp --data ./agileplus-data
  agileplus mcp --http 127.0.0.1:5000`,
		Args: argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if httpAddr != "" {
				if err := checkListenAddr("--http", httpAddr); err != nil {
					return err
				}
				if host, _, _ := net.SplitHostPort(httpAddr); !hostIsLoopback(host) {
					return configErrorf("--http %s is not a loopback address: the standalone MCP server has no keys of its own; use agileplus serve, which serves /mcp behind its API keys", httpAddr)
				}
			}
			t, closeT, err := e.mcpTracker(cmd)
			if err != nil {
				return err
			}
			defer closeT()
			srv := mcpserver.New(t, mcpserver.Options{Version: version, Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			ctx := agileplus.WithActor(cmd.Context(), e.actor)
			if httpAddr == "" {
				err := srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(e.stdin), Writer: nopWriteCloser{e.stdout}})
				if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
					return nil // the agent closed stdin, or we were stopped
				}
				return err
			}
			return serveMCPHTTP(ctx, e, httpAddr, srv)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve streamable HTTP at /mcp on this loopback address instead of stdio")
	return cmd
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// mcpTracker is what the MCP tools call: the data directory itself when
// --data is given and no server holds it, else the server at --server.
func (e *env) mcpTracker(cmd *cobra.Command) (agileplus.Tracker, func(), error) {
	if !cmd.Flags().Changed("data") {
		return e.tracker(), func() {}, nil
	}
	if err := os.MkdirAll(e.dataDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDataDir(e.dataDir)
	var inUse *inUseError
	if errors.As(err, &inUse) {
		return e.tracker(), func() {}, nil // a server runs there: use it
	}
	if err != nil {
		return nil, nil, err
	}
	store, err := sqlitestore.Open(cmd.Context(), sqlitestore.Config{Path: filepath.Join(e.dataDir, "agileplus.db")})
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return agileplus.NewService(store), func() { store.Close(); lock.Close() }, nil
}

// serveMCPHTTP serves srv at /mcp and /health on addr until ctx ends.
func serveMCPHTTP(ctx context.Context, e *env, addr string, srv *mcp.Server) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	mcpHandler := mcpserver.Handler(srv)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		mcpHandler.ServeHTTP(w, r.WithContext(agileplus.WithActor(r.Context(), e.actor)))
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	fmt.Fprintf(e.stdout, "agileplus mcp listening on http://%s/mcp\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		<-done
		return nil
	}
}
