# scripts/gpu-check section 1, sourced by it (note, B, SHIM, TR and OUT are its).
# 1. Build and test.
if scripts/test >"$OUT/test.log" 2>&1; then
	note "tests: $(grep -E 'tests passed' "$OUT/test.log")"
else
	note "tests: FAILED ($(grep -E 'tests passed|tests failed' "$OUT/test.log" | tail -1)); see test.log"
fi
