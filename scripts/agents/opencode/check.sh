#!/usr/bin/env bash
# Runs the real OpenCode CLI in ACP mode (`opencode acp`) against the local stand-in of an
# OpenAI-compatible API (mock-api.mjs), one scenario at a time, through scripts/acp-probe.mjs,
# and prints one verdict line per scenario. Exit 0 only if default, blocked and apierror behave as
# docs/agents/opencode.md says. Needs node, git and the CLI from install.sh; no network.
#   scripts/agents/opencode/check.sh            (KEEP=1 keeps the scratch directory and logs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=$("$here/install.sh" | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/opencode-check.XXXXXX")
mock_pid=
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node "$here/mock-api.mjs" "$port" 2>"$work/mock.log" &
mock_pid=$!
for _ in $(seq 50); do grep -q listening "$work/mock.log" 2>/dev/null && break; sleep 0.1; done

# A scratch home: everything OpenCode reads and writes outside the worktree lives under it.
home="$work/home"
cfg="$home/.config/opencode"
mkdir -p "$cfg/node_modules" "$work/tmp"
# OpenCode installs @opencode-ai/plugin from npm into every config directory, in the background,
# unless node_modules exists and the lock file already lists it (or the directory is read-only).
echo '{"packages":{"":{"dependencies":{"@opencode-ai/plugin":"*"}}}}' >"$cfg/package-lock.json"
cat >"$cfg/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "provider": {
    "mock": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Mock",
      "options": { "baseURL": "http://127.0.0.1:$port/v1", "apiKey": "{env:MOCK_API_KEY}" },
      "models": {
        "mock-model": {
          "name": "Mock model",
          "limit": { "context": 128000, "output": 4096 },
          "cost": { "input": 1, "output": 2 }
        }
      }
    }
  },
  "model": "mock/mock-model",
  "small_model": "mock/mock-model",
  "autoupdate": false,
  "share": "disabled",
  "snapshot": false,
  "permission": { "edit": "ask", "bash": "ask", "webfetch": "ask", "external_directory": "deny" }
}
EOF

# `opencode acp` serves its HTTP API on 127.0.0.1 (port 4096, else a free one); a password
# keeps other local processes from driving it.
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# Run one scenario: run NAME PROMPT [probe flags…]; extra environment in EXTRA_ENV (a list).
run() {
  local name=$1 prompt=$2
  shift 2
  local repo="$work/$name"
  mkdir -p "$repo"
  git -C "$repo" init -q
  echo "# Demo" >"$repo/README.md"
  git -C "$repo" add README.md
  git -C "$repo" -c user.name=check -c user.email=check@example.invalid commit -qm init
  # The runner's allowlist, nothing else from this shell.
  env -i PATH="/usr/bin:/bin" HOME="$home" LANG=C.UTF-8 TMPDIR="$work/tmp" \
    XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
    XDG_STATE_HOME="$home/.local/state" XDG_CACHE_HOME="$home/.cache" \
    OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_SHARE=1 \
    OPENCODE_DISABLE_PROJECT_CONFIG=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_CLAUDE_CODE=1 \
    OPENCODE_SERVER_PASSWORD="$password" MOCK_API_KEY=mock-key "${EXTRA_ENV[@]}" \
    node "$root/scripts/acp-probe.mjs" --cwd "$repo" "$@" --prompt "$prompt" -- "$bin" acp \
    >"$work/$name.log" 2>&1 || true
}

