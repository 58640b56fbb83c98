package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/poll"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startMCPStdio runs agileplus mcp in-process with args and connects a Go
// SDK client to its stdin and stdout.
func startMCPStdio(t *testing.T, args ...string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	go func() {
		done <- run(ctx, append([]string{"agileplus"}, args...), getenv, inR, outW, io.Discard)
		outW.Close()
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		cancel()
		t.Fatalf("connect: %v (mcp: %v)", err, <-done)
	}
	t.Cleanup(func() {
		cs.Close()
		inW.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mcp returned %v", err)
			}
		case <-time.After(poll.Timeout):
			t.Errorf("mcp did not stop when stdin closed")
		}
		cancel()
	})
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func TestMCPStdioAgainstServer(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "MCP", "--name", "MCP")
	cliOK(t, url, "feature", "create", "MCP", "mcp-f", "--title", "F")
	cliOK(t, url, "wp", "create", "mcp-f", "--title", "One")
	cs := startMCPStdio(t, "--server", url, "--as", "agent-x", "mcp")
	text, isErr := callText(t, cs, "next", map[string]any{"project": "MCP", "claim": true, "agent": "bot"})
	if isErr || !strings.Contains(text, "MCP-1") || !strings.Contains(text, "token 1") {
		t.Fatalf("next over stdio: %q (error %v)", text, isErr)
	}
	// The change went through the server, attributed to the key and --as.
	out := cliOK(t, url, "events", "--entity", "MCP-1")
	if !strings.Contains(out, "claimed") || !strings.Contains(out, "agent-x") {
		t.Errorf("events of MCP-1:\n%s", out)
	}
}

func TestMCPStdioOnDataDir(t *testing.T) {
	dir := t.TempDir()
	cs := startMCPStdio(t, "--data", dir, "mcp")
	if text, isErr := callText(t, cs, "next", nil); isErr || !strings.Contains(text, "nothing is ready in any project") {
		t.Errorf("next on an empty directory: %q", text)
	}
	text, isErr := callText(t, cs, "plan", map[string]any{"feature": "local", "project": "LOC", "wps": []any{map[string]any{"title": "A"}}})
	if !isErr || !strings.Contains(text, "LOC") {
		t.Errorf("plan in a missing project: %q, want an error naming LOC", text)
	}
	text, isErr = callText(t, cs, "status", map[string]any{"project": "NONE"})
	if !isErr || !strings.Contains(text, "not_found") {
		t.Errorf("status of a missing project: %q", text)
	}
	// The directory is held: serve cannot open it meanwhile.
	_, _, err := runCLI(t, "http://127.0.0.1:1", "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("serve on the directory mcp holds: %v, want in use", err)
	}
}

func TestMCPHTTPStandalone(t *testing.T) {
	if err := cliFails(t, "http://127.0.0.1:1", "mcp", "--http", "0.0.0.0:5000"); !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("--http on a wildcard: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"agileplus", "--data", t.TempDir(), "mcp", "--http", "127.0.0.1:0"}, func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mcp --http returned %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	endpoint := strings.TrimSpace(strings.TrimPrefix(line, "agileplus mcp listening on "))
	base := strings.TrimSuffix(endpoint, "/mcp")
	resp, err := http.Get(base + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health: %v %v", resp, err)
	}
	resp.Body.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 11 {
		t.Fatalf("tools/list: %d tools, %v", len(tools.Tools), err)
	}
}
