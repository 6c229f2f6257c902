#!/usr/bin/env bash
# Sets up the machine, builds Autopilot in release mode and serves the board on embedded SQLite
# (./autopilot.db, or AUTOPILOT_DATA_DIR). Extra arguments go to `autopilot serve`, e.g.
# `--addr 0.0.0.0:3000`. When nothing changed since the last build it starts at once: set-up
# and the build are skipped (AUTOPILOT_REBUILD=1 forces them).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=target/release/autopilot
stamp=target/release/.run-stamp
# Newer than the last good build: any source, the lock file, a build script, a migration.
changed() {
  [ -x "$binary" ] && [ -f "$stamp" ] || return 0
  [ -n "$(find app frontend server style public migrations scripts Cargo.toml Cargo.lock \
    .cargo -newer "$stamp" -print -quit 2>/dev/null)" ]
}
if [ -n "${AUTOPILOT_REBUILD:-}" ] || changed; then
  scripts/setup.sh
  scripts/build-release.sh
  touch "$stamp"
fi
exec "$binary" serve "$@"
