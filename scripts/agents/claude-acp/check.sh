#!/usr/bin/env bash
# Runs the REAL Claude Code ACP adapter (@zed-industries/claude-agent-acp, see install.sh) against
# a local stand-in for the Anthropic API (mock-api.mjs beside this file) through the bare ACP
# client scripts/acp-probe.mjs, once per scenario, in scratch git repos with a scratch HOME (no
# network but npm, no real keys, nothing of the operator's home used). Prints one verdict line
# per scenario; exits 0 only if default, blocked and apierror behave as docs/agents/claude-acp.md
# says. KEEP=1 keeps the scratch directory (with every probe transcript) for reading.
#   scripts/agents/claude-acp/check.sh
#   CLAUDE_CODE_EXECUTABLE=/path/to/claude scripts/agents/claude-acp/check.sh   # another CLI
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
HERE=scripts/agents/claude-acp
BIN=$("$HERE/install.sh" | tail -1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/claude-acp-check.XXXXXX")
MOCK_PID=""
PROBE_PID=""
cleanup() {
  # The probe runs in a process group of its own (setsid): killing the group also ends a
  # Claude Code child that outlived its adapter.
  [ -n "$PROBE_PID" ] && kill -KILL -- "-$PROBE_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The stand-in, on a free port (it names it on its first line).
node "$HERE/mock-api.mjs" 0 > "$WORK/mock.out" 2> "$WORK/mock.log" &
MOCK_PID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/mock.out" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the mock API did not start" >&2; cat "$WORK/mock.log" >&2; exit 1; }

# A template repo: git, a README.md, one commit.
mkdir -p "$WORK/template"
git -C "$WORK/template" init --quiet --initial-branch=main
echo "# scratch" > "$WORK/template/README.md"
git -C "$WORK/template" add README.md
git -C "$WORK/template" -c user.name=check -c user.email=check@example.com commit --quiet -m init

# probe NAME PROMPT [probe flags…]: runs the adapter on a fresh copy of the template with a
# scratch HOME and TMPDIR and only the environment the runner would give it; the transcript goes
# to $WORK/NAME.out, the repo is $WORK/NAME.
probe() {
  local name=$1 prompt=$2
  shift 2
  cp -a "$WORK/template" "$WORK/$name"
  mkdir -p "$WORK/home-$name" "$WORK/tmp-$name"
  local extra=()
  [ -n "${CLAUDE_CODE_EXECUTABLE:-}" ] && extra+=("CLAUDE_CODE_EXECUTABLE=$CLAUDE_CODE_EXECUTABLE")
  setsid env -i PATH="$(dirname "$(command -v node)"):/usr/bin:/bin" HOME="$WORK/home-$name" TMPDIR="$WORK/tmp-$name" \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=sk-mock \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_MAX_RETRIES=0 "${extra[@]}" \
    node "$ROOT/scripts/acp-probe.mjs" --cwd "$WORK/$name" "$@" --prompt "$prompt" -- "$BIN" \
    > "$WORK/$name.out" 2>&1 &
  PROBE_PID=$!
  wait "$PROBE_PID" || true
  kill -KILL -- "-$PROBE_PID" 2>/dev/null || true
  PROBE_PID=""
}
stop_reason() { sed -n 's/^## stop reason: //p' "$WORK/$1.out" | tail -1; }
error_of() { sed -n 's/^## error: //p' "$WORK/$1.out" | tail -1; }
cost_of() { grep -o '"cost":{"amount":[0-9.e-]*' "$WORK/$1.out" | tail -1 | sed 's/.*://' | xargs printf '%.4f'; }
changes() { git -C "$WORK/$1" status --porcelain --untracked-files=all | tr '\n' ' '; }

ok=1
verdict() { printf '%-10s %s\n' "$1:" "$2"; }
must() { verdict "$1" "$2"; if [ "$3" != yes ]; then ok=0; echo "  (not as documented; transcript: $WORK/$1.out)" >&2; fi; }

# default: the model writes HELLO.md with the Write tool; the probe allows it once.
probe default "Create HELLO.md with a greeting."
reason=$(stop_reason default)
if [ "$(cat "$WORK/default/HELLO.md" 2>/dev/null)" = "Hello from claude-acp" ] && [ "$reason" = end_turn ] &&
  grep -q '"kind":"edit"' "$WORK/default.out" && grep -q '"sessionUpdate":"usage_update"' "$WORK/default.out"; then
  must default "edit: HELLO.md written after one permission request, stop reason end_turn, cost \$$(cost_of default)" yes
else
  must default "edit: HELLO.md $( [ -f "$WORK/default/HELLO.md" ] && echo present || echo missing), stop reason '${reason:-none}' $(error_of default)" no
fi

# blocked: a text answer only.
probe blocked "Add a greeting somewhere. MOCK:blocked"
reason=$(stop_reason blocked)
if [ "$reason" = end_turn ] && grep -q '"text":"BLOCKED: Which file' "$WORK/blocked.out" && [ -z "$(changes blocked)" ]; then
  must blocked "answer: BLOCKED: Which file should the greeting go in? (no changes), stop reason end_turn" yes
else
  must blocked "stop reason '${reason:-none}', changes: $(changes blocked) $(error_of blocked)" no
fi

# apierror: HTTP 500 (no retries: CLAUDE_CODE_MAX_RETRIES=0) ends session/prompt with -32603.
probe apierror "Create HELLO.md. MOCK:apierror" --timeout 120
err=$(error_of apierror)
if grep -q '"code":-32603' <<<"$err" && grep -q 'API Error: 500' <<<"$err"; then
  must apierror "session/prompt failed: -32603 Internal error: API Error: 500 {…api_error…}" yes
else
  must apierror "stop reason '$(stop_reason apierror)', error: ${err:-none}" no
fi

# The rest is reported, not required.
probe autherror "Create HELLO.md. MOCK:autherror" --timeout 120
verdict autherror "session/prompt: $(error_of autherror | cut -c1-120)$(stop_reason autherror)"

probe protected "Add a workflow. MOCK:protected" --deny
asked=$(grep -c '"method":"session/request_permission".*"title":"Write .github/workflows/evil.yml"' "$WORK/protected.out" || true)
verdict protected "asked $asked time(s) for Write .github/workflows/evil.yml, rejected; file $( [ -f "$WORK/protected/.github/workflows/evil.yml" ] && echo WRITTEN || echo absent), stop reason $(stop_reason protected)"

probe git "Commit the work. MOCK:git" --deny
asked=$(grep -c '"method":"session/request_permission".*"kind":"execute"' "$WORK/git.out" || true)
commits=$(git -C "$WORK/git" rev-list --count HEAD)
verdict git "asked $asked time(s) for execute 'git commit -am sneaky', rejected; $commits commit(s) on main, stop reason $(stop_reason git)"

probe slow "Say something long. MOCK:slow" --cancel-after 5 --timeout 90
verdict slow "cancelled after 5 s: stop reason $(stop_reason slow)$(error_of slow)"

probe loop "Keep reading. MOCK:loop" --timeout 10
reads=$(grep -c '"sessionUpdate":"tool_call","rawInput":{},"status":"pending","title":"Read' "$WORK/loop.out" || true)
asked=$(grep -c '"method":"session/request_permission"' "$WORK/loop.out" || true)
verdict loop "$reads Read tool calls in 10 s, $asked permission requests, $(grep -q 'timed out' "$WORK/loop.out" && echo 'no end (probe timed out)' || echo "stop reason $(stop_reason loop)")"

if [ "$ok" = 1 ]; then
  echo "OK: claude-agent-acp behaves as documented (default, blocked, apierror)"
else
  echo "FAILED: see the lines above" >&2
  KEEP=1
  exit 1
fi
