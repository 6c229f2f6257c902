#!/usr/bin/env bash
# Webhook delivery end to end, checked by a receiver nobody here wrote the verification of:
# scripts/webhook-receiver.py verifies each request with the Standard Webhooks reference
# library (PyPI `standardwebhooks`, pinned; in a venv of its own under the tools directory).
# The real binary on a fresh SQLite board: signed delivery in order, a receiver that is down
# for a while, kill -9 of the server mid-delivery (at least once, nothing lost), secret
# rotation, and the lag from event to receipt at 100 events/s (a figure, not a verdict).
# Part of scripts/test.sh; run it alone after changing webhooks. About two minutes (the kill -9
# check waits out the dead server's 30 s lease).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD
SW_VERSION="${STANDARDWEBHOOKS_VERSION:-1.0.0}"
VENV="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/standardwebhooks-$SW_VERSION"
PORT="${WEBHOOK_CHECK_PORT:-3135}"
RPORT="${WEBHOOK_RECEIVER_PORT:-3136}"
export LEPTOS_OUTPUT_NAME=autopilot

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "== installing standardwebhooks==$SW_VERSION (PyPI) into $VENV" >&2
  python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "standardwebhooks==$SW_VERSION"
fi
PY="$VENV/bin/python"
cargo build --quiet -p server --bin autopilot --no-default-features --features runner
BIN="$ROOT/target/debug/autopilot"

WORK=$(mktemp -d -p "$ROOT/target" webhook-check.XXXXXX)
pid=""
rpid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export DATABASE_URL="sqlite://$WORK/board.db"
BASE="http://127.0.0.1:$PORT"
LOG="$WORK/received.jsonl"
SECRET_FILE="$WORK/secret"
EXPECTED="$WORK/expected"
: > "$LOG"

fail() {
  echo "FAIL: $*" >&2
  echo "-- the server's log (last 40 lines):" >&2
  tail -40 "$WORK/server.log" >&2 || true
  echo "-- the receiver's log (last 10 lines):" >&2
  tail -10 "$LOG" >&2 || true
  exit 1
}
start_server() {
  RUST_LOG="warn,server::webhooks=info" "$BIN" serve --addr "127.0.0.1:$PORT" >> "$WORK/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/healthz" > /dev/null && return; sleep 0.2; done
  fail "the server did not start"
}
start_receiver() { # [--delay SECONDS]
  "$PY" scripts/webhook-receiver.py --port "$RPORT" --secret-file "$SECRET_FILE" --log "$LOG" "$@" \
    >> "$WORK/receiver.out" 2>&1 &
  rpid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$RPORT/" > /dev/null && return; sleep 0.1; done
  fail "the receiver did not start"
}
stop_receiver() { kill "$rpid"; wait "$rpid" 2>/dev/null || true; rpid=""; }
api() { # METHOD PATH [JSON]
  curl -sS --fail-with-body -X "$1" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' ${3:+--data "$3"} "$BASE$2" || fail "$1 $2 answered an error"
}
json() { "$PY" -c "import json,sys; v=json.load(sys.stdin); print($1)"; }
mark() { wc -l < "$LOG"; }
# Events: each one made is written to $EXPECTED as "type issue-id", in the order made.
new_issue() {
  local id
  id=$(api POST /api/autopilot/issues "{\"title\": \"$1\"}" | json "v['id']")
  echo "issue.created $id" >> "$EXPECTED"
  echo "$id"
}
comment() { api POST "/api/autopilot/issues/$1/comments" "{\"body\": \"$2\"}" > /dev/null; echo "issue.commented $1" >> "$EXPECTED"; }
move() { api POST "/api/autopilot/issues/$1/status" "{\"status\": \"$2\"}" > /dev/null; echo "issue.moved $1" >> "$EXPECTED"; }
assign() { api PATCH "/api/autopilot/issues/$1" "{\"assignee\": \"$2\"}" > /dev/null; echo "issue.assigned $1" >> "$EXPECTED"; }

# The checks on what the receiver logged, from line MARK on.
cat > "$WORK/hooks.py" <<'PYEOF'
import json, sys, time
cmd, log, mark = sys.argv[1], sys.argv[2], int(sys.argv[3])

def entries():
    with open(log) as f:
        return [json.loads(line) for line in f.readlines()[mark:] if line.strip()]

