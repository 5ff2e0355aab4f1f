#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seed corpus (copied:
# libFuzzer adds what it finds to its first directory). A crash, leak or
# timeout fails the test, and the input that caused it is kept in the build.
#   run.sh FUZZER SEED_DIR SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$seeds"/* "$work/" 2>/dev/null || true
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$(dirname "$fuzzer")/$(basename "$fuzzer")-" "$work"
