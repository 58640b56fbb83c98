#!/usr/bin/env bash
# Installs the official MCP client SDKs the MCP tests drive (TypeScript from
# npm, Python from PyPI) and js-tiktoken for the benchmark's token count
# (it ships the cl100k_base ranks, which Python's tiktoken downloads at run
# time), all pinned, into .tools/mcp; again only when a pin changes. Prints
# the tools directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

MCP_TS_SDK_VERSION=1.32.2
MCP_PY_SDK_VERSION=2.3.0
JS_TIKTOKEN_VERSION=1.0.21

tools=$root/.tools/mcp
stamp=$tools/stamp
export PIP_DISABLE_PIP_VERSION_CHECK=1 NO_UPDATE_NOTIFIER=1

fail() { printf 'mcp tools: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
	fail "python3 3.10 or later is needed for the MCP Python SDK"
command -v npm >/dev/null || fail "node (18 or later) and npm are needed for the MCP TypeScript SDK"

want="python $(python3 -c 'import sys; print(sys.version.split()[0])')
node $(node --version)
@modelcontextprotocol/sdk $MCP_TS_SDK_VERSION
mcp $MCP_PY_SDK_VERSION
js-tiktoken $JS_TIKTOKEN_VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "$tools"
	exit 0
fi
rm -rf "$tools"
mkdir -p "$tools"
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --require-virtualenv "mcp==$MCP_PY_SDK_VERSION" >&2
npm install -q --prefix "$tools/node" --no-audit --no-fund --save-exact "@modelcontextprotocol/sdk@$MCP_TS_SDK_VERSION" "js-tiktoken@$JS_TIKTOKEN_VERSION" >/dev/null
printf '%s\n' "$want" >"$stamp"
echo "$tools"
