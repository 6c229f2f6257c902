#!/usr/bin/env bash
# Installs what building and testing Autopilot needs, skipping whatever is already there:
# the wasm target, cargo-leptos, the wasm-bindgen CLI matching Cargo.lock, Debian's Chromium,
# git, curl and PostgreSQL, wasm-opt (npm's binaryen, for release builds) and the Playwright
# packages. `--tests` adds what only the tests need (PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132
TOOLS_DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}"
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

step() { printf '\n== %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
  # no_downloads: cargo-leptos must never fetch tools at run time (this network refuses it).
  cargo install cargo-leptos --locked --features no_downloads --version "$CARGO_LEPTOS_VERSION"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: one of its locked dependencies is no longer served.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Chromium for Playwright; git for the runner (its tests make real repositories); PostgreSQL
# for the tests that prove the second engine (each test run starts its own throwaway cluster;
# the package's own cluster is never used); curl for the scripts and multi-process tests.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ "${1:-}" = "--tests" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
fi
if [ -n "$missing" ]; then
  step "installing$missing from Debian"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
fi

if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ]; then
  step "installing wasm-opt (binaryen@$BINARYEN_VERSION from npm) into $TOOLS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "binaryen@$BINARYEN_VERSION"
fi

if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "installing the Playwright packages (the browser is Debian's Chromium)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
