package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mcpTools installs the pinned MCP client SDKs (scripts/mcp/install.sh) and
// returns their directory. Without node or python3 the test skips, which
// fails CI (scripts/test.sh fails on any skip): CI has both.
func mcpTools(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("installs and runs the official MCP client SDKs; skipped under -short")
	}
	for _, tool := range []string{"node", "npm", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is needed to run the official MCP clients", tool)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "../../scripts/mcp/install.sh").Output()
	if err != nil {
		t.Fatalf("scripts/mcp/install.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestMCPOfficialClients runs the official TypeScript and Python MCP SDK
// clients (scripts/mcp/client.mjs and client.py) against the server with
// the sample data, each over stdio and over streamable HTTP: every tool,
// each answer checked against the REST API, and a whole agent loop.
func TestMCPOfficialClients(t *testing.T) {
	tools := mcpTools(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	url := startTestServerIn(t, dir)
	cliOK(t, url, "seed", "--sample-data")
	var token string
	token, err = readTokenFile(filepath.Join(dir, LocalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	// Node resolves the SDK from the script's own directory.
	script, err := os.ReadFile("../../scripts/mcp/client.mjs")
	if err != nil {
		t.Fatal(err)
	}
	mjs := filepath.Join(tools, "node", "client.mjs")
	if err := os.WriteFile(mjs, script, 0o644); err != nil {
		t.Fatal(err)
	}
	py, _ := filepath.Abs("../../scripts/mcp/client.py")
	env := append(os.Environ(), "AGILEPLUS_SERVER="+url, "AGILEPLUS_TOKEN="+token, "AGILEPLUS_BIN="+bin)
	for _, c := range []struct {
		name string
		cmd  []string
	}{
		{"typescript/stdio", []string{"node", mjs, "stdio", "ts-stdio"}},
		{"typescript/http", []string{"node", mjs, "http", "ts-http"}},
		{"python/stdio", []string{filepath.Join(tools, "venv", "bin", "python"), py, "stdio", "py-stdio"}},
		{"python/http", []string{filepath.Join(tools, "venv", "bin", "python"), py, "http", "py-http"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.cmd[0], c.cmd[1:]...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ok ") {
				t.Errorf("%s: %v\n%s", strings.Join(c.cmd, " "), err, out)
			}
		})
	}
}
