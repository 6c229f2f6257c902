#!/usr/bin/env bash
# What the board's wasm is made of (code bytes per crate, the biggest functions), after a
# release build (scripts/build-release.sh). The served wasm carries no names: this makes a
# copy of the same module with them, optimised as the build does (so the sizes are the
# served ones), and reads it with scripts/wasm-contents.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/scripts/bin:$PATH" # wasm-opt, as the build runs it
# The board's module after the split into chunks, before wasm-bindgen (cargo-leptos' input).
module=target/front/wasm32-unknown-unknown/wasm-release/frontend_split.wasm
[ -f "$module" ] || { echo "no $module: run scripts/build-release.sh first" >&2; exit 1; }
out=target/wasm-contents
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --keep-debug --keep-lld-exports --no-demangle --out-dir "$out" "$module"
wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out/frontend_split_bg.wasm" -o "$out/named.wasm"
python3 scripts/wasm-contents.py "$out/named.wasm"