if cmd == "wait":  # N TIMEOUT: until N distinct webhook-ids verified
    want, timeout = int(sys.argv[4]), float(sys.argv[5])
    deadline = time.time() + timeout
    while True:
        got = {e["id"] for e in entries() if e["ok"]}
        if len(got) >= want:
            sys.exit(0)
        if time.time() > deadline:
            sys.exit(f"only {len(got)} of {want} deliveries arrived within {timeout:.0f} s")
        time.sleep(0.1)

if cmd == "wait-bad":  # TIMEOUT: until a request is refused
    deadline = time.time() + float(sys.argv[4])
    while not any(not e["ok"] for e in entries()):
        if time.time() > deadline:
            sys.exit("the receiver refused nothing")
        time.sleep(0.1)
    sys.exit(0)

if cmd == "order":  # EXPECTED_FILE FIRST_LINE ALLOWED_REFUSED [--dups-ok]
    with open(sys.argv[4]) as f:
        expected = [tuple(line.split()) for line in f.readlines()[int(sys.argv[5]):]]
    allowed_bad = int(sys.argv[6])
    dups_ok = "--dups-ok" in sys.argv
    got = entries()
    bad = [e for e in got if not e["ok"]]
    if len(bad) > allowed_bad:
        sys.exit(f"{len(bad)} requests failed verification: {bad[:3]}")
    seen, firsts, repeats, first_recv, resent_after = {}, [], 0, {}, 0.0
    for e in (e for e in got if e["ok"]):
        key = (e["type"], str(e["issue"]))
        if e["id"] in seen:
            repeats += 1
            resent_after = max(resent_after, e["recv"] - first_recv[e["id"]])
            if seen[e["id"]] != key:
                sys.exit(f"webhook-id {e['id']} came again with another event: {seen[e['id']]} then {key}")
            continue
        seen[e["id"]] = key
        first_recv[e["id"]] = e["recv"]
        firsts.append(key)
    if repeats and not dups_ok:
        sys.exit(f"{repeats} duplicate deliveries (same webhook-id)")
    if firsts != expected:
        for i, (a, b) in enumerate(zip(firsts, expected)):
            if a != b:
                sys.exit(f"out of order or wrong at #{i}: got {a}, made {b} ({len(firsts)} got, {len(expected)} made)")
        sys.exit(f"got {len(firsts)} events, made {len(expected)}")
    print(f"{len(firsts)} {repeats} {resent_after:.1f}")

if cmd == "sigs":  # the signature counts of the verified requests, in order
    print(" ".join(str(e["sigs"]) for e in entries() if e["ok"]))

