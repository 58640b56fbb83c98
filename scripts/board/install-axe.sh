#!/usr/bin/env bash
# Installs axe-core, the accessibility engine the web board's browser test
# injects into each page, pinned, into .tools/axe; again only when the pin
# changes. Prints the path of axe.min.js.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

AXE_CORE_VERSION=4.14.1

tools=$root/.tools/axe
stamp=$tools/stamp
export NO_UPDATE_NOTIFIER=1

command -v npm >/dev/null || { echo "axe: node and npm are needed to install axe-core" >&2; exit 1; }
want="axe-core $AXE_CORE_VERSION"
js=$tools/node/node_modules/axe-core/axe.min.js
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$js" ]; then
	echo "$js"
	exit 0
fi
rm -rf "$tools"
mkdir -p "$tools"
npm install -q --prefix "$tools/node" --no-audit --no-fund --save-exact "axe-core@$AXE_CORE_VERSION" >/dev/null
printf '%s\n' "$want" >"$stamp"
echo "$js"
