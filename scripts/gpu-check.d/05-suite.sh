# scripts/gpu-check section 5, sourced by it (note, B, SHIM, TR and OUT are its).
# 5. The GPU suite: each program natively, through openmps, and 8 at once.
S=$(mktemp -d /tmp/omps-suite.XXXX)
tests/gpu/run-suite build "$S" >"$OUT/suite.log" 2>&1
note "$(tail -1 "$OUT/suite.log")"
note "$(grep '^modules shared' "$OUT/suite.log")"
rm -rf "$S"
