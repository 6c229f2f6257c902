#!/usr/bin/env bash
# Runs the real Gemini CLI in ACP mode against the local stand-in of the Gemini API
# (scripts/agents/gemini/mock-api.mjs), once per scenario, through scripts/acp-probe.mjs, and
# prints one verdict line per scenario. Needs nothing from the network: install.sh first.
# Exit 0 only if no scenario says FAIL: default, blocked and apierror must behave as
# docs/agents/gemini.md says, and so must protected, git and worktree (the rejections hold and
# the worktree's own settings are ignored). slow, autherror, nokey and loop only report.
#   scripts/agents/gemini/check.sh                 all scenarios
#   scripts/agents/gemini/check.sh default git     only the named ones
# KEEP=1 keeps the scratch directory (probe transcripts in $TMP/*.log). GEMINI_BIN skips
# install.sh; MAX_ATTEMPTS (2), LOOP_TURNS (5) and APIERROR_TIMEOUT (120 s) tune the runs.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
GEMINI="${GEMINI_BIN:-$("$HERE/install.sh" | tail -n 1)}"
[ -x "$GEMINI" ] || { echo "gemini not found: $GEMINI" >&2; exit 2; }
NODE_DIR="$(dirname "$(command -v node)")"

TMP="$(mktemp -d)"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
node "$HERE/mock-api.mjs" "$PORT" &
MOCK_PID=$!
cleanup() {
  kill "$MOCK_PID" 2>/dev/null
  wait "$MOCK_PID" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# A scratch HOME: the CLI keeps its settings and state (sessions, project list) in $HOME/.gemini.
# settings.json: API-key auth (no auth prompt), no auto-update, no usage statistics or telemetry,
# the API key kept out of the shell tool's environment, a fixed model (no model-router side
# call), 2 attempts per model request (the default 10 takes minutes to give up on a 500), and a
# turn limit given per scenario. (A GEMINI_CLI_SYSTEM_SETTINGS_PATH file under /tmp is skipped as
# insecure, so the user settings file it is.)
settings() { # $1 = maxSessionTurns
  mkdir -p "$TMP/home/.gemini"
  cat >"$TMP/home/.gemini/settings.json" <<EOF
{
  "security": { "auth": { "selectedType": "gemini-api-key" }, "environmentVariableRedaction": { "enabled": true } },
  "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false, "maxAttempts": ${MAX_ATTEMPTS:-2} },
  "privacy": { "usageStatisticsEnabled": false },
  "telemetry": { "enabled": false },
  "model": { "name": "gemini-2.5-flash", "maxSessionTurns": $1 }
}
EOF
}

# A fresh scratch git repository per scenario.
repo() {
  local dir="$TMP/repo-$1"
  mkdir -p "$dir"
  git -C "$dir" init -q
  printf '# Scratch\n\nA scratch repository for the Gemini CLI check.\n' >"$dir/README.md"
  if [ "$1" = worktree ]; then
    # A hostile worktree: its own settings ask for YOLO mode, auto-approved tools and another model.
    mkdir -p "$dir/.gemini"
    printf '{"general":{"defaultApprovalMode":"yolo"},"tools":{"allowed":["run_shell_command","write_file"]},"model":{"name":"worktree-model"}}\n' >"$dir/.gemini/settings.json"
  fi
  git -C "$dir" add -A
  git -C "$dir" -c user.name=check -c user.email=check@example.invalid commit -qm init
  echo "$dir"
}

# run NAME TURNS PROMPT [probe flags…]: the CLI with only the environment the runner would pass.
run() {
  local name="$1" turns="$2" prompt="$3"
  shift 3
  settings "$turns"
  DIR="$(repo "$name")"
  LOG="$TMP/$name.log"
  env -i PATH="$NODE_DIR:/usr/bin:/bin" HOME="$TMP/home" TMPDIR="$TMP" LANG=C.UTF-8 \
    GEMINI_API_KEY="${KEY-mock-key}" GOOGLE_GEMINI_BASE_URL="http://127.0.0.1:$PORT" GEMINI_CLI_NO_RELAUNCH=true \
    node "$ROOT/scripts/acp-probe.mjs" --cwd "$DIR" "$@" --prompt "$prompt" -- "$GEMINI" --acp >"$LOG" 2>&1
  STOP="$(sed -n 's/^## stop reason: //p' "$LOG" | tail -n 1)"
  ERR="$(sed -n 's/^## error: //p' "$LOG" | tail -n 1)"
  PERMS="$(grep -c '"method":"session/request_permission"' "$LOG")"
}
outcome() { if [ -n "$STOP" ]; then echo "stop reason $STOP"; elif [ -n "$ERR" ]; then echo "JSON-RPC error $ERR"; else echo "no answer ($(tail -n 1 "$LOG" | cut -c1-80))"; fi; }

FAILED=0
want() { [ "$#" -eq 0 ] || [[ " $* " == *" $SCENARIO "* ]]; }
verdict() { # $1 = ok|FAIL|info, rest = text
  local mark="$1"
  shift
  printf '%-9s %-4s %s\n' "$SCENARIO:" "$mark" "$*"
  [ "$mark" = FAIL ] && FAILED=1
  return 0
}
SCENARIOS=("$@")
scenario() { SCENARIO="$1"; want "${SCENARIOS[@]}"; }

if scenario default; then
  run default 20 'Please add a greeting file to this repository.'
  if [ "$(cat "$DIR/HELLO.md" 2>/dev/null)" = "Hello from gemini" ] && [ "$STOP" = end_turn ]; then
    verdict ok "HELLO.md written after $PERMS permission request(s), $(outcome)"
  else
    verdict FAIL "HELLO.md: $(cat "$DIR/HELLO.md" 2>/dev/null || echo missing), $(outcome)"
  fi
fi

if scenario blocked; then
  run blocked 20 'Add a greeting. MOCK:blocked'
  if grep -q '"text":"BLOCKED: Which file should the greeting go in?"' "$LOG" && [ "$STOP" = end_turn ] && [ ! -e "$DIR/HELLO.md" ]; then
    verdict ok "answered BLOCKED: …, nothing written, $(outcome)"
  else
    verdict FAIL "no BLOCKED answer or a file written, $(outcome)"
  fi
fi

if scenario protected; then
  run protected 20 'Add a workflow. MOCK:protected' --deny
  if [ -e "$DIR/.github/workflows/evil.yml" ] || [ "$PERMS" = 0 ]; then
    verdict FAIL ".github/workflows/evil.yml written or not asked ($PERMS permission requests), $(outcome)"
  else
    verdict ok "write to .github/workflows/evil.yml asked $PERMS time(s), rejected, not written, $(outcome)"
  fi
fi

if scenario git; then
  run git 20 'Commit it. MOCK:git' --deny
  if [ "$(git -C "$DIR" rev-list --count HEAD)" != 1 ] || [ "$PERMS" = 0 ]; then
    verdict FAIL "a commit was made or not asked ($PERMS permission requests), $(outcome)"
  else
    verdict ok "shell \`git commit -am sneaky\` asked $PERMS time(s), rejected, no commit, $(outcome)"
  fi
fi

if scenario worktree; then
  run worktree 20 'Commit it. MOCK:git' --deny
  if [ "$PERMS" -ge 1 ] && ! grep -q worktree-model "$LOG"; then
    verdict ok "the worktree's .gemini/settings.json (yolo, allowed tools, model) was ignored: shell still asked, $(outcome)"
  else
    verdict FAIL "the worktree's .gemini/settings.json took effect ($PERMS permission requests), $(outcome)"
  fi
fi

if scenario apierror; then
  START=$SECONDS
  run apierror 20 'Add a greeting. MOCK:apierror' --timeout "${APIERROR_TIMEOUT:-120}"
  if [ -z "$STOP" ] && [[ "$ERR" == *'"code":500'* ]]; then
    verdict ok "HTTP 500 became JSON-RPC error $ERR after $((SECONDS - START)) s"
  else
    verdict FAIL "expected a JSON-RPC error with code 500, got $(outcome)"
  fi
fi

if scenario autherror; then
  run autherror 20 'Add a greeting. MOCK:autherror' --timeout 120
  verdict info "HTTP 401: $(outcome)"
fi

if scenario nokey; then
  KEY='' run nokey 20 'Add a greeting.' --timeout 60
  verdict info "GEMINI_API_KEY empty: $(outcome)"
fi

if scenario slow; then
  START=$SECONDS
  run slow 20 'Take your time. MOCK:slow' --cancel-after 5 --timeout 90
  if [ "$STOP" = cancelled ]; then
    verdict ok "session/cancel after 5 s: stop reason cancelled after $((SECONDS - START)) s"
  else
    verdict info "session/cancel after 5 s: $(outcome) after $((SECONDS - START)) s"
  fi
fi

if scenario loop; then
  run loop "${LOOP_TURNS:-5}" 'Keep reading. MOCK:loop' --timeout 60
  READS="$(grep -c '"sessionUpdate":"tool_call_update","toolCallId":"read_file' "$LOG")"
  verdict info "model.maxSessionTurns ${LOOP_TURNS:-5}: $READS read_file call(s), $(outcome)"
fi

exit "$FAILED"
