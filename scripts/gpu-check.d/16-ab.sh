# scripts/gpu-check section 16, sourced by it (note, B, SHIM and OUT are its).
# 16. This build against an earlier one on the hot path (issue 18: within
# 2 %), when that one was carried in build-base/ (bin/ and lib/, as
# CMake lays them out: e.g. `git worktree add /tmp/base f0d39b3`, built,
# its bin and lib copied to build-base/): bench/ab, AB_ROUNDS rounds
# (default 4) of AB_WORKLOADS (default "resnet", one worker: about 5
# minutes), within AB_SECONDS (default 500); a run cut short still
# reports the rounds it finished.
if [ -x build-base/bin/openmps-control ]; then
	RESNET_WORKERS=${RESNET_WORKERS:-1} timeout "${AB_SECONDS:-500}" bench/ab --rounds "${AB_ROUNDS:-4}" \
		build-base build ${AB_WORKLOADS:-resnet} >"$OUT/ab.txt" 2>"$OUT/ab.log"
	while read -r line; do note "ab: $line"; done <"$OUT/ab.txt"
	# AB_ALSO_ENV="NAME=VALUE ...": bench/ab once more, AB_ALSO_WORKLOADS
	# (default launch), 3 rounds, with that environment for both builds'
	# daemons (e.g. CUDA_DEVICE_MAX_CONNECTIONS=8: what the 32 hardware
	# queues cost the 4-byte copy, bench/results/2026-12-05-soak-ab.md).
	if [ -n "${AB_ALSO_ENV:-}" ]; then
		env $AB_ALSO_ENV RESNET_WORKERS=${RESNET_WORKERS:-1} timeout "${AB_ALSO_SECONDS:-150}" bench/ab --rounds 3 \
			build-base build ${AB_ALSO_WORKLOADS:-launch} >"$OUT/ab-also.txt" 2>"$OUT/ab-also.log"
		while read -r line; do note "ab [$AB_ALSO_ENV]: $line"; done <"$OUT/ab-also.txt"
	fi
else
	note "ab: no build-base/ carried; nothing compared"
fi
