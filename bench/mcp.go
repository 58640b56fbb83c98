package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/mcpserver"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The agents' step: what the MCP surface costs an agent's context window,
// how many calls work takes, and how fast next with claim is.
const (
	targetToolsTokens = 3000 // the whole tools/list answer, cl100k_base
	targetStartCalls  = 1    // from initialize to a claimed WP
	targetCycleCalls  = 4    // next with claim, then doing, review, done
	targetNextP99     = 5.0  // ms, server side, next with claim
	mcpProject        = "NEXT"
)

// nextCall is one measured way of choosing and claiming the next WP; each
// returns the claimed WP's key and lease token so the run can release it
// untimed, which keeps the ready set the same for every call.
type nextCall struct {
	name string
	fn   func() (key string, token int64, err error)
}

func (b *bench) mcpAgents(ctx context.Context) error {
	ctx = agileplus.WithActor(ctx, "bench")
	spec := graphSpec{project: mcpProject, wps: b.sz.readWPs, edges: 3 * b.sz.readWPs, fts: b.sz.readFeats}
	store, _, svc, gb, err := b.buildGraphProject(ctx, "mcp", spec)
	if err != nil {
		return err
	}
	defer store.Close()
	peek, err := svc.Next(ctx, agileplus.NextRequest{Project: mcpProject})
	if err != nil {
		return err
	}

	api := httpapi.NewServer(svc, nil, nil, "bench")
	api.MCP = mcpserver.Handler(mcpserver.New(svc, mcpserver.Options{Version: "bench"}))
	hs := httptest.NewServer(api)
	defer hs.Close()
	httpMCP, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: hs.URL + httpapi.MCPPath}, nil)
	if err != nil {
		return fmt.Errorf("connect over HTTP: %w", err)
	}
	defer httpMCP.Close()
	client := hs.Client()

	claimArgs := map[string]any{"project": mcpProject, "claim": true, "agent": "bench"}
	calls := []nextCall{
		{"Service.Next (peek, no claim)", func() (string, int64, error) {
			_, err := svc.Next(ctx, agileplus.NextRequest{Project: mcpProject})
			return "", 0, err
		}},
		{"Service.Next with claim", func() (string, int64, error) {
			res, err := svc.Next(ctx, agileplus.NextRequest{Project: mcpProject, Claim: true, Agent: "bench"})
			return claimed(res, err)
		}},
		{"MCP tools/call next over HTTP", func() (string, int64, error) {
			res, err := httpMCP.CallTool(ctx, &mcp.CallToolParams{Name: "next", Arguments: claimArgs})
			if err != nil {
				return "", 0, err
			}
			var nr agileplus.NextResult
			if err := decodeStructured(res, &nr); err != nil {
				return "", 0, err
			}
			return claimed(&nr, nil)
		}},
		{"REST POST /v1/next", func() (string, int64, error) {
			var nr agileplus.NextResult
			if err := restJSON(client, "POST", hs.URL+"/v1/next", httpapi.NextClaim{Project: mcpProject, Agent: "bench"}, &nr); err != nil {
				return "", 0, err
			}
			return claimed(&nr, nil)
		}},
		{"REST GET /v1/ready + POST claim", func() (string, int64, error) {
			var l httpapi.List[*agileplus.WP]
			if err := restJSON(client, "GET", hs.URL+"/v1/ready?project="+mcpProject+"&order=priority", nil, &l); err != nil {
				return "", 0, err
			}
			if len(l.Items) == 0 {
				return "", 0, errors.New("nothing ready")
			}
			var lease agileplus.Lease
			key := l.Items[0].Key
			err := restJSON(client, "POST", hs.URL+"/v1/wps/"+key+"/claim", httpapi.ClaimCreate{Agent: "bench"}, &lease)
			return key, lease.Token, err
		}},
	}
	runs := make([]result, len(calls))
	for i, c := range calls {
		r, err := timeNext(ctx, svc, b.sz.readCalls, c.fn)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		runs[i] = r
		b.logf("mcp: %-34s p50 %s  p99 %s", c.name, fmtDur(r.pct(50)), fmtDur(r.pct(99)))
	}

	tk, err := b.agentTokens(ctx, svc)
	if err != nil {
		return err
	}

	s := b.rep.section(fmt.Sprintf("Agents: next with claim on a %s-WP project, and the MCP surface in tokens", fmtInt(spec.wps)),
		"call", "calls", "p50", "p99", "p99<5ms", "p99 / Service claim")
	base := runs[1].pct(99)
	for i, c := range calls {
		r := runs[i]
		met := metOrMissed(ms(r.pct(99)) < targetNextP99)
		if i == 0 {
			met = "-"
		}
		s.row(c.name, fmtInt(r.ops), fmtDur(r.pct(50)), fmtDur(r.pct(99)), met, fmt.Sprintf("%.2fx", float64(r.pct(99))/float64(base)))
	}
	s.note("project: %s WPs in %d features, %s depends_on edges (the graph step's generator); %s ready when measured; next picks %s (%s)",
		fmtInt(spec.wps), spec.fts, fmtInt(spec.edges), fmtInt(peek.Ready), peek.WP.Key, peek.Message)
	s.note("each claim is released after it, untimed, so every call sees the same ready set; states: %v", gb.states)
	s.note("HTTP: httpapi.Server (with /mcp) on httptest.NewServer over loopback TCP; MCP through the Go SDK client (streamable HTTP, stateless server)")
	for _, n := range tk.notes {
		s.note("%s", n)
	}

	b.rep.below("next with claim p99, Service ("+fmtInt(spec.wps)+" WPs)", ms(runs[1].pct(99)), targetNextP99, fmtMS)
	b.rep.below("next with claim p99, MCP over HTTP", ms(runs[2].pct(99)), targetNextP99, fmtMS)
	b.rep.info("next with claim p99, REST POST /v1/next", fmtDur(runs[3].pct(99)))
	b.rep.info("ready + claim p99, two REST calls", fmtDur(runs[4].pct(99)))
	if tk.counted {
		b.rep.below("tools/list answer (cl100k_base tokens)", float64(tk.toolsList), targetToolsTokens, fmtCount)
	} else {
		b.rep.info("tools/list answer (cl100k_base tokens)", "not counted: "+tk.why)
	}
	fmtCalls := func(v float64) string { return fmt.Sprintf("%.0f calls", v) }
	b.rep.atMost("calls from initialize to a claimed WP", float64(tk.startCalls), targetStartCalls, fmtCalls)
	b.rep.atMost("calls for a whole WP cycle", float64(tk.cycleCalls), targetCycleCalls, fmtCalls)
	if tk.counted {
		b.rep.info("tokens to a claimed WP (call and answer)", fmt.Sprintf("%d (text only %d)", tk.startTokens, tk.startText))
		b.rep.info("tokens for a whole WP cycle (calls and answers)", fmt.Sprintf("%d (text only %d); REST: %d calls, %d tokens", tk.cycleTokens, tk.cycleText, tk.restCalls, tk.restTokens))
	}
	return nil
}

