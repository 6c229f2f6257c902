#!/usr/bin/env bash
# Installs Claude Code's ACP adapter (Zed's @zed-industries/claude-agent-acp, which embeds the
# Claude Agent SDK and with it its own Claude Code CLI) at a pinned version into
#   ${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/claude-acp-VERSION
# and prints the absolute path of the agent's executable as its last line. Does nothing when it
# is already there. See docs/agents/claude-acp.md.
#   scripts/agents/claude-acp/install.sh         # CLAUDE_ACP_VERSION=0.23.1 by default
set -euo pipefail
VERSION="${CLAUDE_ACP_VERSION:-0.23.1}"
DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/claude-acp-$VERSION"
BIN="$DIR/node_modules/.bin/claude-agent-acp"
if [ ! -x "$BIN" ]; then
  echo "== installing @zed-industries/claude-agent-acp@$VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --silent --no-audit --no-fund --prefix "$DIR" "@zed-industries/claude-agent-acp@$VERSION"
fi
[ -x "$BIN" ] || { echo "install.sh: $BIN is missing after npm install" >&2; exit 1; }
echo "$BIN"
