#!/usr/bin/env bash
# Every speed and size figure of the board, each next to its goal, measured in one run on this
# machine (figures, not tests: compare the ratios, the absolute numbers move with the load).
# Builds the release binary and site first. About 16 minutes on 2 cores once built (5 of
# them rebuilding: the examples and the binary are built with different features).
#
#   scripts/bench.sh            # all of them
#   BENCH_QUICK=1 scripts/bench.sh   # smaller boards, for a first look
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export LEPTOS_OUTPUT_NAME=autopilot
scripts/build-release.sh
cargo build --release -p server --examples

big=10000; mid=1000; streams=1000; boards=200
if [ -n "${BENCH_QUICK:-}" ]; then big=2000; streams=200; boards=50; fi
run() { printf '\n== %s\n' "$1"; shift; "$@"; }

run "Board page at size" target/release/examples/board_bench "$big"
run "The board page with every column full: its weight and what it is made of" target/release/examples/page_bench "$big"
run "Throughput, 32 clients, against a bare axum + sqlx handler" target/release/examples/throughput_bench "$mid" 5
run "The same at 100,000 issues" target/release/examples/throughput_bench 100000 5
run "The kept board page against nginx serving the same bytes (brotli, gzip, as it is, a reload's 304)" \
  target/release/examples/kept_bench "$mid" 5
run "One move, $boards boards listening" target/release/examples/live_bench "$boards" "$mid"
run "Server memory after 1,000 board loads, SQLite and PostgreSQL" target/release/examples/memory_bench "$big" 1000
target/release/examples/memory_bench "$big" 1000 target/release/autopilot postgres
run "The same at 100,000 issues" target/release/examples/memory_bench 100000 1000
target/release/examples/memory_bench 100000 1000 target/release/autopilot postgres
run "100,000 issues on SQLite and PostgreSQL: seeding, migrations, board, JSON page, search, query plans" target/release/examples/engines_bench --scale 100000
run "Live streams" target/release/examples/stream_bench "$streams"
run "Reviewing a 5,000-line change (server side)" target/release/examples/diff_bench 5000
run "The agent's loop at size, each step against a bare read of one issue (SQLite, PostgreSQL)" target/release/examples/loop_bench "$big" both
run "Webhooks at size: a change with 0, 1 and 4 endpoints, and the delivery lag at 100 events/s (SQLite, PostgreSQL)" target/release/examples/webhook_bench "$big" both
run "Runner slots (a fake agent of about 1 s per issue), and the runner's own time per run with each adapter" target/release/examples/runner_bench 20
run "The audit's open doors, tried (memory, /healthz, the owner's sign-in)" \
  target/release/examples/hostile_clients 5 target/release/autopilot

printf '\n== Downloads (the release build, as served)\n'
for f in target/site/pkg/autopilot.*.wasm target/site/pkg/autopilot.*.js target/site/pkg/autopilot.*.css; do
  raw=$(stat -c %s "$f"); br=$(stat -c %s "$f.br"); gz=$(stat -c %s "$f.gz")
  best_gz=$(gzip -9 -c "$f" | wc -c)
  printf '%-6s %5d KiB raw, %4d KiB brotli, %4d KiB gzip (served), %4d KiB gzip -9\n' \
    "${f##*.}" $((raw / 1024)) $((br / 1024)) $((gz / 1024)) $((best_gz / 1024))
done
wasm=$(ls target/site/pkg/autopilot.*.wasm)
served=$(stat -c %s "$wasm.gz")
[ "$served" -le 300000 ] && verdict=met || verdict="not met"
echo "the board's wasm, gzipped as served: $served bytes (goal: at most 300,000: $verdict; it is all the board loads)"
# The drawer and the admin, sign-in and set-up pages are their own chunks (split_*, and
# chunk_* for code two of them share), fetched when first shown.
for f in target/site/pkg/split_*.wasm; do
  name=${f##*/split_}
  printf 'later: %-28s %4d KiB gzip -9\n' "${name%%_[0-9]*}" $(($(gzip -9 -c "$f" | wc -c) / 1024))
done
shared=0
for f in target/site/pkg/chunk_*.wasm; do shared=$((shared + $(gzip -9 -c "$f" | wc -c))); done
printf 'later: %-28s %4d KiB gzip -9\n' "shared chunks" $((shared / 1024))

printf '\n== Time to interactive in Chromium, %s issues\n' "$mid"
db=target/bench/interactive.db
seeded=$(target/release/examples/seed_board "$mid" "$db")
url=$(echo "$seeded" | sed -n 1p)
review=$(echo "$seeded" | sed -n 2p)
port=3390
DATABASE_URL="$url" RUST_LOG=warn target/release/autopilot serve --addr "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
(cd end2end && BENCH_ISSUES="$mid" BENCH_REVIEW_ISSUE="$review" node bench/interactive.mjs "http://127.0.0.1:$port")
