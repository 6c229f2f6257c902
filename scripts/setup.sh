#!/usr/bin/env bash
# Installs what building and serving Autopilot needs, skipping whatever is already there: git,
# curl, bubblewrap and zopfli from Debian, the wasm target, cargo-leptos and the wasm-bindgen
# CLI matching Cargo.lock (each trimmed by its patch in scripts/patches), and from npm wasm-opt
# (binaryen) and terser, which a release build runs on the wasm and the JS.
# `--tests` adds what only the tests need (Debian's Chromium and the Playwright packages,
# PostgreSQL, nginx, systemd-analyze, Schemathesis, the agent CLIs).
# What it does not install (the README's prerequisites) it checks first, and says what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132
TERSER_VERSION=5.51.2
SCHEMATHESIS_VERSION=4.32.5
TOOLS_DIR="${AUTOPILOT_TOOLS_DIR:-$HOME/.cache/autopilot-tools}"
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

step() { printf '\n== %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Prerequisites: installed by the person, not by this script.
need() { printf '\nautopilot setup: %s\n' "$*" >&2; exit 1; }
command -v rustup >/dev/null 2>&1 && command -v cargo >/dev/null 2>&1 ||
  need "Rust is missing: install it with rustup (https://rustup.rs), open a new shell, run this again."
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  need "Node.js and npm are missing (for wasm-opt and Playwright): on Debian, apt-get install nodejs npm."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || need "Node.js $node_major is too old: 18 or newer is needed."
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  SUDO_MISSING=1 # only a problem if a Debian package must be installed (checked below)
fi
free_gb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }')
[ "$free_gb" -ge 12 ] ||
  printf '\nautopilot setup: only %s GB free here; a build needs about 12 GB (target/).\n' "$free_gb" >&2

