#!/usr/bin/env bash
# Runs issues through the runner with a REAL agent CLI from npm, spoken to over the Agent Client
# Protocol, in the runner's sandbox, against a local stand-in of its vendor's API
# (scripts/agents/<name>/mock-api.mjs): no credentials and no network beyond npm. For each
# agent: an edit that lands on the branch, a BLOCKED: answer, an attempt on a protected path
# (refused, nothing committed), an API error, a run past its turn limit, and a cancel mid-run.
# About a minute an agent, OpenCode two (it retries an API error for about 70 s).
#   scripts/real-agent-check.sh                  every agent below
#   scripts/real-agent-check.sh gemini codex     only these
# The contracts behind each agent's settings: docs/agents/<name>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export LEPTOS_OUTPUT_NAME=autopilot
AGENTS=("$@")
[ ${#AGENTS[@]} -gt 0 ] || AGENTS=(gemini claude-acp codex opencode)

echo "== building the server" >&2
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
BIN="$ROOT/target/debug/autopilot"
mkdir -p "$ROOT/target"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
json() { node -pe "const v = JSON.parse(require('fs').readFileSync(0)); $1"; }

check_agent() {
  local NAME=$1
  local PROGRAM WORK API_PORT BOARD_PORT
  PROGRAM=$("scripts/agents/$NAME/install.sh" | tail -n 1)
  WORK=$(mktemp -d -p "$ROOT/target" "real-agent-$NAME.XXXXXX")
  API_PORT=$(free_port)
  BOARD_PORT=$(free_port)
  local pids=()
  cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
  trap cleanup RETURN
  node "scripts/agents/$NAME/mock-api.mjs" "$API_PORT" > "$WORK/mock.log" 2>&1 &
  pids+=($!)

  # What each CLI needs to reach the stand-in (docs/agents/<name>.md, "Runner settings").
  local VARS=() FILE="$WORK/agents.toml"
  case "$NAME" in
    gemini)
      VARS=(GEMINI_API_KEY=mock-key "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:$API_PORT")
      printf '[agents.gemini]\ncommand = ["%s", "--acp"]\n' "$PROGRAM" > "$FILE" ;;
    claude-acp)
      VARS=(ANTHROPIC_API_KEY=sk-mock "ANTHROPIC_BASE_URL=http://127.0.0.1:$API_PORT" CLAUDE_CODE_MAX_RETRIES=0)
      printf '[agents.claude-acp]\ncommand = ["%s"]\n' "$PROGRAM" > "$FILE" ;;
    codex)
      VARS=(OPENAI_API_KEY=sk-mock)
      cat > "$FILE" <<EOF
[agents.codex]
command = ["$PROGRAM", "-c", "approval_policy=\"untrusted\"", "-c", "sandbox_mode=\"danger-full-access\"",
  "-c", "features.shell_snapshot=false", "-c", "model_provider=\"mock\"",
  "-c", "model_providers.mock={name=\"mock\", base_url=\"http://127.0.0.1:$API_PORT/v1\", wire_api=\"responses\", env_key=\"OPENAI_API_KEY\", request_max_retries=0, stream_max_retries=0}"]
EOF
      ;;
    opencode)
      VARS=(OPENAI_API_KEY=mock-key)
      cat > "$FILE" <<EOF
