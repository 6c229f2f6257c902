#!/usr/bin/env sh
# Starts the built server for the Playwright tests on a fresh database, with two people:
# admin@example.com (admin) and member@example.com (member), password "e2e password 123".
set -eu
cd "$(dirname "$0")/.."
PORT="${1:-3123}"
DB="target/e2e.db"
rm -f "$DB" "$DB-shm" "$DB-wal"
export DATABASE_URL="sqlite://$DB" AUTOPILOT_PASSWORD="e2e password 123" RUST_LOG="${RUST_LOG:-warn}"
# Only the server makes a database: a first start on a spare port makes it, then the people
# are added, and only then does the server Playwright waits for answer on its port.
./target/debug/autopilot serve --addr "127.0.0.1:$((PORT + 3))" &
first=$!
until curl -sf "http://127.0.0.1:$((PORT + 3))/healthz" >/dev/null; do sleep 0.1; done
kill "$first"
wait "$first" || true
./target/debug/autopilot user add --email admin@example.com --name "Ada Admin" --role admin
./target/debug/autopilot user add --email member@example.com --name "Max Member" --role member
# The stand-in customer site (host-site/serve.mjs) on the next port may embed the widget.
export AUTOPILOT_FEEDBACK_ORIGINS="http://127.0.0.1:$((PORT + 1))"
# Models an issue may ask for (the forms offer them).
export AUTOPILOT_MODELS="claude-opus-4-1,claude-sonnet-4-5"
# Agents an issue may ask for besides the default (Claude Code); the runner is off here.
export AUTOPILOT_AGENTS="gemini,codex"
exec ./target/debug/autopilot serve --addr "127.0.0.1:$PORT"
