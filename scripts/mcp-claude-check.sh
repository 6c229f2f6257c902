#!/usr/bin/env bash
# The board's MCP server (/mcp) through the REAL Claude Code CLI: the CLI is given the board as
# an HTTP MCP server (bearer token with the `mcp` scope), and a local stand-in for the Anthropic
# API (scripts/mock-anthropic.mjs, scenario MCP-FILE-CHECK) plays a model that calls
# mcp__autopilot__create_issue, then quotes the id it got back. The check: the issue is on the
# board, filed by the token's person (created_by and the history's actor), and the model saw
# the board's tools under the names the CLI gives them. Twice: once configured with
# `claude mcp add --transport http` (in a scratch HOME), once with `--mcp-config FILE
# --strict-mcp-config`. Builds the server, and starts and stops its own server and stand-in.
#   scripts/mcp-claude-check.sh      # CLAUDE_CODE_VERSION=2.1.197, ports 3135 and 8767 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION="${CLAUDE_CODE_VERSION:-2.1.197}"
TOOLS_DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/claude-code-$VERSION"
CLAUDE="$TOOLS_DIR/node_modules/.bin/claude"
BOARD_PORT="${MCP_CLAUDE_CHECK_PORT:-3135}"
API_PORT="${MCP_CLAUDE_MOCK_PORT:-8767}"
BIN="$ROOT/target/debug/autopilot"
export LEPTOS_OUTPUT_NAME=autopilot

if [ ! -x "$CLAUDE" ]; then
  echo "== installing @anthropic-ai/claude-code@$VERSION into $TOOLS_DIR" >&2
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "@anthropic-ai/claude-code@$VERSION"
fi
# The same features as `cargo leptos build`, so the two share one build.
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
for port in "$BOARD_PORT" "$API_PORT"; do
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
    echo "port $port is taken; set MCP_CLAUDE_CHECK_PORT / MCP_CLAUDE_MOCK_PORT" >&2
    exit 1
  fi
done

mkdir -p "$ROOT/target"
WORK=$(mktemp -d -p "$ROOT/target" mcp-claude-check.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  for f in server.log mock.log; do echo "== $f" >&2; cat "$WORK/$f" >&2 || true; done
  exit 1
}

RECORD="$WORK/model-requests.jsonl"
node scripts/mock-anthropic.mjs "$API_PORT" "$RECORD" > "$WORK/mock.log" 2>&1 &
pids+=($!)
export DATABASE_URL="sqlite://$WORK/board.db"
RUST_LOG=warn "$BIN" serve --addr "127.0.0.1:$BOARD_PORT" > "$WORK/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$BOARD_PORT/healthz" > /dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$BOARD_PORT/healthz" > /dev/null || fail "the server did not come up"

# The server has made the database; the command line adds to it (it never makes one).
AUTOPILOT_PASSWORD='mcp claude check 123' "$BIN" user add --email mia@example.com --name "Mia MCP" --role member > /dev/null
AUTOPILOT_PASSWORD='mcp claude check 123' "$BIN" user add --email admin@example.com --name "Ada Admin" --role admin > /dev/null
TOKEN=$("$BIN" token create --email mia@example.com --name claude --scope mcp | tail -1)
ADMIN=$("$BIN" token create --email admin@example.com --name check --scope read,write,move,admin | tail -1)
URL="http://127.0.0.1:$BOARD_PORT/api/autopilot"
api() { curl -sf -H "Authorization: Bearer $ADMIN" "$@"; }
# json EXPR: EXPR over `v`, the JSON read from stdin.
json() { node -pe "const v = JSON.parse(require('fs').readFileSync(0)); $1"; }

# The CLI keeps its state (and `claude mcp add`'s configuration) under $HOME: a scratch one.
mkdir -p "$WORK/home" "$WORK/project"
claude() { (cd "$WORK/project" && HOME="$WORK/home" ANTHROPIC_API_KEY=sk-mock \
  ANTHROPIC_BASE_URL="http://127.0.0.1:$API_PORT" DISABLE_AUTOUPDATER=1 timeout 180 "$CLAUDE" "$@"); }