// claimed is the key and token of a next answer that claimed a WP.
func claimed(res *agileplus.NextResult, err error) (string, int64, error) {
	if err != nil {
		return "", 0, err
	}
	if res.WP == nil || res.Lease == nil {
		return "", 0, fmt.Errorf("nothing claimed: %s", res.Message)
	}
	return res.WP.Key, res.Lease.Token, nil
}

// timeNext calls fn readWarmup times, then n times timing each call;
// after each call it releases what fn claimed, outside the timing.
func timeNext(ctx context.Context, svc *agileplus.Service, n int, fn func() (string, int64, error)) (result, error) {
	var t timer
	for i := range readWarmup + n {
		var key string
		var token int64
		call := func() error {
			var err error
			key, token, err = fn()
			return err
		}
		var err error
		if i < readWarmup {
			err = call()
		} else {
			err = t.do(call)
		}
		if err != nil {
			return result{}, err
		}
		if key != "" {
			if err := svc.Release(ctx, key, agileplus.ClaimRequest{Token: token}); err != nil {
				return result{}, fmt.Errorf("release %s: %w", key, err)
			}
		}
	}
	return t.run(), nil
}

func decodeStructured(res *mcp.CallToolResult, v any) error {
	if res.IsError {
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return errors.New(b.String())
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// restJSON sends in (if any) as JSON and decodes a 2xx answer into out;
// it returns the body it read in raw, when given.
func restJSON(c *http.Client, method, url string, in, out any, raw ...*[]byte) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	for _, r := range raw {
		*r = b
	}
	return json.Unmarshal(b, out)
}

// agentCost is what the MCP surface costs an agent: calls, and tokens
// counted with cl100k_base.
type agentCost struct {
	startCalls, cycleCalls int
	counted                bool
	why                    string // why tokens were not counted
	toolsList, instr       int
	startTokens, startText int
	cycleTokens, cycleText int
	restCalls, restTokens  int
	notes                  []string
}

// agentTokens connects an MCP client in memory, reads the tools and runs
// a whole WP cycle as an agent would, then the same cycle through REST,
// and counts the tokens of what went back and forth.
func (b *bench) agentTokens(ctx context.Context, svc *agileplus.Service) (*agentCost, error) {
	ct, st := mcp.NewInMemoryTransports()
	if _, err := mcpserver.New(svc, mcpserver.Options{Version: "bench"}).Connect(ctx, st, nil); err != nil {
		return nil, err
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		return nil, err
	}
	toolsJSON, err := json.Marshal(tools)
	if err != nil {
		return nil, err
	}
	// Text: what the model reads of each exchange (the call and the text
	// content); all: the call and the whole result, structured content
	// included, as a client may pass it on.
	var text, all []string
	call := func(name string, args map[string]any) (*mcp.CallToolResult, error) {
		params := &mcp.CallToolParams{Name: name, Arguments: args}
		res, err := cs.CallTool(ctx, params)
		if err != nil {
			return nil, err
		}
		if res.IsError {
			return nil, decodeStructured(res, nil)
		}
		p, _ := json.Marshal(params)
		r, _ := json.Marshal(res)
		var t strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				t.WriteString(tc.Text)
			}
		}
		text = append(text, string(p)+t.String())
		all = append(all, string(p)+string(r))
		return res, nil
	}
	cost := &agentCost{}
	res, err := call("next", map[string]any{"project": mcpProject, "claim": true, "agent": "bench-agent"})
	if err != nil {
		return nil, err
	}
	cost.startCalls = len(text)
	var nr agileplus.NextResult
	if err := decodeStructured(res, &nr); err != nil {
		return nil, err
	}
	for _, to := range []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone} {
		if _, err := call("move", map[string]any{"ref": nr.WP.Key, "to": to, "token": nr.Lease.Token}); err != nil {
			return nil, fmt.Errorf("move %s to %s: %w", nr.WP.Key, to, err)
		}
	}
	cost.cycleCalls = len(text)

	// The same cycle through REST, as an agent without next would: read
	// the ready set, claim the first, move it three times.
	rest, err := b.restCycle(ctx, svc)
	if err != nil {
		return nil, err
	}
	cost.restCalls = len(rest)

	tools0 := cs.InitializeResult().Instructions
	counts, err := b.countTokens(ctx, append(append(append([]string{string(toolsJSON), tools0}, text...), all...), strings.Join(rest, "")))
	if err != nil {
		cost.why = err.Error()
		b.logf("mcp: tokens not counted: %v", err)
		cost.notes = append(cost.notes, "tokens not counted: "+err.Error())
		return cost, nil
	}
	cost.counted = true
	cost.toolsList, cost.instr = counts[0], counts[1]
	n := len(text)
	sum := func(cs []int) (s int) {
		for _, c := range cs {
			s += c
		}
		return s
	}
	textC, allC := counts[2:2+n], counts[2+n:2+2*n]
	cost.startText, cost.startTokens = textC[0], allC[0]
	cost.cycleText, cost.cycleTokens = sum(textC), sum(allC)
	cost.restTokens = counts[len(counts)-1]
	cost.notes = append(cost.notes,
		fmt.Sprintf("tokens (cl100k_base, js-tiktoken): tools/list answer %d (%d tools, %d bytes of JSON), initialize instructions %d", cost.toolsList, len(tools.Tools), len(toolsJSON), cost.instr),
		fmt.Sprintf("to a claimed WP: %d call after initialize (next with claim), %d tokens of call and answer (%d of call and text content)", cost.startCalls, cost.startTokens, cost.startText),
		fmt.Sprintf("a whole WP cycle: %d calls (next with claim; move to doing, review, done), %d tokens (%d text only); through REST: %d calls (ready, claim, three transitions), %d tokens of answers",
			cost.cycleCalls, cost.cycleTokens, cost.cycleText, cost.restCalls, cost.restTokens))
	return cost, nil
}

