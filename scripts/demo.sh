#!/usr/bin/env bash
# The demo: what skylog does, end to end, on this machine.
# Usage: scripts/demo.sh BUILD_DIR
# First the library on the console and in files (the examples), then CloudWatch Logs end to
# end against `skylog serve` on a local port (scripts/demo_cloudwatch.sh). What each step
# shows, and how to run it by hand: docs/DEMO.md.
set -euo pipefail
build=${1:-build/release}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "basic: typed fields, pretty on a terminal (JSON when piped)"
"$build/example_basic"
say "the same events as JSON lines"
SKYLOG_FORMAT=json "$build/example_basic" 2>&1
say "context: request-scoped fields and bound loggers"
"$build/example_context"
say "processors: enrich, redact, custom, rate limit"
"$build/example_processors"
say "routing: per-sink levels and filters (files in $work)"
"$build/example_routing" "$work"
echo "--- $work/app.jsonl"; cat "$work/app.jsonl"
echo "--- $work/audit.jsonl"; cat "$work/audit.jsonl"

if [ -x "$build/skylog" ] && [ -f scripts/demo_cloudwatch.sh ]; then
  bash scripts/demo_cloudwatch.sh "$build"
fi
