# scripts/gpu-check section 8, sourced by it (note, B, SHIM, TR and OUT are its).
# 8. Robustness: 200 clients killed at random points, then the server killed
# under waiting clients (tests/gpu/kill-stress).
tests/gpu/kill-stress build 200 >"$OUT/kill-stress.log" 2>&1
while read -r line; do note "$line"; done < <(grep '^kill-stress: ' "$OUT/kill-stress.log")
