# Sourced by scripts/gpu-check and bench/run, from the tree's root: Nettle and
# zstd, where the machine lacks them, from headers and libraries copied into
# the ignored build-deps/ (the device tool carries it). Sets DEPS_USED to what
# it took from there.
DEPS_USED=
if [ ! -e /usr/include/nettle/md2.h ] && [ -d build-deps/include ]; then
	export CMAKE_INCLUDE_PATH=$PWD/build-deps/include
	DEPS_USED+="nettle headers, "
fi
if [ ! -e /usr/include/zstd.h ] && [ -d build-deps/include ]; then
	export CMAKE_INCLUDE_PATH=$PWD/build-deps/include
	DEPS_USED+="zstd headers, "
fi
if ! ldconfig -p | grep -q 'libnettle.so.8 ' && [ -d build-deps/lib ]; then
	export CMAKE_LIBRARY_PATH=$PWD/build-deps/lib # to link with; to run, see below
fi
DEPS_USED=${DEPS_USED%, }
# Libraries the carried binaries need and this machine lacks (jansson,
# libmicrohttpd and what it links, on a GPU machine that never installed
# them): links in build-deps/use to those scripts/collect-libs copied into
# build-deps/lib, on LD_LIBRARY_PATH; only the missing ones, so that the
# machine's own programs (Python, PyTorch) keep the machine's libraries.
if [ -d build-deps/lib ] && [ -x build/bin/openmps-control ]; then
	rm -rf build-deps/use
	mkdir -p build-deps/use
	for _round in 1 2 3; do # a library found may need another
		_missing=$(LD_LIBRARY_PATH=$PWD/build-deps/use:${LD_LIBRARY_PATH:-} ldd build/bin/openmps-control \
			build/bin/openmps build/bin/openmps-server build-deps/use/* 2>/dev/null | awk '/not found/ {print $1}' | sort -u)
		[ -z "$_missing" ] && break
		for _so in $_missing; do
			[ -e "build-deps/lib/$_so" ] && ln -sf "../lib/$_so" "build-deps/use/$_so" && DEPS_USED+="$_so, "
		done
	done
	[ -n "$(ls build-deps/use)" ] && export LD_LIBRARY_PATH=$PWD/build-deps/use:${LD_LIBRARY_PATH:-}
	DEPS_USED=${DEPS_USED%, }
	unset _round _missing _so
fi
