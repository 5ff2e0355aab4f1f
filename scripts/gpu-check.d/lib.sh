# Helpers of the scripts/gpu-check sections, sourced by it.

# summarize_trace NAME TRACE SLOTS: what a program asked of the driver, from
# the shim's trace (OPENMPS_TRACE) and its export-slot counts (SLOTS: a trace
# made with OPENMPS_TRACE_EXPORTS set).
summarize_trace() {
	local t=$2
	echo "== $1: $(grep -c ' cu[A-Za-z0-9_]*(' "$t") calls, $(grep -o ' cu[A-Za-z0-9_]*(' "$t" | sort -u | wc -l) distinct functions"
	grep '^openmps-trace [0-9]* [0-9]* +[0-9.]* # ' "$t" | cut -d' ' -f5- | sort | uniq -c | sort -rn | head -5
	echo "export tables asked for:"
	grep -o 'cuGetExportTable(table=[^)]*) = [0-9]*' "$t" | sed 's/table=0x[0-9a-f]*, //' | sort | uniq -c
	echo "symbols resolved through cuGetProcAddress: $(grep -c 'cuGetProcAddress' "$t")"
	echo "export-table slots called (OPENMPS_TRACE_EXPORTS=1):"
	grep -o 'export table [0-9a-f-]* slot [0-9]*: [0-9]* calls' "$3" 2>/dev/null | sort -t' ' -k3,3 -k5,5n
	echo "calls by function:"
	grep -o ' cu[A-Za-z0-9_]*(' "$t" | sort | uniq -c | sort -rn
}

# built_ahead NAME DIR: NAME copied into DIR from the programs built ahead
# (scripts/collect-libs) if they were built from these sources (asked of
# tests/gpu/build-suite once a run); else false, and the caller builds it.
built_ahead() {
	local a=build-deps/gpu-suite
	[ -n "${AHEAD_CURRENT:-}" ] ||
		AHEAD_CURRENT=$([ "$(cat "$a/sources" 2>/dev/null)" = "$(tests/gpu/build-suite --sources)" ] && echo yes || echo no)
	[ "$AHEAD_CURRENT" = yes ] && [ -x "$a/$1" ] && cp "$a/$1" "$2/$1"
}