// restCycle runs a WP cycle through the REST API in process and returns
// the answers' bodies.
func (b *bench) restCycle(ctx context.Context, svc *agileplus.Service) ([]string, error) {
	hs := httptest.NewServer(httpapi.NewServer(svc, nil, nil, "bench"))
	defer hs.Close()
	c := hs.Client()
	var bodies []string
	var raw []byte
	var l httpapi.List[*agileplus.WP]
	if err := restJSON(c, "GET", hs.URL+"/v1/ready?project="+mcpProject+"&order=priority", nil, &l, &raw); err != nil {
		return nil, err
	}
	bodies = append(bodies, string(raw))
	if len(l.Items) == 0 {
		return nil, errors.New("rest cycle: nothing ready")
	}
	key := l.Items[0].Key
	var lease agileplus.Lease
	if err := restJSON(c, "POST", hs.URL+"/v1/wps/"+key+"/claim", httpapi.ClaimCreate{Agent: "bench-rest"}, &lease, &raw); err != nil {
		return nil, err
	}
	bodies = append(bodies, string(raw))
	for _, to := range []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone} {
		var w agileplus.WP
		if err := restJSON(c, "POST", hs.URL+"/v1/wps/"+key+"/transition", httpapi.WPTransition{To: to, Token: lease.Token}, &w, &raw); err != nil {
			return nil, err
		}
		bodies = append(bodies, string(raw))
	}
	return bodies, nil
}

// countTokens counts the cl100k_base tokens of texts with js-tiktoken,
// which scripts/mcp/install.sh installs (node and npm needed).
func (b *bench) countTokens(ctx context.Context, texts []string) ([]int, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return nil, err
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	inst := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "mcp", "install.sh"))
	inst.Stderr = b.stderr
	dir, err := inst.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/mcp/install.sh: %w", err)
	}
	in, err := json.Marshal(texts)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "scripts", "mcp", "tokens.mjs"), strings.TrimSpace(string(dir)))
	cmd.Stdin, cmd.Stderr = bytes.NewReader(in), b.stderr
	res, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node scripts/mcp/tokens.mjs: %w", err)
	}
	var counts []int
	if err := json.Unmarshal(res, &counts); err != nil || len(counts) != len(texts) {
		return nil, fmt.Errorf("node scripts/mcp/tokens.mjs: got %q", res)
	}
	return counts, nil
}

func fmtCount(v float64) string { return commas(int64(v + 0.5)) }
