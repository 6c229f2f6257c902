#!/usr/bin/env bash
# Builds the release binary and site: target/release/autopilot with target/release/hash.txt
# beside it, and target/site with the wasm, JS and CSS named after their content, each with a
# brotli and a gzip copy made here, once (the server sends the stored copies).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/scripts/bin:$PATH" # wasm-opt
export LEPTOS_OUTPUT_NAME=autopilot
cargo leptos build --release --precompress --split --frontend-only
# cargo-leptos' gzip copies are made at a fast level. Zopfli writes the smallest gzip there is
# (the board's wasm: 5 % below gzip -9, 20 % below cargo-leptos' copy), in about 20 s: while
# the server builds. Without zopfli (scripts/setup.sh installs it), gzip -9.
smallest_gzip() {
  for f in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
    if command -v zopfli >/dev/null 2>&1; then
      zopfli --gzip -c "$f" > "$f.gz"
    else
      gzip -9 -n -c "$f" > "$f.gz"
    fi
  done
}
smallest_gzip &
gzip_copies=$!
cargo leptos build --release --split --server-only
wait "$gzip_copies"
