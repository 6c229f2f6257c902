#!/usr/bin/env bash
# The board's MCP server against a client nobody here wrote: the official Python SDK (PyPI
# `mcp`, pinned; in a venv of its own under the tools directory), talking to the real binary
# on a fresh SQLite board. Part of scripts/test.sh; run it alone after changing /mcp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MCP_VERSION="${MCP_PYTHON_VERSION:-2.3.0}"
VENV="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/mcp-python-$MCP_VERSION"
PORT="${MCP_CHECK_PORT:-3134}"
export LEPTOS_OUTPUT_NAME=autopilot

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import mcp' 2>/dev/null; then
  echo "== installing mcp==$MCP_VERSION (PyPI) into $VENV" >&2
  python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION"
fi
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
BIN="$ROOT/target/debug/autopilot"

WORK=$(mktemp -d -p "$ROOT/target" mcp-check.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DATABASE_URL="sqlite://$WORK/board.db"
RUST_LOG=warn "$BIN" serve --addr "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
# The server has made the database; the command line adds to it (it never makes one).
AUTOPILOT_PASSWORD='mcp check password' "$BIN" user add --email mcp@example.com --name "Mia MCP" --role member >/dev/null
TOKEN=$("$BIN" token create --email mcp@example.com --name agent --scope mcp | tail -1)
NO_MCP=$("$BIN" token create --email mcp@example.com --name scripts --scope read,write,move | tail -1)
"$VENV/bin/python" scripts/mcp-client-check.py "http://127.0.0.1:$PORT/mcp" "$TOKEN" "$NO_MCP" ||
  { echo "-- the server's log:"; cat "$WORK/server.log"; exit 1; }
