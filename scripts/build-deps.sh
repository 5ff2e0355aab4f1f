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
	export CMAKE_LIBRARY_PATH=$PWD/build-deps/lib LD_LIBRARY_PATH=$PWD/build-deps/lib:${LD_LIBRARY_PATH:-}
	DEPS_USED+="nettle and zstd libraries, "
fi
DEPS_USED=${DEPS_USED%, }
