/* Resolves struct srv_driver from SRV_DRIVER_CALLS (driver.h). */
#include "driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

struct sym {
	const char *name;
	size_t offset;
	int optional;
};

#define STR_(x) #x
#define STR(x) STR_(x) /* after cuda.h's #defines: the versioned name */
#define SYM(field, name) {STR(name), offsetof(struct srv_driver, field), 0},
#define OPTIONAL(field, name) {STR(name), offsetof(struct srv_driver, field), 1},
static const struct sym syms[] = {SRV_DRIVER_CALLS(SYM, OPTIONAL)};

int srv_driver_load(struct srv_driver *drv, char *err, size_t errlen)
{
	const char *path = getenv("OPENMPS_DRIVER_PATH");
	size_t i;

	if (!path || !*path)
		path = "libcuda.so.1";
	drv->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!drv->handle) {
		snprintf(err, errlen, "cannot load the CUDA driver %s: %s", path, dlerror());
		return -1;
	}
	if (dlsym(drv->handle, "openmps_shim_version")) {
		snprintf(err, errlen,
			 "%s is the openmps client shim, not the CUDA driver: remove the shim's directory "
			 "from the daemon's LD_LIBRARY_PATH or set OPENMPS_DRIVER_PATH",
			 path);
		goto fail;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(drv->handle, syms[i].name);

		if (!f && !syms[i].optional) {
			snprintf(err, errlen, "the CUDA driver %s lacks %s", path, syms[i].name);
			goto fail;
		}
		*(void **)((char *)drv + syms[i].offset) = f;
	}
	return 0;
fail:
	dlclose(drv->handle);
	drv->handle = NULL;
	return -1;
}

void srv_driver_strerror(const struct srv_driver *drv, CUresult r, char *buf, size_t len)
{
	const char *name = NULL;

	if (drv->get_error_name && drv->get_error_name(r, &name) != CUDA_SUCCESS)
		name = NULL;
	snprintf(buf, len, "%s (%d)", name ? name : "CUDA error", (int)r);
}