if cmd == "bench":  # BASE TOKEN RATE SECONDS WAIT: lag = receipt - payload timestamp
    import http.client, re, threading
    from datetime import datetime
    base, token, rate, seconds, wait = sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
    host, port = base.split("//")[1].split(":")
    total, workers = int(rate * seconds), 16
    calls, errors = [], []
    t0 = time.time() + 0.2

    def worker(k):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for i in range(k, total, workers):
            pause = t0 + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/autopilot/issues", json.dumps({"title": f"load {i}"}),
                             {"authorization": f"Bearer {token}", "content-type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 201:
                    errors.append(resp.status)
            except Exception as err:
                errors.append(repr(err))
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            calls.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads: t.start()
    for t in threads: t.join()
    made_in = time.time() - t0
    if errors:
        sys.exit(f"{len(errors)} of {total} creations failed: {errors[:3]}")
    deadline = time.time() + wait
    while len({e["id"] for e in entries() if e["ok"]}) < total and time.time() < deadline:
        time.sleep(0.2)
    got = [e for e in entries() if e["ok"]]
    firsts = {}
    for e in got:
        firsts.setdefault(e["id"], e)
    if len(firsts) < total:
        sys.exit(f"only {len(firsts)} of {total} deliveries arrived within {wait:.0f} s of the last event")
    if any(not e["ok"] for e in entries()):
        sys.exit("a request failed verification during the benchmark")

    def ts(text):  # RFC 3339 with up to 9 fractional digits; Python reads 6
        text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
        return datetime.fromisoformat(text).timestamp()

    lags = sorted((e["recv"] - ts(e["ts"])) * 1000 for e in firsts.values())
    calls_ms = sorted(c * 1000 for c in calls)
    pct = lambda xs, p: xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
    print(f"  {total} events in {made_in:.1f} s ({total / made_in:.0f}/s), all {len(firsts)} delivered and verified,"
          f" {len(got) - len(firsts)} duplicates")
    print(f"  lag, payload timestamp -> receipt: p50 {pct(lags, 50):.1f} ms, p99 {pct(lags, 99):.1f} ms, max {lags[-1]:.1f} ms")
    print(f"  baseline, the API call that made the event: p50 {pct(calls_ms, 50):.1f} ms, p99 {pct(calls_ms, 99):.1f} ms"
          f" (lag/call: p50 {pct(lags, 50) / pct(calls_ms, 50):.1f}x, p99 {pct(lags, 99) / pct(calls_ms, 99):.1f}x)")
PYEOF
hooks() { "$PY" "$WORK/hooks.py" "$@" || fail "see above"; }

start_server
# The server has made the database; the command line adds to it (it never makes one).
AUTOPILOT_PASSWORD='webhook check password' "$BIN" user add --email a@example.com --name Admin --role admin > /dev/null
TOKEN=$("$BIN" token create --email a@example.com --name hooks --scope read,write,move,admin | tail -1)
created=$(api POST /api/autopilot/webhooks "{\"url\": \"http://127.0.0.1:$RPORT/hook\", \"allow_private\": true,
  \"format\": \"standard\", \"events\": [\"issue.created\", \"issue.moved\", \"issue.commented\", \"issue.assigned\"]}")
HOOK=$(json "v['endpoint']['id']" <<< "$created")
json "v['secret']" <<< "$created" > "$SECRET_FILE"
start_receiver
: > "$EXPECTED"

echo "== a. signed delivery, in order, once"
m=$(mark)
for i in 1 2 3 4 5; do
  id=$(new_issue "Hook check $i")
  comment "$id" "Comment on $i"
  move "$id" ready
  assign "$id" "Admin"
done
hooks wait "$LOG" "$m" 20 30
out=$(hooks order "$LOG" "$m" "$EXPECTED" 0 0)
read -r n dups resent <<< "$out"
echo "  $n events (created, commented, moved, assigned x 5) arrived in the order made, each verified, $dups duplicates"

echo "== b. the receiver down for a while"
stop_receiver
m=$(mark); e=$(wc -l < "$EXPECTED")
for i in $(seq 1 10); do new_issue "While down $i" > /dev/null; done
# The first try fails at once; the retry comes 5 s later (up to 6 with jitter, and the
# sender's 1 s poll). Look after 8 s, and a few seconds more on a slow machine.
sleep 8
"$PY" - "$BASE" "$TOKEN" "$HOOK" <<'PYEOF' || fail "see above"
import json, sys, time, urllib.request
base, token, hook = sys.argv[1:4]
def get(path):
    req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))
for _ in range(20):
    log = get(f"/api/autopilot/webhooks/{hook}/deliveries?limit=10")
    endpoint = get(f"/api/autopilot/webhooks/{hook}")
    oldest_first = sorted(log, key=lambda d: d["id"])
    head, rest = oldest_first[0], oldest_first[1:]
    if head["attempts"] >= 2:
        break
    time.sleep(0.2)
assert all(d["state"] == "pending" for d in log), [d["state"] for d in log]
assert head["attempts"] >= 2, f"the head was tried {head['attempts']} times in 12 s (expected the first try and the 5 s retry)"
assert all(d["attempts"] == 0 for d in rest), f"head of line: nothing behind the head is tried {[d['attempts'] for d in rest]}"
assert endpoint["pending"] == 10, endpoint
assert endpoint["failures"] >= 2, endpoint
print(f"  after 8 s: 10 pending, the head tried {head['attempts']} times ({head['last_error']}), the 9 behind it untried;"
      f" endpoint {endpoint['state']}, {endpoint['failures']} failures in a row")
PYEOF
start_receiver
api POST "/api/autopilot/webhooks/$HOOK/retry" > /dev/null
hooks wait "$LOG" "$m" 10 15
out=$(hooks order "$LOG" "$m" "$EXPECTED" "$e" 0)
read -r n dups resent <<< "$out"
state=$(api GET "/api/autopilot/webhooks/$HOOK" | json "v['state'], v['pending'], v['failures']")
echo "  receiver back + retry: all $n arrived in order, $dups duplicates; endpoint (state, pending, failures) = $state"

