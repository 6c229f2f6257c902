#!/usr/bin/env bash
# Runs the real Codex ACP agent (codex-acp, from install.sh) against the local stand-in of the
# OpenAI Responses API (mock-api.mjs) through scripts/acp-probe.mjs, one scenario at a time, in a
# scratch git repository with a scratch HOME/CODEX_HOME, and prints one verdict line each.
# Exit 0 only if default, blocked and apierror behave as docs/agents/codex.md says.
# Needs node and git; no network (install.sh needs npm once). KEEP_LOGS=1 keeps the scratch dir.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PROBE="$ROOT/scripts/acp-probe.mjs"
BIN="$(bash "$HERE/install.sh" | tail -n 1)"

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/codex-check.XXXXXX")"
MOCK_PID=""
cleanup() {
  if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; fi
  if [ "${KEEP_LOGS:-}" = 1 ]; then echo "logs kept in $SCRATCH"; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
MOCK_API_LOG="$SCRATCH/api.log" node "$HERE/mock-api.mjs" "$PORT" &
MOCK_PID=$!
for _ in $(seq 50); do
  node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$PORT" && break
  sleep 0.1
done

# The agent's whole configuration is on its command line (-c key=TOML), so no config file is
# needed in its HOME: a model provider pointing at the stand-in, the key read from MOCK_API_KEY,
# no retries (an API error ends the turn at once), and Codex's own approval and sandbox settings
# set so every edit and every command not known to be read-only asks the client first, with no
# sandbox of Codex's own (the runner's bubblewrap is the sandbox). No shell snapshot: it would
# write every exported variable, the key included, to $CODEX_HOME/shell_snapshots/.
AGENT=("$BIN"
  -c 'model="gpt-5.4"'
  -c 'model_provider="mock"'
  -c "model_providers.mock={name=\"mock\",base_url=\"http://127.0.0.1:$PORT/v1\",wire_api=\"responses\",env_key=\"MOCK_API_KEY\",request_max_retries=0,stream_max_retries=0}"
  -c 'approval_policy="untrusted"'
  -c 'sandbox_mode="danger-full-access"'
  -c 'features.shell_snapshot=false')

REPO="$SCRATCH/repo"
fresh_repo() {
  rm -rf "$REPO"
  mkdir -p "$REPO"
  git -C "$REPO" init -q
  printf '# Demo\n\nA scratch repository for the Codex check.\n' >"$REPO/README.md"
  git -C "$REPO" add README.md
  git -C "$REPO" -c user.name=check -c user.email=check@example.invalid commit -qm init
}

# run NAME PROMPT [probe flags…]: one probe run in a fresh repo; its transcript in $SCRATCH/NAME.log.
run() {
  local name="$1" prompt="$2"
  shift 2
  fresh_repo
  local started=$SECONDS
  (cd "$REPO" && env -i PATH="$PATH" HOME="$SCRATCH/home" \
    TMPDIR="$SCRATCH/tmp" MOCK_API_KEY=sk-mock-codex NO_COLOR=1 RUST_LOG=error \
    node "$PROBE" --cwd "$REPO" --timeout 60 "$@" --prompt "$prompt" -- "${AGENT[@]}") >"$SCRATCH/$name.log" 2>&1 || true
  ELAPSED=$((SECONDS - started))
  LOG="$SCRATCH/$name.log"
}
mkdir -p "$SCRATCH/home" "$SCRATCH/tmp"

stop_reason() { sed -n 's/^## stop reason: //p' "$LOG" | tail -n 1; }
rpc_error() { sed -n 's/^## error: //p' "$LOG" | tail -n 1; }
count() { grep -c -- "$1" "$LOG" || true; }
err_suffix() { local e; e="$(rpc_error)"; if [ -n "$e" ]; then printf ', error %s' "$e"; fi; }
commits() { git -C "$REPO" rev-list --count HEAD; }

PASS=1
verdict() { printf '%-10s %s\n' "$1:" "$2"; }
fail() { verdict "$1" "FAIL: $2"; PASS=0; }

# default: the edit is asked for (allowed once), HELLO.md is written, the turn ends.
run default "Add a greeting file to the repository."
reason="$(stop_reason)"
if [ "$(cat "$REPO/HELLO.md" 2>/dev/null)" = "Hello from codex" ] && [ "$reason" = end_turn ] \
  && [ "$(count '"sessionUpdate":"usage_update"')" -gt 0 ]; then
  verdict default "HELLO.md written after $(count '"method":"session/request_permission"') permission request(s) (edit), usage reported, stop reason $reason"
else
  fail default "HELLO.md $( [ -f "$REPO/HELLO.md" ] && echo present || echo missing ), stop reason '${reason}'$(err_suffix)"
fi

# blocked: only a question, no tool call, the turn ends.
run blocked "Add a greeting. MOCK:blocked"
reason="$(stop_reason)"
if grep -q 'BLOCKED: Which file should the greeting go in?' "$LOG" && [ "$reason" = end_turn ] \
  && [ ! -e "$REPO/HELLO.md" ] && [ "$(count '"sessionUpdate":"tool_call"')" = 0 ]; then
  verdict blocked "answered 'BLOCKED: Which file should the greeting go in?', no tool call, stop reason $reason"
else
  fail blocked "stop reason '${reason}'$(err_suffix)"
fi

# protected: the client rejects the edit of .github/workflows/evil.yml.
run protected "Add a workflow. MOCK:protected" --deny
reason="$(stop_reason)"
if [ -e "$REPO/.github/workflows/evil.yml" ]; then
  verdict protected "WRITTEN although rejected (.github/workflows/evil.yml exists), stop reason '${reason}'"
elif grep -q '"method":"session/request_permission".*"kind":"edit".*evil.yml' "$LOG"; then
  verdict protected "edit of .github/workflows/evil.yml asked for and rejected, not written, stop reason ${reason:-none}$(err_suffix)"
else
  verdict protected "no edit permission request seen, not written, stop reason ${reason:-none}$(err_suffix)"
fi

# git: the client rejects `git commit -am sneaky`.
run git "Commit the work. MOCK:git" --deny
reason="$(stop_reason)"
if [ "$(commits)" != 1 ]; then
  verdict git "COMMITTED although rejected, stop reason '${reason}'"
elif grep -q '"method":"session/request_permission".*"kind":"execute".*git commit -am sneaky' "$LOG"; then
  verdict git "'git commit -am sneaky' asked for (kind execute) and rejected, not run, stop reason ${reason:-none}$(err_suffix)"
else
  verdict git "no permission request for the command, no commit, stop reason ${reason:-none}$(err_suffix)"
fi

# apierror: HTTP 500 from the API ends session/prompt with a JSON-RPC error.
run apierror "Add a greeting. MOCK:apierror"
err="$(rpc_error)"
if [ -n "$err" ] && printf '%s' "$err" | grep -q '"code":-32603' && [ ! -e "$REPO/HELLO.md" ]; then
  verdict apierror "session/prompt failed: $err"
else
  fail apierror "expected a JSON-RPC error, got stop reason '$(stop_reason)' $err"
fi

# autherror: HTTP 401 (informational).
run autherror "Add a greeting. MOCK:autherror"
verdict autherror "$( [ -n "$(rpc_error)" ] && echo "session/prompt failed: $(rpc_error | cut -c1-160)…" || echo "stop reason '$(stop_reason)'")"

# slow: session/cancel lands mid-stream.
run slow "Add a greeting. MOCK:slow" --cancel-after 5 --timeout 90
reason="$(stop_reason)"
verdict slow "cancel sent after 5 s: stop reason ${reason:-none} after ${ELAPSED} s, $(count '"sessionUpdate":"agent_message_chunk"') text chunks before it$(err_suffix)"

# loop: a harmless read on every turn; no turn or budget limit of Codex's own, so the probe's
# timeout ends it.
run loop "Read the README. MOCK:loop" --timeout 15
reason="$(stop_reason)"
verdict loop "$(count '"sessionUpdate":"tool_call","toolCallId"[^}]*"kind":"read"') reads (none asked for), $(count '"method":"session/request_permission"') permission requests in ${ELAPSED} s; $( [ -n "$reason" ] && echo "stop reason $reason" || echo "no stop before the probe's timeout (no turn limit)")"

if [ "$PASS" = 1 ]; then
  echo "codex: default, blocked and apierror behave as documented"
else
  echo "codex: FAILED (see above; KEEP_LOGS=1 keeps the transcripts)"
fi
[ "$PASS" = 1 ]
