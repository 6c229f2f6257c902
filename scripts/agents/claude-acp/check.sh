#!/usr/bin/env bash
# Runs the REAL Claude Code ACP adapter (@zed-industries/claude-agent-acp, see install.sh) against
# a local stand-in for the Anthropic API (mock-api.mjs beside this file) through the bare ACP
# client scripts/acp-probe.mjs, once per scenario, in scratch git repos with a scratch HOME (no
# network but npm, no real keys, nothing of the operator's home used). Prints one verdict line
# per scenario; exits 0 only if default, blocked and apierror behave as docs/agents/claude-acp.md
# says. Then, through the runner itself (target/debug/autopilot serve, its sandbox, agent
# claude-acp), the runs that continue a session: a question answered, and a plan approved; both
# must resume the adapter's session (session/resume) with the earlier turns sent to the model. KEEP=1 keeps the scratch directory (with every probe transcript) for reading.
#   scripts/agents/claude-acp/check.sh
#   CLAUDE_CODE_EXECUTABLE=/path/to/claude scripts/agents/claude-acp/check.sh   # another CLI
#   RUNNER_ONLY=1 scripts/agents/claude-acp/check.sh   # only the runs through the runner
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
HERE=scripts/agents/claude-acp
BIN=$("$HERE/install.sh" | tail -1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/claude-acp-check.XXXXXX")
MOCK_PID=""
PROBE_PID=""
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  # The probe runs in a process group of its own (setsid): killing the group also ends a
  # Claude Code child that outlived its adapter.
  [ -n "$PROBE_PID" ] && kill -KILL -- "-$PROBE_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The stand-in, on a free port (it names it on its first line).
RECORD="$WORK/model-requests.jsonl"
node "$HERE/mock-api.mjs" 0 "$RECORD" > "$WORK/mock.out" 2> "$WORK/mock.log" &
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

# RUNNER_ONLY=1 skips the probe scenarios (only the runs through the runner, below).
if [ -z "${RUNNER_ONLY:-}" ]; then
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
fi

# Through the runner: the question and plan scenarios, over two runs each.
echo "== building the server" >&2
export LEPTOS_OUTPUT_NAME=autopilot
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
AP="$ROOT/target/debug/autopilot"
BOARD_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# The runner's worktrees and the agent's sandbox: not under /tmp (the sandbox has its own).
RW=$(mktemp -d -p "$ROOT/target" claude-acp-runner.XXXXXX)
cp -a "$WORK/template" "$RW/repo"
mkdir -p "$RW/home"
printf '[agents.claude-acp]\ncommand = ["%s"]\n' "$BIN" > "$RW/agents.toml"
ANTHROPIC_API_KEY=sk-mock ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" CLAUDE_CODE_MAX_RETRIES=0 \
  HOME="$RW/home" DATABASE_URL="sqlite://$RW/board.db" AUTOPILOT_RUNNER=1 AUTOPILOT_WORKDIR="$RW/repo" \
  AUTOPILOT_AGENT=claude-acp AUTOPILOT_AGENTS_FILE="$RW/agents.toml" AUTOPILOT_POLL_SECONDS=3 \
  AUTOPILOT_TIMEOUT_SECONDS=150 AUTOPILOT_AGENT_ID=check-claude-acp RUST_LOG=warn \
  "$AP" serve --addr "127.0.0.1:$BOARD_PORT" > "$RW/server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$BOARD_PORT/api/autopilot"
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$BOARD_PORT/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$BOARD_PORT/healthz" >/dev/null || { echo "the runner did not start:" >&2; cat "$RW/server.log" >&2; exit 1; }
DATABASE_URL="sqlite://$RW/board.db" AUTOPILOT_PASSWORD='check password 123' "$AP" user add --email check@example.com --name Check --role admin >/dev/null
TOKEN=$(DATABASE_URL="sqlite://$RW/board.db" "$AP" token create --email check@example.com --name check --scope read,write,move,admin 2>/dev/null | tail -1)
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
json() { node -pe "const v = JSON.parse(require('fs').readFileSync(0)); $1"; }
new_issue() { # TITLE BODY PLAN_FIRST → ID
  ID=$(node -e 'console.log(JSON.stringify({title: process.argv[1], body: process.argv[2], status: "ready", plan_first: process.argv[3] === "true"}))' "$1" "$2" "$3" |
    api -d @- "$URL/issues" | json v.id)
}
wait_for_run() { # until issue $ID is in review or blocked; sets DETAIL, STATUS, RUNS, RUN, LOG
  STATUS=""
  for _ in $(seq 200); do
    DETAIL=$(api "$URL/issues/$ID")
    STATUS=$(json v.status <<<"$DETAIL")
    case "$STATUS" in in_review | blocked) break ;; esac
    sleep 1
  done
  RUNS=$(api "$URL/issues/$ID/runs")
  RUN=$(json 'v[0]?.id ?? 0' <<<"$RUNS")
  LOG=$(api "$URL/runs/$RUN/log" || true)
  printf '%s\n' "$LOG" > "$WORK/run-$RUN.log"
}
run_is() { json 'const r = v[0]; `${r.kind}/${r.outcome}/resumed ${r.resumed}`' <<<"$RUNS"; }
session_of() { json 'v[0].session_id' <<<"$RUNS"; }
# recorded SCENARIO EXPR: EXPR over each request the stand-in recorded for SCENARIO (`e`).
recorded() {
  node -e 'const [file, scenario, expr] = process.argv.slice(1);
    for (const line of require("fs").readFileSync(file, "utf8").split("\n").filter(Boolean)) {
      const e = JSON.parse(line);
      if (e.scenario === scenario) console.log(eval(expr));
    }' "$RECORD" "$1" "$2"
}
on_branch() { git -C "$RW/repo" show "autopilot/issue-$ID:$1" 2>/dev/null || true; }
# How the run opened its session, and what it says when it could not resume.
opening() { grep -o -e '● resuming session [^ ]*' -e '● resumed session [^ ]*' -e '● could not resume the session.*' -e '● no earlier session.*' <<<"$LOG" | tr '\n' ' '; }

