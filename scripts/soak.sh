#!/usr/bin/env bash
# The soak (issue 30): the release server under a mixed workload for a set time, on SQLite
# and on PostgreSQL (people reading and moving, live streams, feedback, the runner with a fake
# agent). Prints a block of figures every minute, then a verdict and a consistency check of
# the database; exits non-zero when a goal fails. Not part of scripts/test.sh, which runs it
# for one minute only to keep it working. See server/examples/soak.rs.
#
#   scripts/soak.sh                    # 30 minutes on each engine (an hour in all)
#   scripts/soak.sh 10 sqlite          # minutes, engine (sqlite, postgres or both)
#   SOAK_BINARY=path scripts/soak.sh   # soak a server built elsewhere (no release build here)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
engines=${2:-both}
scripts/setup.sh
export LEPTOS_OUTPUT_NAME=autopilot
bin=${SOAK_BINARY:-target/release/autopilot}
[ -n "${SOAK_BINARY:-}" ] || scripts/build-release.sh
# The driver is only a client: a debug build drives this load, and builds far quicker.
cargo build -p server --features app/ssr --example soak
nice "${CARGO_TARGET_DIR:-target}/debug/examples/soak" "$minutes" "$bin" "$engines"
