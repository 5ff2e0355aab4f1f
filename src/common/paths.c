#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

/* Ours, else NVIDIA's name for it (what clusters that run NVIDIA MPS set:
 * openmps then takes its place unchanged), else the default. */
static const char *dir_of(const char *ours, const char *nvidias, const char *dflt)
{
	return env_or(ours, env_or(nvidias, dflt));
}

const char *omps_pipe_dir(void)
{
	return dir_of("OPENMPS_PIPE_DIRECTORY", "CUDA_MPS_PIPE_DIRECTORY", OMPS_DEFAULT_PIPE_DIR);
}

int omps_pipe_dir_is_nvidias(void)
{
	const char *v = getenv("OPENMPS_PIPE_DIRECTORY"), *n = getenv("CUDA_MPS_PIPE_DIRECTORY");

	return !(v && *v) && n && *n;
}

const char *omps_log_dir(void)
{
	return dir_of("OPENMPS_LOG_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY", OMPS_DEFAULT_LOG_DIR);
}

int omps_pipe_path(char *buf, size_t len, const char *name)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s/%s", omps_pipe_dir(), name);

	return n < 0 || (size_t)n >= len || (size_t)n >= max ? -1 : 0;
}

int omps_self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}
