#!/usr/bin/env bash
# The README's Gemini CLI settings for the board's MCP server, tried with the real Gemini CLI
# (pinned, scripts/agents/gemini/install.sh): `gemini mcp list` connects to /mcp with the
# header as the README writes it ($AUTOPILOT_MCP_TOKEN from the environment) and reports the
# server "Connected"; with a token that is not the board's it reports it "Disconnected".
# Needs no model API: listing connects to the servers only. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT="${MCP_GEMINI_CHECK_PORT:-3138}"
export LEPTOS_OUTPUT_NAME=autopilot
GEMINI=$(scripts/agents/gemini/install.sh | tail -1)
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
BIN="$ROOT/target/debug/autopilot"

mkdir -p "$ROOT/target"
WORK=$(mktemp -d -p "$ROOT/target" mcp-gemini-check.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DATABASE_URL="sqlite://$WORK/board.db"
RUST_LOG=warn "$BIN" serve --addr "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
AUTOPILOT_PASSWORD='gemini check password' "$BIN" user add --email gem@example.com --name "Gem" --role member >/dev/null
TOKEN=$("$BIN" token create --email gem@example.com --name gemini --scope mcp 2>/dev/null | tail -1)

# A HOME of its own, with the README's settings, and this folder trusted (Gemini CLI leaves
# user-level MCP servers off in folders it does not trust).
mkdir -p "$WORK/home/.gemini" "$WORK/project"
cat > "$WORK/home/.gemini/settings.json" <<JSON
{ "mcpServers": {
  "autopilot": { "httpUrl": "http://127.0.0.1:$PORT/mcp",
                 "headers": { "Authorization": "Bearer \$AUTOPILOT_MCP_TOKEN" } } } }
JSON
echo "{\"$WORK/project\": \"TRUST_FOLDER\"}" > "$WORK/home/.gemini/trustedFolders.json"
list() { (cd "$WORK/project" && HOME="$WORK/home" AUTOPILOT_MCP_TOKEN="$1" timeout 90 "$GEMINI" mcp list 2>&1); }

out=$(list "$TOKEN")
echo "$out" | grep -q "autopilot: http://127.0.0.1:$PORT/mcp (http) - Connected" ||
  { echo "Gemini CLI did not connect with the README's settings:"; echo "$out"; cat "$WORK/server.log"; exit 1; }
echo "ok: Gemini CLI $(basename "$(dirname "$(dirname "$(dirname "$GEMINI")")")") connects to /mcp with the README's settings"
out=$(list "ap_not_a_token")
echo "$out" | grep -q "autopilot: .* - Disconnected" ||
  { echo "Gemini CLI connected with a wrong token:"; echo "$out"; exit 1; }
echo "ok: with a wrong token it does not"
