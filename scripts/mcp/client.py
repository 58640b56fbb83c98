"""Drives AgilePlus's MCP server with the official Python SDK, as an agent
would, and checks every answer against the REST API.

    python client.py stdio|http RUN_ID

Environment: AGILEPLUS_SERVER (REST base URL), AGILEPLUS_TOKEN (key for REST
and /mcp), AGILEPLUS_BIN (the binary, for stdio). Exits non-zero on the
first mismatch, naming it.
"""

import asyncio
import json
import os
import sys
import urllib.request

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MODE, RUN = sys.argv[1], sys.argv[2]
SERVER = os.environ["AGILEPLUS_SERVER"]
TOKEN = os.environ["AGILEPLUS_TOKEN"]
AUTH = {"Authorization": "Bearer " + TOKEN}


def check(cond, what, got):
    if not cond:
        print(f"FAIL {MODE}: {what}; got {got!r}", file=sys.stderr)
        sys.exit(1)


def rest(path):
    req = urllib.request.Request(SERVER + path, headers=AUTH)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


class Agent:
    def __init__(self, session):
        self.s = session
        self.calls = 0

    async def call(self, name, args, want_error=False):
        self.calls += 1
        res = await self.s.call_tool(name, args)
        text = "".join(c.text for c in res.content if c.type == "text")
        check(bool(res.is_error) == want_error, f"{name} {args} is_error={want_error}", text)
        return text, res.structured_content


async def scenario(session):
    await session.initialize()
    tools = sorted(t.name for t in (await session.list_tools()).tools)
    check(" ".join(tools) == "claim depend events find graph link move next plan show status", "tools/list names the eleven tools", tools)
    ag = Agent(session)

    _, peek = await ag.call("next", {"project": "CORE"})
    rp = rest("/v1/next?project=CORE")
    check((peek.get("wp") or {}).get("key") == (rp.get("wp") or {}).get("key"), "next picks what GET /v1/next picks", (peek, rp))

    text, _ = await ag.call("status", {"project": "CORE"})
    check(text.startswith("CORE "), "status starts with the project key", text)

    slug = f"mcp-{RUN}"
    _, plan = await ag.call("plan", {"feature": slug, "project": "CORE", "title": f"MCP {RUN}", "wps": [
        {"title": "Design", "estimate": 2},
        {"title": "Build", "estimate": 5, "depends_on": ["Design"]},
    ]})
    a, b = [w["key"] for w in plan["wps"]]
    check(sorted(w["key"] for w in rest(f"/v1/features/{slug}/wps")["items"]) == sorted([a, b]), "plan's WPs are the feature's WPs", plan)

    _, found = await ag.call("find", {"query": slug})
    keys = [h["key"] for h in found["items"]]
    check(keys[:1] == [slug] and keys == [h["key"] for h in rest(f"/v1/search?q={slug}&limit=20")["items"]],
          "find puts the feature whose slug is the query first, as GET /v1/search does", found)

    text, show = await ag.call("show", {"ref": b})
    check(text.startswith(b) and f"depends on: {a}(planned)" in text, "show names the blocker", text)
    check(show["wp"]["version"] == rest(f"/v1/wps/{b}")["version"], "show's WP is the API's", show)

    _, dep = await ag.call("depend", {"from": b, "to": a, "kind": "relates_to"})
    check(len(rest(f"/v1/wps/{b}/dependencies")["items"]) == 2, "depend added an edge", dep)
    await ag.call("depend", {"remove": dep["id"]})
    check(len(rest(f"/v1/wps/{b}/dependencies")["items"]) == 1, "depend removed it", dep)

    text, _ = await ag.call("graph", {"query": "blockers", "wp": b})
    check(a in text, "graph blockers lists the blocker", text)
    text, _ = await ag.call("graph", {"query": "critical", "feature": slug})
    check(text.startswith("critical path 7h"), "graph critical gives the path length", text)

    _, lease = await ag.call("claim", {"wp": a, "action": "take", "agent": f"py-{RUN}"})
    await ag.call("claim", {"wp": a, "action": "renew", "token": lease["token"]})
    await ag.call("claim", {"wp": a, "action": "release", "token": lease["token"]})
    check("lease" not in rest(f"/v1/wps/{a}"), "release ended the lease", lease)
    await ag.call("claim", {"wp": a, "action": "renew", "token": lease["token"]}, want_error=True)

    await ag.call("link", {"wp": a, "sha": "0123abcd", "repo": "github.com/acme/app"})
    check(len(rest(f"/v1/wps/{a}")["references"]) == 1, "link added a reference", a)

    _, ev = await ag.call("events", {"entity": a})
    check(len(ev["events"]) == len(rest(f"/v1/events?entity={a}&limit=50")["items"]), "events are the API's", ev)

    # The agent loop: one call to a claimed WP, three to finish it.
    ag.calls = 0
    _, nxt = await ag.call("next", {"project": "CORE", "feature": slug, "claim": True, "agent": f"py-{RUN}"})
    check(nxt["wp"]["key"] == a and nxt["lease"]["token"] > 0, "next with claim takes the ready WP", nxt)
    tok = nxt["lease"]["token"]
    for to in ("doing", "review", "done"):
        await ag.call("move", {"ref": a, "to": to, "token": tok})
    check(ag.calls == 4, "a whole WP cycle takes four calls", ag.calls)
    check(rest(f"/v1/wps/{a}")["state"] == "done", "the WP is done in the API", a)

    text, _ = await ag.call("move", {"ref": b, "to": "done"}, want_error=True)
    check("cannot move from" in text, "a wrong move says why", text)
    await ag.call("nope", {}, want_error=True)

    text, _ = await ag.call("status", {"feature": slug})
    check("audit verified" in text, "status verifies the audit trail", text)
    res = await session.read_resource("agileplus://projects/CORE/graph")
    check(a in res.contents[0].text, "the graph resource lists the WPs", res.contents[0].text[:200])
    pr = await session.get_prompt("start-next", {"agent": "py", "project": "CORE"})
    check(len(pr.messages) == 1, "the start-next prompt", pr)


async def main():
    if MODE == "stdio":
        params = StdioServerParameters(command=os.environ["AGILEPLUS_BIN"], args=["--server", SERVER, "mcp"], env=dict(os.environ))
        async with stdio_client(params) as streams:
            async with ClientSession(streams[0], streams[1]) as s:
                await scenario(s)
    else:
        async with create_mcp_http_client(headers=AUTH) as http:
            async with streamable_http_client(SERVER + "/mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as s:
                    await scenario(s)
    print(f"ok {MODE}")


asyncio.run(main())