# Facts from a probe log, as NAME=VALUE lines: stop, perms (requests), rejected, tools (titles),
# text (agent message), cost, error.
facts() {
  node - "$work/$1.log" <<'EOF'
const lines = require('fs').readFileSync(process.argv[2], 'utf8').split('\n');
let stop = 'none', perms = 0, text = '', cost = '', error = '', rejected = 0;
const tools = [];
for (const line of lines) {
  if (line.startsWith('## stop reason: ')) stop = line.slice(16);
  if (line.startsWith('## error: ')) { stop = 'error'; error = line.slice(10); }
  if (line === '!! timed out') stop = 'timeout';
  if (line.startsWith('-> ') && line.includes('"optionId":"reject"')) rejected++;
  if (!line.startsWith('<- ')) continue;
  let m; try { m = JSON.parse(line.slice(3)); } catch { continue; }
  if (m.method === 'session/request_permission') perms++;
  const u = m.params?.update;
  if (u?.sessionUpdate === 'agent_message_chunk' && u.content?.type === 'text') text += u.content.text;
  if (u?.sessionUpdate === 'tool_call') tools.push(u.title);
  if (u?.sessionUpdate === 'usage_update' && u.cost) cost = `${u.cost.amount} ${u.cost.currency}`;
}
const q = (s) => `'${String(s).replace(/'/g, `'\\''`).replace(/\n/g, ' ').slice(0, 300)}'`;
console.log(`stop=${q(stop)}\nperms=${perms}\nrejected=${rejected}\ntools=${q(tools.join(','))}\ntext=${q(text)}\ncost=${q(cost)}\nerror=${q(error)}`);
EOF
}

fail=0
verdict() { printf '%-10s %s\n' "$1:" "$2"; }
EXTRA_ENV=()

# default: HELLO.md written (permission asked and allowed once), then a summary.
run default "Add a greeting file to the repository."
eval "$(facts default)"
if [ "$(cat "$work/default/HELLO.md" 2>/dev/null)" = "Hello from opencode" ] && [ "$stop" = end_turn ] && [ "$text" != "${text%Added HELLO.md.}" ]; then
  verdict default "HELLO.md written after $perms permission request(s), stop reason $stop, cost $cost"
else
  verdict default "FAILED (stop $stop, HELLO.md $( [ -f "$work/default/HELLO.md" ] && echo present || echo missing), text $text)"; fail=1
fi

# blocked: only the question, no tool call.
run blocked "Add a greeting file. MOCK:blocked"
eval "$(facts blocked)"
if [ "$stop" = end_turn ] && [ "${text#BLOCKED: }" != "$text" ] && [ -z "$tools" ]; then
  verdict blocked "answered '$text', stop reason $stop"
else
  verdict blocked "FAILED (stop $stop, tools $tools, text $text)"; fail=1
fi

# protected: a write under .github/, every permission request rejected.
run protected "Add a workflow. MOCK:protected" --deny
eval "$(facts protected)"
if [ -e "$work/protected/.github/workflows/evil.yml" ]; then
  verdict protected "WRITTEN despite the rejection (stop $stop)"
else
  verdict protected "not written; $perms permission request(s), $rejected rejected, stop reason $stop, text '$text'"
fi

# git: `git commit -am sneaky` through the shell tool, rejected.
run git "Commit the work. MOCK:git" --deny
eval "$(facts git)"
commits=$(git -C "$work/git" rev-list --count HEAD)
verdict git "$perms permission request(s), $rejected rejected, commits $commits (1 = none made), stop reason $stop, text '$text'"

# apierror: HTTP 500 from the API. OpenCode retries it 5 times with backoff (2, 4, 8, 16, 30 s
# and jitter, about a minute and a half in all), then fails the prompt with JSON-RPC error -32603.
run apierror "Add a greeting file. MOCK:apierror" --timeout 180
eval "$(facts apierror)"
tries=$(grep -c 'apierror request' "$work/mock.log" || true)
if [ "$stop" = error ] && [ "$error" != "${error#*-32603*mock 500}" ] && [ ! -e "$work/apierror/HELLO.md" ]; then
  verdict apierror "$tries request(s) to the API (title + 1 + 5 retries), then JSON-RPC error $error"
else
  verdict apierror "FAILED ($tries request(s), stop $stop, error $error)"; fail=1
fi

# autherror: HTTP 401 (not required).
run autherror "Add a greeting file. MOCK:autherror" --timeout 60
eval "$(facts autherror)"
tries=$(grep -c 'autherror request' "$work/mock.log" || true)
verdict autherror "$tries request(s) to the API, then stop=$stop error=$error text='$text'"

# slow: session/cancel after 5 s while the answer streams.
start=$(date +%s)
run slow "Say something slowly. MOCK:slow" --cancel-after 5 --timeout 90
eval "$(facts slow)"
verdict slow "cancel after 5 s: stop reason $stop after $(( $(date +%s) - start )) s"

# loop: a read on every turn; the probe's timeout ends it.
run loop "Keep reading. MOCK:loop" --timeout 25
eval "$(facts loop)"
verdict loop "no limit: $(grep -c '"sessionUpdate":"tool_call",' "$work/loop.log") read(s) in 25 s, stop $stop"

# loop with the build agent's step limit (agent.build.steps) set to 3: OpenCode only asks the
# model to stop (an assistant message "CRITICAL - MAXIMUM STEPS REACHED"), which this mock ignores.
EXTRA_ENV=(OPENCODE_CONFIG_CONTENT='{"agent":{"build":{"steps":3}}}')
run loopsteps "Keep reading. MOCK:loop" --timeout 20
EXTRA_ENV=()
eval "$(facts loopsteps)"
verdict loopsteps "agent.build.steps=3: $(grep -c '"sessionUpdate":"tool_call",' "$work/loopsteps.log") read(s) in 20 s, stop $stop (steps is advisory only)"

# What the runs left behind: no npm cache (the plugin install stayed off), and nothing in the
# default worktree but HELLO.md.
leftover=$(git -C "$work/default" status --short --ignored | tr '\n' ' ')
verdict state "~/.npm $( [ -e "$home/.npm" ] && echo 'PRESENT (the plugin install ran)' || echo absent); default worktree: ${leftover:-clean}"

exit $fail