new_issue "Add a coloured greeting" "Add GREETING.md in the colour I like. MOCK:question" false
wait_for_run
FIRST="$(run_is), session $(session_of)"
FIRST_SESSION=$(session_of)
[ "$STATUS" = blocked ] || { must resume "the first run left issue #$ID '$STATUS', expected blocked: $LOG" no; }
api -d '{"body": "Navy, please."}' "$URL/issues/$ID/answer" >/dev/null
wait_for_run
GREETING=$(on_branch GREETING.md)
SEEN=$(recorded question 'e.answered && e.turn === 0 && e.earlierTurns && e.resumedPrompt' | grep -c true || true)
if [ "$STATUS" = in_review ] && [ "$(run_is)" = "answer/review/resumed true" ] && grep -q "resumed session $FIRST_SESSION" <<<"$LOG" &&
  [ "$SEEN" -ge 1 ] && grep -q 'I remember: you asked me' <<<"$GREETING"; then
  must resume "question ($FIRST) answered: $(run_is), $(opening)- the model saw its earlier turns; GREETING.md committed" yes
elif [ "$STATUS" = in_review ] && grep -q 'could not resume the session' <<<"$LOG" && grep -q 'I remember nothing' <<<"$GREETING"; then
  must resume "question answered: the adapter could not resume, the runner started afresh with the whole thread: $(opening)" yes
else
  must resume "after the answer: issue '$STATUS', run $(run_is), $(opening), requests with the earlier turns: $SEEN, GREETING.md '$GREETING' (log: $WORK/run-$RUN.log)" no
fi
recorded question '`  question request: turn ${e.turn}, answered ${e.answered}, earlier turns ${e.earlierTurns}, roles ${e.roles}`'

new_issue "Plan a file" "Add PLANNED.md. MOCK:plan" true
wait_for_run
COMMENT=$(json 'v.comments.at(-1)?.body ?? ""' <<<"$DETAIL")
PLANNED="$(run_is), plan_state $(json v.plan_state <<<"$DETAIL"), $(grep -c '● the agent handed over its plan' <<<"$LOG" || true) plan hand-over(s) in the log"
PLAN_SESSION=$(session_of)
OFFERED=$(recorded plan 'e.approved ? "" : e.tools.includes("ExitPlanMode")' | grep -m1 . || true)
if [ "$STATUS" = in_review ] && [ "$(json v.plan_state <<<"$DETAIL")" = proposed ] && grep -Eq '^(\*\*)?Plan(\*\*)?, waiting for approval' <<<"$COMMENT" &&
  grep -q 'Add PLANNED.md' <<<"$COMMENT" && [ -z "$(git -C "$RW/repo" log --format=%h "main..autopilot/issue-$ID" 2>/dev/null)" ]; then
  api -d '{}' "$URL/issues/$ID/plan/approve" >/dev/null
  wait_for_run
  SEEN=$(recorded plan 'e.approved && e.turn === 0 && e.earlierTurns' | grep -c true || true)
  if [ "$STATUS" = in_review ] && [ "$(run_is)" = "work/review/resumed true" ] && grep -q "resumed session $PLAN_SESSION" <<<"$LOG" &&
    [ "$SEEN" -ge 1 ] && [ -n "$(on_branch PLANNED.md)" ]; then
    must plan "plan run ($PLANNED; ExitPlanMode offered: $OFFERED), approved: $(run_is), $(opening)- the model saw the plan run's turns; PLANNED.md committed" yes
  else
    must plan "after the approval: issue '$STATUS', run $(run_is), $(opening), requests with the earlier turns: $SEEN (log: $WORK/run-$RUN.log)" no
  fi
else
  must plan "the plan run: issue '$STATUS', $PLANNED, comment: $(head -c 200 <<<"$COMMENT" | tr '\n' ' ') (log: $WORK/run-$RUN.log)" no
fi
recorded plan '`  plan request: turn ${e.turn}, approved ${e.approved}, earlier turns ${e.earlierTurns}, roles ${e.roles}${e.results ? ", tool result " + e.results : ""}`'
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
[ -n "${KEEP:-}" ] || [ "$ok" = 0 ] || rm -rf "$RW"

if [ "$ok" = 1 ]; then
  echo "OK: claude-agent-acp behaves as documented (default, blocked, apierror, resume, plan)"
else
  echo "FAILED: see the lines above" >&2
  KEEP=1
  exit 1
fi