[agents.opencode]
command = ["$PROGRAM", "acp"]
[agents.opencode.set_env]
OPENCODE_CONFIG_CONTENT = '{"provider":{"mock":{"npm":"@ai-sdk/openai-compatible","name":"Mock","options":{"baseURL":"http://127.0.0.1:$API_PORT/v1","apiKey":"{env:OPENAI_API_KEY}"},"models":{"mock-model":{"name":"Mock model","limit":{"context":128000,"output":4096},"cost":{"input":1,"output":2}}}}},"model":"mock/mock-model","small_model":"mock/mock-model","autoupdate":false,"share":"disabled","snapshot":false,"permission":{"edit":"ask","bash":"ask","webfetch":"ask","external_directory":"deny"}}'
EOF
      ;;
    *) echo "no settings for agent $NAME" >&2; return 1 ;;
  esac

  mkdir -p "$WORK/repo" "$WORK/home"
  git -C "$WORK/repo" init --quiet --initial-branch=main
  printf '# Scratch\n\nA scratch repository.\n' > "$WORK/repo/README.md"
  git -C "$WORK/repo" add README.md
  git -C "$WORK/repo" -c user.name=check -c user.email=check@example.com commit --quiet -m init

  env "${VARS[@]}" HOME="$WORK/home" DATABASE_URL="sqlite://$WORK/board.db" \
    AUTOPILOT_RUNNER=1 AUTOPILOT_WORKDIR="$WORK/repo" AUTOPILOT_AGENT="$NAME" AUTOPILOT_AGENTS_FILE="$FILE" \
    AUTOPILOT_POLL_SECONDS=3 AUTOPILOT_TIMEOUT_SECONDS=150 AUTOPILOT_MAX_TURNS=4 AUTOPILOT_AGENT_ID="check-$NAME" RUST_LOG=warn \
    "$BIN" serve --addr "127.0.0.1:$BOARD_PORT" > "$WORK/server.log" 2>&1 &
  pids+=($!)
  local URL="http://127.0.0.1:$BOARD_PORT"
  for _ in $(seq 120); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.5; done
  DATABASE_URL="sqlite://$WORK/board.db" AUTOPILOT_PASSWORD='check password 123' \
    "$BIN" user add --email check@example.com --name Check --role admin >/dev/null
  local TOKEN
  TOKEN=$(DATABASE_URL="sqlite://$WORK/board.db" "$BIN" token create --email check@example.com --name check --scope read,write,move,admin | tail -1)
  api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
  fail() {
    echo "FAILED ($NAME): $*" >&2
    echo "== run log" >&2; api "$URL/api/autopilot/runs/$RUN/log" >&2 || true
    echo "== server log" >&2; tail -50 "$WORK/server.log" >&2
    return 1
  }
  file_issue() { # title → ID
    ID=$(node -e 'console.log(JSON.stringify({title: process.argv[1], body: "Work on the scratch repository.", status: "ready"}))' "$1" |
      api -d @- "$URL/api/autopilot/issues" | json v.id)
  }
  wait_for_run() { # until issue $ID leaves ready/in progress; sets STATUS, DETAIL, RUN, LOG, COMMENT
    STATUS=""
    for _ in $(seq 200); do
      DETAIL=$(api "$URL/api/autopilot/issues/$ID")
      STATUS=$(json v.status <<<"$DETAIL")
      case "$STATUS" in in_review | blocked | backlog | done) break ;; esac
      sleep 1
    done
    RUN=$(api "$URL/api/autopilot/issues/$ID/runs" | json 'v[0]?.id ?? 0')
    LOG=$(api "$URL/api/autopilot/runs/$RUN/log" || true)
    COMMENT=$(json 'v.comments.at(-1)?.body ?? ""' <<<"$DETAIL")
  }
  local started
  started=$(date +%s)

  file_issue "Add a greeting file"
  wait_for_run
  [ "$STATUS" = in_review ] || { fail "edit: issue #$ID is '$STATUS': $COMMENT"; return 1; }
  git -C "$WORK/repo" show --name-only --format= "autopilot/issue-$ID" | grep -qx HELLO.md ||
    { fail "edit: the branch does not hold HELLO.md"; return 1; }
  echo "ok ($NAME) edit: HELLO.md committed on autopilot/issue-$ID, in review"

  file_issue "Which file? MOCK:blocked"
  wait_for_run
  [ "$STATUS" = blocked ] && grep -q "Which file should the greeting go in?" <<<"$COMMENT" ||
    { fail "blocked: issue #$ID is '$STATUS': $COMMENT"; return 1; }
  echo "ok ($NAME) blocked: the question is on the issue"

  file_issue "Change the CI MOCK:protected"
  wait_for_run
  if git -C "$WORK/repo" log --all --name-only --format= | grep -q '^.github/'; then
    fail "protected: a commit holds .github/"; return 1
  fi
  [ "$STATUS" != in_review ] || grep -q "refused" <<<"$COMMENT" || { fail "protected: in review without a refusal: $COMMENT"; return 1; }
  grep -q "✗ refused" <<<"$LOG" || { fail "protected: the log shows no refusal"; return 1; }
  echo "ok ($NAME) protected: refused, nothing committed (issue '$STATUS')"

  file_issue "Break it MOCK:apierror"
  wait_for_run
  [ "$STATUS" = blocked ] && grep -q "The agent failed" <<<"$COMMENT" ||
    { fail "apierror: issue #$ID is '$STATUS': $COMMENT"; return 1; }
  echo "ok ($NAME) apierror: blocked, $(head -c 160 <<<"$COMMENT" | tr '\n' ' ')"

  file_issue "Read forever MOCK:loop"
  wait_for_run
  [ "$STATUS" = blocked ] && grep -q "max_turns" <<<"$COMMENT" ||
    { fail "turns: issue #$ID is '$STATUS': $COMMENT"; return 1; }
  echo "ok ($NAME) turns: stopped at the turn limit"

  file_issue "Take your time MOCK:slow"
  for _ in $(seq 120); do
    [ "$(api "$URL/api/autopilot/issues/$ID" | json v.status)" = in_progress ] && break
    sleep 0.5
  done
  sleep 5
  curl -sf -H "Authorization: Bearer $TOKEN" -d "issue_id=$ID" "$URL/api/cancel_run" > /dev/null
  wait_for_run
  [ "$STATUS" = blocked ] && grep -q "cancelled by" <<<"$COMMENT" ||
    { fail "cancel: issue #$ID is '$STATUS': $COMMENT"; return 1; }
  echo "ok ($NAME) cancel: stopped mid-run, blocked"
  echo "OK: $NAME worked six issues through the runner in $(( $(date +%s) - started )) s"
}

for agent in "${AGENTS[@]}"; do
  echo "== $agent" >&2
  check_agent "$agent"
done
