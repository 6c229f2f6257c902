#!/usr/bin/env bash
# Sets up the machine and runs every check: formatting, clippy, unit and integration tests
# (the conformance suite on real SQLite files and on a throwaway PostgreSQL cluster that the
# tests start themselves), then the Playwright tests in Chromium against the built board.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
# The same output name as cargo-leptos uses, so `cargo test` and `cargo leptos build` share
# compiled dependencies instead of rebuilding each other's.
export LEPTOS_OUTPUT_NAME=autopilot

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy -p app -p server --all-targets --features app/ssr -- -D warnings

echo "== unit and integration tests"
# A hung test fails the run in bounded time instead of using up CI's 90 minutes.
timeout 40m cargo test -p app -p server --features app/ssr

echo "== the benchmarks still run (tiny sizes, debug build: no figure here means anything)"
# Each benchmark broke once without a test noticing (a column added to the store, a cap on
# live streams): run every one on a small board, so the one-command benchmark keeps working.
# `cargo test` has built the server binary and what they share; a benchmark with tests of its
# own (throughput_bench) was built only as a test there.
cargo build -p server --features app/ssr --examples
for bench in "board_bench 50" "throughput_bench 50 1" "live_bench 20 50" "memory_bench 50 20 target/debug/autopilot" "memory_bench 50 20 target/debug/autopilot postgres" \
  "stream_bench 20 target/debug/autopilot" "diff_bench 200" "loop_bench 20 both" "webhook_bench 20 both" "runner_bench 2" "feedback_flood 1" \
  "hostile_clients 1 target/debug/autopilot"; do
  echo "-- $bench"
  # shellcheck disable=SC2086 # the arguments are meant to split
  timeout 5m target/debug/examples/$bench > /dev/null
done
# The soak (scripts/soak.sh), one minute on each engine with 300 issues: about 2.5 minutes
# with set-up and checks. Its verdict must hold, but for memory and descriptors being flat:
# a minute has no warm-up to judge them after, so they are printed, not judged.
echo "-- soak 1 minute, both engines"
timeout 6m target/debug/examples/soak 1 target/debug/autopilot both 300 > target/soak-test.txt ||
  { cat target/soak-test.txt; exit 1; }

echo "== the API contract (Schemathesis, both engines)"
# Schemathesis (from scripts/setup.sh --tests) tests the built server against the OpenAPI spec
# it serves, as an admin and as a member, on SQLite and on PostgreSQL; its own summary of each
# run prints here. Settings and why: server/examples/api_contract.toml.
cargo build -p server --features app/ssr --bin autopilot --example api_contract
timeout 20m target/debug/examples/api_contract both target/debug/autopilot

echo "== the MCP server with the official Python SDK's client"
scripts/mcp-check.sh

echo "== the MCP server with the official MCP Inspector's CLI"
scripts/mcp-inspector-check.sh

echo "== webhook delivery, verified by the Standard Webhooks reference library"
scripts/webhook-check.sh

echo "== end-to-end tests (Chromium)"
cargo leptos build --split
(cd end2end && npx playwright test)

echo "== the runner with the real Claude Code CLI (against a local stand-in for the API)"
scripts/real-cli-check.sh

echo "== the MCP server through the real Claude Code CLI (against the same stand-in)"
scripts/mcp-claude-check.sh

echo "== the README's Gemini CLI settings for the MCP server, with the real Gemini CLI"
scripts/mcp-gemini-check.sh

echo "== the runner with real ACP agents: Gemini CLI, Claude Code's and Codex's adapters (stand-ins)"
scripts/real-agent-check.sh
