// Package mcpserver is the Model Context Protocol transport: a small set of
// tools, resources and prompts over any agileplus.Tracker, so a coding
// agent can plan, pick, claim and finish work in a few calls. The Tracker
// is the domain Service in-process or the HTTP client of a remote server;
// this package never talks to a store or the bus itself.
//
// A user's mistake (a bad argument, a WP that is not ready, a stale token)
// is a tool result with isError and the API's message, never a protocol
// error, so the agent reads it and corrects itself.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options configure a server.
type Options struct {
	// Version is the server's version in the initialize answer.
	Version string
	Logger  *slog.Logger
}

// New returns an MCP server whose tools call t. The context of each call
// carries the caller (agileplus.WithPrincipal, agileplus.WithActor) as the
// transport set it up.
func New(t agileplus.Tracker, opts Options) *mcp.Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "agileplus", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: instructions,
		Logger:       opts.Logger,
	})
	h := &handlers{t: t}
	h.addTools(s)
	s.AddReceivingMiddleware(unknownTool(s))
	addResources(s, h)
	addPrompts(s)
	return s
}

// instructions tell an agent how to start, in the initialize answer.
const instructions = `AgilePlus tracks projects, features and work packages (WPs, keys like CORE-12).
Start work: next {project, claim:true, agent}. It returns a WP and a fencing token; pass the token to move, claim and link while you hold it.
Finish: move {wp, to:"doing"|"review"|"done", token}.`

// Handler serves the MCP server over streamable HTTP, stateless: every
// request carries its own key, which the caller's middleware checks, and
// its context reaches the tools.
func Handler(s *mcp.Server) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		// Bodies are bounded like the API's.
		MaxRequestBodyBytes: maxArgsBytes,
	})
}

// maxArgsBytes bounds a request; a tool's arguments are far smaller.
const maxArgsBytes = 1 << 20

// unknownTool answers a call of a tool that does not exist with a tool
// error that lists the tools, which the SDK would answer with a protocol
// error an agent may never see.
func unknownTool(s *mcp.Server) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "tools/call" {
				return next(ctx, method, req)
			}
			p, ok := req.GetParams().(*mcp.CallToolParamsRaw)
			if !ok || slices.Contains(toolNames, p.Name) {
				return next(ctx, method, req)
			}
			return errorResult(fmt.Sprintf("unknown tool %q; the tools are %s", p.Name, strings.Join(toolNames, ", "))), nil
		}
	}
}

// errorResult is a tool error with message.
func errorResult(message string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: message}}}
}

// failure turns an error of the Tracker into a tool error: a domain error
// reads as the API's message, with the field at fault.
func failure(err error) *mcp.CallToolResult {
	var de *agileplus.Error
	if errors.As(err, &de) {
		msg := de.Message
		if de.Field != "" && !strings.Contains(msg, de.Field) {
			msg = de.Field + ": " + msg
		}
		return errorResult("error (" + strings.ToLower(de.Code) + "): " + msg)
	}
	return errorResult("error: " + err.Error())
}

// ok is a tool answer: text for the model, ids and keys first, and the
// same answer as structured content for programs.
func ok(text string, v any) *mcp.CallToolResult {
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
	if v != nil {
		b, err := json.Marshal(v)
		if err == nil && len(b) > 0 && b[0] == '{' {
			res.StructuredContent = json.RawMessage(b)
		}
	}
	return res
}

// needs refuses a call the caller's key may not make: the same scopes as
// the API's routes.
func needs(ctx context.Context, scope, what string) error {
	p := agileplus.PrincipalFrom(ctx)
	if p == nil || agileplus.ScopeAllows(p.Scope, scope) {
		return nil
	}
	return agileplus.Errorf(agileplus.EFORBIDDEN, "%s needs scope %s; key %s has %s", what, scope, p.Name, p.Scope)
}