echo "== c. kill -9 of the server mid-delivery"
stop_receiver
start_receiver --delay 2
m=$(mark); e=$(wc -l < "$EXPECTED")
for i in $(seq 1 5); do new_issue "Kill check $i" > /dev/null; done
# The receiver logs a request as it arrives and answers 2 s later: the first is in flight now.
hooks wait "$LOG" "$m" 1 10
killed_at=$(date +%s)
{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null || true
start_server
hooks wait "$LOG" "$m" 5 60
out=$(hooks order "$LOG" "$m" "$EXPECTED" "$e" 0 --dups-ok)
read -r n dups resent <<< "$out"
took=$(( $(date +%s) - killed_at ))
# The last one is logged on arrival and answered 2 s later: then nothing waits.
for _ in $(seq 1 50); do
  pending=$(api GET "/api/autopilot/webhooks/$HOOK" | json "v['pending']")
  [ "$pending" = 0 ] && break
  sleep 0.2
done
[ "$pending" = 0 ] || fail "$pending deliveries still pending after all arrived"
echo "  all $n arrived (first receipt in the order made) within $took s of the kill; $dups duplicate(s), each with the same webhook-id and event"
echo "  (the one in flight was sent again $resent s after its first receipt: the dead server's lease ran out)"
[ "$dups" -ge 1 ] || fail "the request in flight at the kill was not sent again"

echo "== d. secret rotation"
stop_receiver
start_receiver
OLD=$(cat "$SECRET_FILE")
NEW=$(api POST "/api/autopilot/webhooks/$HOOK/rotate-secret" | json "v['secret']")
m=$(mark); e=$(wc -l < "$EXPECTED")
new_issue "Old secret" > /dev/null
hooks wait "$LOG" "$m" 1 10
echo "$NEW" > "$SECRET_FILE"
new_issue "New secret" > /dev/null
hooks wait "$LOG" "$m" 2 10
# A receiver with a secret that never was the endpoint's refuses the request (the check is no
# rubber stamp); given the right one and a retry, the same delivery then goes through.
"$PY" -c 'import base64, os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())' > "$SECRET_FILE"
new_issue "Wrong secret" > /dev/null
hooks wait-bad "$LOG" "$m" 10
echo "$NEW" > "$SECRET_FILE"
api POST "/api/autopilot/webhooks/$HOOK/retry" > /dev/null
hooks wait "$LOG" "$m" 3 10
out=$(hooks order "$LOG" "$m" "$EXPECTED" "$e" 1)
read -r n dups resent <<< "$out"
sigs=$(hooks sigs "$LOG" "$m")
[ "$sigs" = "2 2 2" ] || fail "expected two signatures on each request during the overlap, got: $sigs"
[ "$OLD" != "$NEW" ] || fail "rotation did not change the secret"
echo "  old secret only: verified; new secret only: verified (each request signed twice: $sigs);"
echo "  a wrong secret: refused (400), then delivered after the fix and a retry; $n events, $dups duplicates"

echo "== e. lag at 100 events/s for 10 s (a figure; all must arrive)"
m=$(mark)
hooks bench "$LOG" "$m" "$BASE" "$TOKEN" 100 10 60
echo "== f. the server's delivery log against what the receiver verified"
"$PY" - "$BASE" "$TOKEN" "$HOOK" "$LOG" <<'PYEOF' || fail "see above"
import json, sys, urllib.request
base, token, hook, log = sys.argv[1:5]
def get(path):
    req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))
rows, before = [], ""
while True:
    page = get(f"/api/autopilot/webhooks/{hook}/deliveries?limit=200{before}")
    rows += page
    if len(page) < 200:
        break
    before = f"&before={page[-1]['id']}"
received = {e["id"] for e in map(json.loads, open(log)) if e["ok"]}
logged = {r["message_id"] for r in rows}
undelivered = [r for r in rows if r["state"] != "delivered"]
assert not undelivered, f"{len(undelivered)} not delivered: {undelivered[:2]}"
assert logged == received, f"logged but not received: {list(logged - received)[:3]}; received but not logged: {list(received - logged)[:3]}"
assert len(logged) == len(rows), "two deliveries of the endpoint share a webhook-id"
retried = sum(1 for r in rows if r["attempts"] > 1)
print(f"  {len(rows)} deliveries in the log, all delivered, the same webhook-ids the receiver verified; {retried} took more than one attempt")
PYEOF
echo "== webhooks: all checks passed"
