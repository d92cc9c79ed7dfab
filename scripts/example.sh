#!/usr/bin/env bash
# Runs an example from examples/ with Node.js 24 (through scripts/run.sh, which sets it up):
#   npm run example -- word-count to be or not to be
#   npm run example -- clicks --once
# Without a name, lists the examples. TRIBUTARY_LOG_LEVEL=info shows the library's log lines.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:-}"
file="$root/examples/${name%.ts}.ts"
if [ -z "$name" ] || [ "$name" = "args" ] || [ ! -f "$file" ]; then
  [ -n "$name" ] && echo "tributary: no example named ${name}" >&2
  echo "usage: npm run example -- <name> [arguments]; examples:" >&2
  for f in "$root"/examples/*.ts; do
    n="$(basename "$f" .ts)"
    [ "$n" = "args" ] || echo "  $n" >&2
  done
  exit 2
fi
shift
# The examples print their results; the library's info lines (topics created, ...) only on request.
export TRIBUTARY_LOG_LEVEL="${TRIBUTARY_LOG_LEVEL:-warn}"
exec bash "$root/scripts/run.sh" "$file" "$@"
