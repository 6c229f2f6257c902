#!/usr/bin/env bash
# Installs the pinned OpenCode CLI (npm opencode-ai, a self-contained Bun binary pulled in as the
# optional dependency opencode-linux-x64 / -baseline) for the runner and its CI check, and prints
# the absolute path of its executable as the last line. Does nothing if already there.
# Why this version: see docs/agents/opencode.md.
set -euo pipefail
VERSION=1.18.33
DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/opencode-$VERSION"
BIN="$DIR/node_modules/.bin/opencode"
if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  npm install --silent --no-audit --no-fund --prefix "$DIR" "opencode-ai@$VERSION" >&2
fi
[ -x "$BIN" ] || { echo "install.sh: $BIN missing after npm install" >&2; exit 1; }
echo "$BIN"
