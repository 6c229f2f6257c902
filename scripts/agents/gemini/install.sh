#!/usr/bin/env bash
# Installs the pinned Gemini CLI (npm @google/gemini-cli) for the runner and its CI check, and
# prints the absolute path of its executable as the last line. Does nothing if already there.
# Why this version: see docs/agents/gemini.md.
set -euo pipefail
VERSION=0.61.0
DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/gemini-$VERSION"
BIN="$DIR/node_modules/.bin/gemini"
if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  npm install --silent --no-audit --no-fund --prefix "$DIR" "@google/gemini-cli@$VERSION" >&2
fi
[ -x "$BIN" ] || { echo "install.sh: $BIN missing after npm install" >&2; exit 1; }
echo "$BIN"
