# Sourced by scripts/test, scripts/demo and .ci/run from the tree's root:
# installs what building and testing openmps needs and the machine lacks
# (Debian or Ubuntu packages, with apt-get as root or through sudo), takes
# Nettle and zstd from an ignored build-deps/ where the machine has them
# there (scripts/build-deps.sh: a machine with no network), and otherwise
# stops with the one apt-get line that would do it.
#   deps_need [EXTRA_PACKAGE...]   e.g. deps_need clang for the fuzz targets
deps_need() {
	local missing=() p sudo=
	command -v cmake >/dev/null || missing+=(cmake)
	command -v cc >/dev/null || missing+=(gcc)
	command -v make >/dev/null || command -v ninja >/dev/null || missing+=(make)
	command -v python3 >/dev/null || missing+=(python3)
	command -v pgrep >/dev/null || missing+=(procps)     # the tests watch processes
	command -v setpriv >/dev/null || missing+=(util-linux) # e2e_users runs clients as others
	. scripts/build-deps.sh
	[ -f /usr/include/nettle/md2.h ] || [ -n "${CMAKE_INCLUDE_PATH:-}" ] || missing+=(nettle-dev)
	[ -f /usr/include/zstd.h ] || [ -n "${CMAKE_INCLUDE_PATH:-}" ] || missing+=(libzstd-dev)
	[ -f /usr/include/jansson.h ] || missing+=(libjansson-dev)         # ps --json, openmps top
	[ -f /usr/include/curses.h ] || missing+=(libncurses-dev)          # openmps top
	[ -f /usr/include/microhttpd.h ] || missing+=(libmicrohttpd-dev)   # the metrics endpoint
	command -v promtool >/dev/null || missing+=(prometheus)            # e2e_metrics: promtool, a real scrape
	command -v pandoc >/dev/null || missing+=(pandoc)                  # the man pages, from docs/
	command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)        # the Debian package's dependencies
	command -v slurmd >/dev/null || missing+=(slurm-wlm)               # e2e_slurm: a one-node Slurm (with munge)
	python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)   # e2e_kubernetes: the manifests
	command -v tmux >/dev/null || missing+=(tmux)                      # e2e_top: a real terminal
	for p in "$@"; do command -v "$p" >/dev/null || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	if command -v apt-get >/dev/null && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
		echo "openmps: installing ${missing[*]}" >&2
		$sudo apt-get update -q >&2 &&
			$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 &&
			return 0
	fi
	echo "openmps: missing ${missing[*]}, and they could not be installed here; on Debian or Ubuntu:" >&2
	echo "  sudo apt-get install ${missing[*]}" >&2
	return 1
}

# The CUDA toolkit's cuda.h (not a Debian package this script installs: the
# toolkit comes from NVIDIA's repository or the GPU machine's image).
deps_cuda_header() {
	local h
	for h in "${CUDA_HOME:-/nonexistent}/include/cuda.h" /usr/local/cuda/include/cuda.h /usr/include/cuda.h; do
		[ -f "$h" ] && return 0
	done
	echo "openmps: the build needs the CUDA toolkit's cuda.h: install the toolkit, or set CUDA_HOME" >&2
	return 1
}