# file_one MODE ARGS...: the CLI files the bug through MCP; checks what it printed and the board.
file_one() {
  local mode=$1; shift
  local out="$WORK/$mode.jsonl"
  : > "$RECORD"
  echo "== $mode: claude -p 'MCP-FILE-CHECK …' $*" >&2
  claude -p "MCP-FILE-CHECK: file a bug on the board through the autopilot MCP server." \
    --output-format stream-json --verbose --allowedTools mcp__autopilot__create_issue "$@" \
    > "$out" 2> "$WORK/$mode.err" || fail "$mode: the CLI exited $?: $(cat "$WORK/$mode.err")"
  # What the CLI printed: the MCP server's state, the tool call and its result, the final text.
  local seen
  seen=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const init = lines.find((e) => e.type === "system" && e.subtype === "init") ?? {};
    const server = (init.mcp_servers ?? []).find((s) => s.name === "autopilot");
    const blocks = lines.filter((e) => e.message?.content).flatMap((e) => [].concat(e.message.content));
    const call = blocks.find((b) => b.type === "tool_use" && b.name === "mcp__autopilot__create_issue");
    const result = call && blocks.find((b) => b.type === "tool_result" && b.tool_use_id === call.id);
    const end = lines.find((e) => e.type === "result") ?? {};
    console.log(JSON.stringify({
      server: server?.status ?? "absent",
      tools: (init.tools ?? []).filter((t) => t.startsWith("mcp__")),
      called: Boolean(call),
      resultError: result ? Boolean(result.is_error) : null,
      result: result ? [].concat(result.content).map((c) => (typeof c === "string" ? c : c.text ?? "")).join("").slice(0, 300) : null,
      final: end.result ?? null,
      isError: end.is_error ?? null,
    }));' "$out")
  echo "   CLI: $seen"
  [ "$(json v.server <<<"$seen")" = connected ] || fail "$mode: the CLI's autopilot MCP server is $(json v.server <<<"$seen")"
  [ "$(json v.called <<<"$seen")" = true ] || fail "$mode: no mcp__autopilot__create_issue call in the CLI's output"
  [ "$(json v.resultError <<<"$seen")" = false ] || fail "$mode: the tool result is an error: $(json v.result <<<"$seen")"
  [ "$(json v.isError <<<"$seen")" = false ] || fail "$mode: the CLI's result is an error"
  local final id
  final=$(json v.final <<<"$seen")
  id=$(sed -n 's/^Filed issue #\([0-9][0-9]*\) through MCP\.$/\1/p' <<<"$final")
  [ -n "$id" ] || fail "$mode: the model's answer quotes no issue id: '$final'"
  # What the model was offered, as the stand-in recorded it.
  local offered
  offered=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const first = lines.find((e) => e.scenario === "mcp-file" && !e.answered);
    console.log(first ? first.mcpTools.join(" ") : "");' "$RECORD")
  echo "   MCP tools in the model request: $offered"
  for tool in list_issues get_issue create_issue add_comment move_issue set_fields waiting_for_people; do
    grep -qw "mcp__autopilot__$tool" <<<"$offered" || fail "$mode: the model was not offered mcp__autopilot__$tool (got: $offered)"
  done
  # The board: the issue, filed by the token's person.
  local issue events
  issue=$(api "$URL/issues/$id") || fail "$mode: GET issues/$id failed"
  events=$(api "$URL/issues/$id/events") || fail "$mode: GET issues/$id/events failed"
  echo "   board: #$id $(json '`"${v.title}" kind ${v.kind}, status ${v.status}, created_by ${v.created_by}`' <<<"$issue"); history: $(json 'v.map((e) => `${e.kind} by ${e.actor}`).join(", ")' <<<"$events")"
  [ "$(json v.title <<<"$issue")" = "Filed by Claude through MCP" ] || fail "$mode: issue #$id has title '$(json v.title <<<"$issue")'"
  [ "$(json v.kind <<<"$issue")" = bug ] || fail "$mode: issue #$id is of kind '$(json v.kind <<<"$issue")'"
  [ "$(json v.status <<<"$issue")" = backlog ] || fail "$mode: issue #$id is in '$(json v.status <<<"$issue")'"
  [ "$(json v.created_by <<<"$issue")" = "Mia MCP" ] || fail "$mode: issue #$id was created by '$(json v.created_by <<<"$issue")'"
  [ "$(json 'v.find((e) => e.kind === "created")?.actor' <<<"$events")" = "Mia MCP" ] ||
    fail "$mode: the history of #$id does not say Mia MCP created it: $events"
  echo "OK: $mode: the real Claude Code CLI $VERSION filed bug #$id through /mcp as Mia MCP" >&2
  FILED+=("$id")
}
FILED=()

# 1. Configured the way a person would: `claude mcp add` (local scope, the project directory).
claude mcp add --transport http autopilot "http://127.0.0.1:$BOARD_PORT/mcp" \
  --header "Authorization: Bearer $TOKEN" > "$WORK/mcp-add.log" 2>&1 || fail "claude mcp add: $(cat "$WORK/mcp-add.log")"
LIST=$(claude mcp list 2>&1) || true
echo "   claude mcp list: $(grep autopilot <<<"$LIST" || echo "$LIST")"
grep -q 'autopilot: .*Connected' <<<"$LIST" || fail "claude mcp list does not show autopilot connected: $LIST"
file_one mcp-add
claude mcp remove autopilot > /dev/null 2>&1 || fail "claude mcp remove failed"

# 2. A config file, and no other MCP servers.
node -e 'console.log(JSON.stringify({mcpServers: {autopilot: {type: "http", url: process.argv[1], headers: {Authorization: `Bearer ${process.argv[2]}`}}}}))' \
  "http://127.0.0.1:$BOARD_PORT/mcp" "$TOKEN" > "$WORK/mcp.json"
file_one mcp-config --mcp-config "$WORK/mcp.json" --strict-mcp-config

[ "${FILED[0]}" != "${FILED[1]}" ] || fail "both runs quote the same issue #${FILED[0]}"
COUNT=$(api "$URL/issues" | json 'v.filter((i) => i.title === "Filed by Claude through MCP").length')
[ "$COUNT" = 2 ] || fail "the board holds $COUNT issues titled 'Filed by Claude through MCP', expected 2"
echo "OK: the real Claude Code CLI $VERSION filed issues #${FILED[*]} through the board's MCP server"
