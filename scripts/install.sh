#!/usr/bin/env bash
# Builds the release (scripts/build-release.sh) and installs it as one directory that runs from
# anywhere: PREFIX/autopilot (the binary), PREFIX/hash.txt (the asset names it links to) and
# PREFIX/site (wasm, JS, CSS, public files, with their compressed copies). Default PREFIX:
# /opt/autopilot. The data is not here: see AUTOPILOT_DATA_DIR and deploy/autopilot.service.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/opt/autopilot}"
scripts/build-release.sh
mkdir -p "$prefix"
# The new assets are added beside the old ones (their names differ by content hash), so the
# server still running links to files that exist until it is restarted on the new binary.
mkdir -p "$prefix/site" && cp -r target/site/. "$prefix/site/"
install -m 0755 target/release/autopilot "$prefix/autopilot.new"
cp target/release/hash.txt "$prefix/hash.txt"
mv "$prefix/autopilot.new" "$prefix/autopilot"
cp README.md "$prefix/README.md"
echo "installed in $prefix; run $prefix/autopilot serve (or: systemctl restart autopilot)"
