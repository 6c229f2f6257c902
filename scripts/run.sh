#!/usr/bin/env bash
# Sets up the machine, builds Autopilot in release mode and serves the board on embedded SQLite
# (./autopilot.db). Extra arguments go to `autopilot serve`, e.g. `--addr 0.0.0.0:3000`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-release.sh
exec ./target/release/autopilot serve "$@"