# Git for the runner (its tests make real repositories); PostgreSQL
# for the tests that prove the second engine (each test run starts its own throwaway cluster;
# the package's own cluster is never used); curl for the scripts and multi-process tests.
missing=""
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
# bubblewrap: the runner starts every agent inside its sandbox (server/src/runner/sandbox.rs).
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
# The smallest gzip copies of the wasm, JS and CSS (scripts/build-release.sh).
command -v zopfli >/dev/null 2>&1 || missing="$missing zopfli"
if [ "${1:-}" = "--tests" ]; then
  # Chromium for Playwright (serving the board never needs it).
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  # nginx for the reverse-proxy test, systemd-analyze to check the unit file in deploy/.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
  [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
  command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
  # Schemathesis lives in a venv of its own (below); Debian's python3 needs python3-venv for it.
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3 python3-venv"
fi
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null 2>&1 ||
    need "not a Debian machine: install$missing by hand, then run this again."
  [ -z "${SUDO_MISSING:-}" ] || need "install$missing as root (no sudo here), then run this again."
  step "installing$missing from Debian"
  as_root apt-get update
  # Packages with a service (nginx, PostgreSQL) must not start one here: the tests start their
  # own on other ports. policy-rc.d tells Debian's scripts so, for this install only.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  installed=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing || installed=$?
  [ -z "$made_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
  [ "$installed" -eq 0 ] || exit "$installed"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# The two build tools are built from crates.io, side by side, each in its own temporary target
# directory. Their own release profiles (fat LTO, one codegen unit) made cargo-leptos' install
# alone take 12 to 20 minutes on 2 cores. Here they are built unoptimised, but for the crates
# that do their work in a build (splitting and reading the wasm, wasm-bindgen's passes,
# compression): every step of a build is as quick as before but cargo-leptos' brotli pass
# (7 s instead of 4). The crates named before `--` are those; what follows goes to cargo.
tool_build() {
  local hot=()
  while [ "$1" != -- ]; do hot+=(--config "profile.release.package.\"$1\".opt-level = 2"); shift; done
  shift
  env CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo "${hot[@]}" "$@"
}
# The patch that trims NAME VERSION, if there is one (absolute: builds run elsewhere).
patch_file() { echo "$PWD/scripts/patches/$1-$2.patch"; }
# Builds NAME VERSION's binary BIN from its crates.io source with scripts/patches/NAME-VERSION.patch
# (which says what it takes out, and the crate's sha256), and puts it where `cargo install`
# would. Then come the hot crates, `--`, and arguments for `cargo build`.
patched_tool_build() {
  local name=$1 version=$2 bin=$3 patch work hot=()
  patch=$(patch_file "$1" "$2")
  shift 3
  while [ "$1" != -- ]; do hot+=("$1"); shift; done
  shift
  work=$(mktemp -d)
  curl -fsSL --retry 3 -o "$work/crate.tar.gz" "https://static.crates.io/crates/$name/$name-$version.crate"
  echo "$(sed -n 's/^sha256: //p' "$patch")  $work/crate.tar.gz" | sha256sum --check --quiet
  tar -xzf "$work/crate.tar.gz" -C "$work"
  (cd "$work/$name-$version" && git apply "$patch")
  # Built from $work: this project's .cargo/config.toml must not apply. Not --locked: the patch
  # drops dependencies, so cargo prunes them from the crate's lock file (and adds none).
  (cd "$work" && tool_build "${hot[@]}" -- build --quiet --release \
    --manifest-path "$name-$version/Cargo.toml" --target-dir target "$@")
  install -D -m 755 "$work/target/release/$bin" "${CARGO_HOME:-$HOME/.cargo}/bin/$bin"
  sha256sum < "$patch" > "$(patch_stamp "$name")"
  rm -rf "$work"
}
# A tool of the right version is current, unless this script built it with an older patch: the
# patch's sha256 is kept beside the binary. A tool installed otherwise (say, a stock
# cargo-leptos, with `new`) is left alone.
patch_stamp() { echo "${CARGO_HOME:-$HOME/.cargo}/bin/.$1.patch-sha256"; }
built_with_patch() {
  local patch stamp
  patch=$(patch_file "$1" "$2") stamp=$(patch_stamp "$1")
  [ ! -f "$patch" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" = "$(sha256sum < "$patch")" ]
}
tool_installs=()
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION" ||
  ! built_with_patch cargo-leptos "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 3 minutes on 2 cores)"
  # no_downloads: cargo-leptos must never fetch tools at run time (this network refuses it).
  patched_tool_build cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-leptos \
    wasm_split_cli_support wasmparser wasm-encoder gimli regex-automata brotli libflate \
    miniz_oxide seahash -- --features no_downloads &
  tool_installs+=($!)
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION" ||
  ! built_with_patch wasm-bindgen-cli "$WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  bindgen_hot=(walrus wasmparser wasm-encoder wasm-bindgen-cli-support)
  if [ -f "$(patch_file wasm-bindgen-cli "$WASM_BINDGEN_VERSION")" ]; then
    patched_tool_build wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen "${bindgen_hot[@]}" -- &
  else
    # Not --locked: one of its locked dependencies is no longer served. No default features:
    # they are TLS for its test runner's downloads, which a build never uses.
    tool_build "${bindgen_hot[@]}" -- install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" \
      --no-default-features &
  fi
  tool_installs+=($!)
fi
for pid in "${tool_installs[@]}"; do wait "$pid"; done

# wasm-opt from npm: Debian 12's binaryen (108) is quicker but breaks the split wasm (the page
# fails to hydrate: a lazily loaded chunk cannot fill the shared function table). terser
# minifies the JS (the patched cargo-leptos has no swc).
npm_tools=()
[ -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ] || npm_tools+=("binaryen@$BINARYEN_VERSION")
grep -qs "\"version\": \"$TERSER_VERSION\"" "$TOOLS_DIR/node_modules/terser/package.json" ||
  npm_tools+=("terser@$TERSER_VERSION")
if [ "${#npm_tools[@]}" -gt 0 ]; then
  step "installing ${npm_tools[*]} from npm into $TOOLS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "${npm_tools[@]}"
fi

# Schemathesis checks the API against its OpenAPI spec (server/examples/api_contract.rs), from
# a venv of its own so nothing of the machine's Python is touched.
SCHEMATHESIS_VENV="$TOOLS_DIR/schemathesis"
if [ "${1:-}" = "--tests" ] &&
  ! "$SCHEMATHESIS_VENV/bin/st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  step "installing Schemathesis $SCHEMATHESIS_VERSION (PyPI) into $SCHEMATHESIS_VENV"
  python3 -m venv --clear "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ "${1:-}" = "--tests" ] && { [ ! -d end2end/node_modules/@playwright/test ] ||
  [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; }; then
  step "installing the Playwright packages (the browser is Debian's Chromium)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# The agent CLIs the runner is checked against (scripts/real-agent-check.sh), each pinned by
# its install script under $TOOLS_DIR; each does nothing when its version is there already.
if [ "${1:-}" = "--tests" ]; then
  for install in scripts/agents/*/install.sh; do
    "$install" > /dev/null || { echo "installing an agent failed: $install" >&2; exit 1; }
  done
fi
