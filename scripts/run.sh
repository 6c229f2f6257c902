#!/usr/bin/env bash
# Sets up the machine, builds Autopilot in release mode and serves the board on embedded SQLite
# (./autopilot.db). Extra arguments go to `autopilot serve`, e.g. `--addr 0.0.0.0:3000`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}/node_modules/.bin:$PATH"
export LEPTOS_OUTPUT_NAME=autopilot
# --precompress: the wasm, JS and CSS are compressed once here (brotli and gzip), not per request.
cargo leptos build --release --precompress
exec ./target/release/autopilot serve "$@"
