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
  # The server's build needs none of what set-up installs, so it starts at once, beside set-up
  # and the wasm, with cargo-leptos' own arguments (keep them as `bin-*` in Cargo.toml says):
  # cargo-leptos, when it comes to the server, finds it built.
  LEPTOS_OUTPUT_NAME=autopilot cargo build --quiet --release --package=server --bin=autopilot \
    --no-default-features --features=runner &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  scripts/setup.sh
  scripts/build-release.sh
  wait "$server"
  trap - EXIT
  touch "$stamp"
fi
exec "$binary" serve "$@"
