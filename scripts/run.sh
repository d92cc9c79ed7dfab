#!/usr/bin/env bash
# Runs a Tributary entry point (a .ts file plus arguments) with Node.js 24, doing the set-up a fresh
# clone needs first: Node 24 if the system's is older, and `npm ci` when node_modules is missing or
# older than package-lock.json. Every npm script goes through here, so `npm start` and `npm test`
# work on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$(bash "$root/scripts/node.sh")"
PATH="$(dirname "$node_bin"):$PATH"
export PATH
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "tributary: installing npm dependencies (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi
exec node "$@"
