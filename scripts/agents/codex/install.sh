#!/usr/bin/env bash
# Installs Codex's ACP adapter (Zed's @zed-industries/codex-acp, pinned) into
# ${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/codex-<version> with npm alone, and prints
# the absolute path of the agent's executable as its last line. Does nothing if it is there.
#
# The package is a small node launcher (bin/codex-acp.js); the agent itself is one native binary
# (Codex's Rust core linked in) from the optional dependency for the platform, e.g.
# @zed-industries/codex-acp-linux-x64. npm picks that one by itself; if an npm configured to omit
# optional dependencies skipped it, it is installed by name. The path printed is the native
# binary, so the runner starts one process (no node in between).
set -euo pipefail

VERSION=0.16.0
DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/codex-$VERSION"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-amd64) PLATFORM=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) PLATFORM=linux-arm64 ;;
  Darwin-arm64) PLATFORM=darwin-arm64 ;;
  Darwin-x86_64) PLATFORM=darwin-x64 ;;
  *) echo "codex-acp: no prebuilt binary for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
NATIVE="@zed-industries/codex-acp-$PLATFORM"
BIN="$DIR/node_modules/$NATIVE/bin/codex-acp"

if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  npm install --silent --no-audit --no-fund --prefix "$DIR" "@zed-industries/codex-acp@$VERSION" >&2
  if [ ! -x "$BIN" ]; then
    npm install --silent --no-audit --no-fund --prefix "$DIR" "$NATIVE@$VERSION" >&2
  fi
fi
if [ ! -x "$BIN" ]; then
  echo "codex-acp: $BIN is missing after npm install" >&2
  exit 1
fi
echo "$BIN"
