# scripts/gpu-check section 13, sourced by it (note, B, SHIM and OUT are its).
# 13. A GPU fault in the shared context (issue 15), each kind of
# tests/gpu/fault.cu (illegal address, trap, assert, misaligned, illegal
# instruction, invalid program counter, call stack overflow): beside an
# idle neighbour holding 64 MiB of data, stream-ordered memory and a captured
# graph (checked and launched again after), and module variables set from
# the host (cudaMemcpyToSymbol), through openmps and under NVIDIA
# MPS. Per kind: what the culprit's synchronize returned, whether the
# openmps server saw the fault and said so, what the neighbour saw, and
# how long from the culprit's end until a new client's kernel had run
# (vector_add). Each daemon has a fresh pipe directory; everything is
# bounded by timeouts. First, natively, what the rest of issue 15 rests on
# (tests/gpu/survive.c): does cuMemCreate memory keep its contents and
# address across a fault and a primary context reset in one process, and
# does the watch's probe (a query on an empty stream) see a fault; and
# across processes (tests/gpu/keeper.c): does memory exported to a process
# that never touches CUDA outlive its maker's fault, mapped by a standby
# before it and by a successor after it.
K=$(mktemp -d /tmp/omps-fault.XXXX)
ms() { date +%s%3N; }
{
	{ built_ahead fault "$K" || nvcc -O2 -o "$K/fault" tests/gpu/fault.cu -lcuda; } &&
		{ built_ahead vector_add "$K" || nvcc -O2 -o "$K/vector_add" tests/gpu/vector_add.cu; } &&
		{ built_ahead graph_neighbour "$K" || nvcc -O2 -o "$K/graph_neighbour" tests/gpu/graph_neighbour.cu -lcublas; } ||
		echo "build failed"
	cuda=$(dirname "$(dirname "$(command -v nvcc)")")
	probe() { built_ahead "$1" "$K" || gcc -O2 -I"$cuda/include" -o "$K/$1" "tests/gpu/$1.c" -L"$cuda/lib64/stubs" -lcuda; }
	probe survive && timeout 60 "$K/survive" || echo "survive: FAILED ($?)"
	probe keeper && timeout 60 "$K/keeper" || echo "keeper: FAILED ($?)"
	# Texture, surface object and conditional handle values: the same in a fresh context, and
	# in a fresh process? (Keeping a client with them across a fault needs it.)
	probe handle_values && for i in 1 2; do timeout 30 "$K/handle_values" || echo "handle_values: FAILED ($?)"; done
	# A lightweight GPU core dump at an exception, without the abort: how
	# long it takes, what it holds (does it name the faulting kernel?), and
	# what enabling it costs a launch. (Telling the culprit apart beside
	# busy neighbours might read it.)
	# Three ways to enable it (the context's, after it is made, wrote no
	# file on the H200): and is the driver's debugger library there?
	probe coredump_probe && {
		echo "coredump_probe: libcudadebugger: $(ldconfig -p 2>/dev/null | grep -c libcudadebugger) found"
		for how in fault fault-global fault-env; do
			f=$K/core-$how.cuda
			CUDA_ENABLE_COREDUMP_ON_EXCEPTION=$([ $how = fault-env ] && echo 1 || echo 0) CUDA_COREDUMP_FILE=$f \
				CUDA_COREDUMP_GENERATION_FLAGS=skip_nonrelocated_elf_images,skip_global_memory,skip_shared_memory,skip_local_memory,skip_constbank_memory,skip_abort \
				timeout 60 "$K/coredump_probe" $how "$f" || echo "coredump_probe: $how: FAILED ($?)"
			[ -s "$f" ] && echo "coredump_probe: $how: sections: $(readelf -SW "$f" 2>/dev/null |
				sed -nE 's/^ *\[ *[0-9]+\] ([^ ]+) .*/\1/p' | sort | uniq -c | sort -rn | head -12 | xargs)" &&
				echo "coredump_probe: $how: names the kernel: $(strings "$f" | grep -c -w twice) times"
		done
		for c in off on off on; do timeout 60 "$K/coredump_probe" cost $c || echo "coredump_probe: FAILED ($?)"; done
	}
	# What the standby costs when nothing faults: GPU memory, per process,
	# with a server idle (one client came and went), with and without it.
	for sb in 1 0; do
		D=$K/standby-$sb
		export OPENMPS_PIPE_DIRECTORY=$D/pipe OPENMPS_LOG_DIRECTORY=$D/log
		OPENMPS_FAULT_STANDBY=$sb "$B/openmps-control" -d
		LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_REQUIRE_SERVER=1 timeout 60 "$K/vector_add" >/dev/null 2>&1
		sleep 2
		echo "standby $sb: GPU memory used $(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1) MiB; by process: $(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | xargs)"
		grep -E 'Standing by|Cannot stand by' "$D/log/server.log" | head -2
		echo "quit -t 5" | "$B/openmps-control" >/dev/null 2>&1
		sleep 1
		unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
	done
	for mode in openmps mps; do
		for kind in illegal trap assert misaligned instruction pc stack; do
			D=$K/$mode-$kind
			mkdir -p "$D"
			rm -f "$D/go"
			if [ $mode = openmps ]; then
				export OPENMPS_PIPE_DIRECTORY=$D/pipe OPENMPS_LOG_DIRECTORY=$D/log
				"$B/openmps-control" -d
				run() { LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_REQUIRE_SERVER=1 "$@"; }
			else
				export CUDA_MPS_PIPE_DIRECTORY=$D/pipe CUDA_MPS_LOG_DIRECTORY=$D/log
				mkdir -p "$D/pipe" "$D/log"
				nvidia-cuda-mps-control -d
				run() { "$@"; }
			fi
			run timeout 60 "$K/fault" neighbour "$D/go" >"$D/neighbour.out" 2>&1 &
			nb=$!
			for i in $(seq 100); do grep -q filled "$D/neighbour.out" 2>/dev/null && break; sleep 0.1; done
			# A server up for a while: its standby ready (it takes a second or two).
			for i in $(seq 50); do
				[ $mode = mps ] || grep -q "Standing by" "$D/log/server.log" 2>/dev/null && break
				sleep 0.1
			done
			culprit=$(run timeout 30 "$K/fault" $kind 2>&1 | tail -1)
			t0=$(ms)
			run timeout 30 "$K/vector_add" >"$D/next.out" 2>&1
			t1=$(ms)
			touch "$D/go"
			wait $nb
			seen=-
			[ $mode = openmps ] && seen=$(grep -c 'A GPU fault poisoned' "$D/log/server.log" 2>/dev/null)
			echo "fault $mode $kind: culprit [$culprit]; server saw it: $seen; neighbour: $(tail -1 "$D/neighbour.out"); next client: $(grep -q PASS "$D/next.out" && echo PASS || echo FAIL) $((t1 - t0)) ms after the culprit's end"
			grep -q PASS "$D/next.out" || sed 's/^/  next client: /' "$D/next.out" | tail -3
			if [ $mode = openmps ]; then
				grep -E 'GPU fault|Clients with work|cannot tell|cannot be kept|could not be kept|kept:|made anew|Making the server|Handed over|standby' "$D/log/server.log" | head -14
				echo "quit -t 5" | "$B/openmps-control" >/dev/null 2>&1
				unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
			else
				echo quit | nvidia-cuda-mps-control >/dev/null 2>&1
				sleep 1
				unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
			fi
		done
	done
	# A PyTorch program, a graph of cuBLAS kernels, two programs sharing
	# memory and events by CUDA IPC, one with virtual memory of its own, a
	# numba program (its kernels JIT-linked), one with a JIT link under way
	# one in the middle of a stream capture and one holding a graph with a
	# conditional node, as the idle neighbour (openmps only): is it kept,
	# or why not? And "settle": the first neighbour again, synchronized,
	# with workers that park a client only after 10 s, so that its module
	# variables come back only if its worker copied them 1 ms into its pause.
	# "crash", "crash-torch": no fault, the server killed (kill -9) once its
	# record against a crash names the neighbour (the first neighbour above,
	# PyTorch's): its standby takes it over (src/server/checkpoint.c).
	for who in torch graph ipc vmm numba link capture cond settle crash crash-torch; do
		D=$K/$who
		mkdir -p "$D"
		export OPENMPS_PIPE_DIRECTORY=$D/pipe OPENMPS_LOG_DIRECTORY=$D/log
		OPENMPS_RECORD_LOG=1 OPENMPS_SERVER_PARK_MS=$([ $who = settle ] && echo 10000 || echo 20) "$B/openmps-control" -d
		run() { LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_REQUIRE_SERVER=1 "$@"; }
		if [ $who = crash ]; then
			run timeout 120 "$K/fault" neighbour "$D/go" >"$D/neighbour.out" 2>&1 &
		elif [ $who = torch ] || [ $who = crash-torch ]; then
			run timeout 120 python3 tests/gpu/torch_neighbour.py "$D/go" >"$D/neighbour.out" 2>&1 &
		elif [ $who = numba ]; then
			run timeout 120 python3 tests/gpu/numba_neighbour.py "$D/go" >"$D/neighbour.out" 2>&1 &
		elif [ $who = settle ]; then
			run timeout 120 "$K/fault" neighbour-sync "$D/go" >"$D/neighbour.out" 2>&1 &
		elif [ $who = vmm ] || [ $who = link ] || [ $who = capture ] || [ $who = cond ]; then
			run timeout 120 "$K/fault" $who "$D/go" >"$D/neighbour.out" 2>&1 &
		elif [ $who = ipc ]; then
			run timeout 120 "$K/fault" ipc-export "$D/go" >"$D/exporter.out" 2>&1 &
			ex=$!
			for i in $(seq 300); do grep -q filled "$D/exporter.out" 2>/dev/null && break; sleep 0.1; done
			run timeout 120 "$K/fault" ipc-import "$D/go" >"$D/neighbour.out" 2>&1 &
		else
			run timeout 120 "$K/graph_neighbour" "$D/go" >"$D/neighbour.out" 2>&1 &
		fi
		nb=$!
		for i in $(seq 600); do grep -q filled "$D/neighbour.out" 2>/dev/null && break; sleep 0.1; done
		[ $who = ipc ] && for i in $(seq 100); do [ -e "$D/go.freed" ] && break; sleep 0.1; done
		# Its standby ready, as above: the time to serve again is the handover's.
		for i in $(seq 50); do grep -q "Standing by" "$D/log/server.log" 2>/dev/null && break; sleep 0.1; done
		if [ "${who#crash}" != "$who" ]; then
			# A record of the neighbour as it is now: one more after a client comes and goes.
			records() { grep -cE "Record against a crash: 1 client " "$D/log/server.log"; }
			base=$(records)
			run timeout 30 "$K/vector_add" >/dev/null 2>&1
			for i in $(seq 100); do [ "$(records)" -gt "$base" ] && break; sleep 0.1; done
			S=$(echo get_server_list | "$B/openmps-control" 2>/dev/null | head -1)
			t0=$(ms)
			kill -9 "$S"
			run timeout 30 "$K/vector_add" >"$D/next.out" 2>&1
			echo "fault openmps $who: server $S killed; next client: $(grep -q PASS "$D/next.out" && echo PASS || echo FAIL) $(($(ms) - t0)) ms after the kill"
		else
			run timeout 30 "$K/fault" illegal >/dev/null 2>&1
		fi
		sleep 1
		touch "$D/go"
		wait $nb
		if [ $who = ipc ]; then
			wait $ex
			echo "fault openmps ipc exporter: $(tail -1 "$D/exporter.out")"
		fi
		echo "fault openmps $who neighbour: $(tail -1 "$D/neighbour.out")"
		grep -E 'cannot be kept|could not be kept|kept:|made anew|Record against|not kept|stopped without' "$D/log/server.log" | head -8
		echo "quit -t 5" | "$B/openmps-control" >/dev/null 2>&1
		mkdir -p "$OUT/fault-logs" && cp "$D/log/server.log" "$OUT/fault-logs/$who.server.log" &&
			cp "$D/neighbour.out" "$OUT/fault-logs/$who.neighbour.out"
		unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
	done
	# The same kill under NVIDIA MPS: what its idle neighbour sees.
	D=$K/mps-crash
	mkdir -p "$D/pipe" "$D/log"
	export CUDA_MPS_PIPE_DIRECTORY=$D/pipe CUDA_MPS_LOG_DIRECTORY=$D/log
	nvidia-cuda-mps-control -d
	timeout 120 "$K/fault" neighbour "$D/go" >"$D/neighbour.out" 2>&1 &
	nb=$!
	for i in $(seq 300); do grep -q filled "$D/neighbour.out" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	t0=$(ms)
	pkill -9 -f nvidia-cuda-mps-server
	timeout 30 "$K/vector_add" >"$D/next.out" 2>&1
	echo "fault mps crash: server killed; next client: $(grep -q PASS "$D/next.out" && echo PASS || echo FAIL) $(($(ms) - t0)) ms after the kill"
	touch "$D/go"
	wait $nb
	echo "fault mps crash neighbour: $(tail -1 "$D/neighbour.out")"
	echo quit | nvidia-cuda-mps-control >/dev/null 2>&1
	sleep 1
	unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
} >"$OUT/fault.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^(fault |standby [01]:|build failed|(survive|keeper): (summary|FAILED)|handle_values: |coredump_probe: )|cannot be kept|could not be kept|serving again|not kept: it used|stopped without handing' "$OUT/fault.log")
rm -rf "$K"
