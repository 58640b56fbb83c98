// Drives AgilePlus's MCP server with the official TypeScript SDK, as an
// agent would, and checks every answer against the REST API.
//
//   node client.mjs stdio|http RUN_ID
//
// Environment: AGILEPLUS_SERVER (REST base URL), AGILEPLUS_TOKEN (key for
// REST and /mcp), AGILEPLUS_BIN (the binary, for stdio). Exits non-zero on
// the first mismatch, naming it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, run] = process.argv.slice(2);
const server = process.env.AGILEPLUS_SERVER;
const token = process.env.AGILEPLUS_TOKEN;
const auth = { Authorization: `Bearer ${token}` };

function check(cond, what, got) {
  if (!cond) {
    console.error(`FAIL ${mode}: ${what}; got ${JSON.stringify(got)}`);
    process.exit(1);
  }
}

async function rest(path) {
  const r = await fetch(server + path, { headers: auth });
  check(r.ok, `GET ${path} answers 2xx`, r.status);
  return r.json();
}

const transport = mode === "stdio"
  ? new StdioClientTransport({ command: process.env.AGILEPLUS_BIN, args: ["--server", server, "mcp"], env: { ...process.env }, stderr: "inherit" })
  : new StreamableHTTPClientTransport(new URL(server + "/mcp"), { requestInit: { headers: auth } });
const client = new Client({ name: "agileplus-ts-check", version: "1.0.0" });
await client.connect(transport);

let calls = 0;
async function call(name, args, wantError = false) {
  calls++;
  const res = await client.callTool({ name, arguments: args });
  const text = res.content.filter((c) => c.type === "text").map((c) => c.text).join("");
  check(Boolean(res.isError) === wantError, `${name} ${JSON.stringify(args)} isError=${wantError}`, text);
  return { text, data: res.structuredContent };
}

const tools = (await client.listTools()).tools.map((t) => t.name).sort();
check(tools.join(" ") === "claim depend events find graph link move next plan show status", "tools/list names the eleven tools", tools);

// next without claim is what GET /v1/next answers.
const peek = await call("next", { project: "CORE" });
const restPeek = await rest("/v1/next?project=CORE");
check((peek.data.wp?.key ?? "") === (restPeek.wp?.key ?? ""), "next picks what GET /v1/next picks", [peek.data.wp?.key, restPeek.wp?.key]);

const st = await call("status", { project: "CORE" });
check(st.text.startsWith("CORE "), "status starts with the project key", st.text);

const slug = `mcp-${run}`;
const plan = await call("plan", { feature: slug, project: "CORE", title: `MCP ${run}`, wps: [
  { title: "Design", estimate: 2 },
  { title: "Build", estimate: 5, depends_on: ["Design"] },
] });
const [a, b] = plan.data.wps.map((w) => w.key);
const restWPs = await rest(`/v1/features/${slug}/wps`);
check(restWPs.items.map((w) => w.key).sort().join() === [a, b].sort().join(), "plan's WPs are the feature's WPs", restWPs.items);

const found = await call("find", { query: slug });
const restFound = await rest(`/v1/search?q=${slug}&limit=20`);
check(found.data.items[0].key === slug && found.data.items.map((h) => h.key).join() === restFound.items.map((h) => h.key).join(),
  "find puts the feature whose slug is the query first, as GET /v1/search does", found.data.items);

const show = await call("show", { ref: b });
check(show.text.startsWith(b) && show.text.includes(`depends on: ${a}(planned)`), "show names the blocker", show.text);
check(show.data.wp.version === (await rest(`/v1/wps/${b}`)).version, "show's WP is the API's", show.data.wp);

const dep = await call("depend", { from: b, to: a, kind: "relates_to" });
check((await rest(`/v1/wps/${b}/dependencies`)).items.length === 2, "depend added an edge", dep.text);
await call("depend", { remove: dep.data.id });
check((await rest(`/v1/wps/${b}/dependencies`)).items.length === 1, "depend removed it", dep.data);

const g = await call("graph", { query: "blockers", wp: b });
check(g.text.includes(a), "graph blockers lists the blocker", g.text);
const crit = await call("graph", { query: "critical", feature: slug });
check(crit.text.startsWith("critical path 7h"), "graph critical gives the path length", crit.text);

const taken = await call("claim", { wp: a, action: "take", agent: `ts-${run}` });
await call("claim", { wp: a, action: "renew", token: taken.data.token });
await call("claim", { wp: a, action: "release", token: taken.data.token });
check(!(await rest(`/v1/wps/${a}`)).lease, "release ended the lease", taken.data);
await call("claim", { wp: a, action: "renew", token: taken.data.token }, true);

await call("link", { wp: a, sha: "0123abcd", repo: "github.com/acme/app" });
check((await rest(`/v1/wps/${a}`)).references.length === 1, "link added a reference", a);

const ev = await call("events", { entity: a });
const restEv = await rest(`/v1/events?entity=${a}&limit=50`);
check(ev.data.events.length === restEv.items.length, "events are the API's", [ev.data.events.length, restEv.items.length]);

// The agent loop: one call to a claimed WP, three to finish it.
calls = 0;
const next = await call("next", { project: "CORE", feature: slug, claim: true, agent: `ts-${run}` });
check(next.data.wp.key === a && next.data.lease.token > 0, "next with claim takes the ready WP", next.data);
const tok = next.data.lease.token;
await call("move", { ref: a, to: "doing", token: tok });
await call("move", { ref: a, to: "review", token: tok });
await call("move", { ref: a, to: "done", token: tok });
check(calls === 4, "a whole WP cycle takes four calls", calls);
check((await rest(`/v1/wps/${a}`)).state === "done", "the WP is done in the API", a);

const bad = await call("move", { ref: b, to: "done" }, true);
check(bad.text.includes("cannot move from"), "a wrong move says why", bad.text);
await call("nope", {}, true);

const fs = await call("status", { feature: slug });
check(fs.text.includes("audit verified"), "status verifies the audit trail", fs.text);
const res = await client.readResource({ uri: "agileplus://projects/CORE/graph" });
check(res.contents[0].text.includes(a), "the graph resource lists the WPs", res.contents[0].text.slice(0, 200));
const pr = await client.getPrompt({ name: "start-next", arguments: { agent: "ts", project: "CORE" } });
check(pr.messages.length === 1, "the start-next prompt", pr);

await client.close();
console.log(`ok ${mode}`);
