# scripts/gpu-check section 9, sourced by it (note, B, SHIM, TR and OUT are its).
# 9. Limits: SM shares by %smid, memory limits (tests/gpu/qos-check).
tests/gpu/qos-check build >"$OUT/qos.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^qos: (SMs|[0-9]+ clients|clusters|PyTorch|a running|static|PASS|FAIL)' "$OUT/qos.log")
