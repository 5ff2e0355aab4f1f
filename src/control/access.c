/* Who may use the daemon, and the directories it trusts. Without
 * --allow-group, whoever can reach the socket (the pipe directory's mode
 * decides, as with NVIDIA MPS). With it, only root, the daemon's own user
 * and members of the allowed groups, read from the kernel's credentials of
 * the peer (SO_PEERCRED, SO_PEERGROUPS), not from anything it says. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "sock.h"

int ctl_access_parse_group(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long n;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	n = strtoul(name, &end, 10);
	if (!*name || *end || n > 0xfffffffeUL)
		return -1;
	*gid = (gid_t)n;
	return 0;
}

static int allowed_gid(const struct ctl_daemon *d, gid_t g)
{
	int i;

	for (i = 0; i < d->nallow; i++)
		if (d->allow[i] == g)
			return 1;
	return 0;
}

/* The peer's supplementary groups, as the kernel recorded them at connect. */
static int peer_in_allowed_group(const struct ctl_daemon *d, int fd)
{
	gid_t small[64], *groups = small, primary;
	socklen_t len = sizeof(small);
	int found = 0;
	size_t i;

	if (omps_sock_peer(fd, NULL, NULL, &primary) == 0 && allowed_gid(d, primary))
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = allowed_gid(d, groups[i]);
	if (groups != small)
		free(groups);
	return found;
}

int ctl_access_allowed(const struct ctl_daemon *d, int fd, uid_t uid, char *why, size_t len)
{
	if (!d->nallow || uid == 0 || uid == d->uid || peer_in_allowed_group(d, fd))
		return 1;
	snprintf(why, len, "user %u is not in a group allowed to use this daemon (%s)", (unsigned)uid,
		 d->allow_names);
	return 0;
}

/* A directory the daemon keeps its socket or logs in: created with `mode`
 * (and given to `group`, unless it is (gid_t)-1) if missing; otherwise it
 * must be the daemon's user's (or root's), and writable by no one else, or
 * another user could put a socket or log file of their own in its place.
 * Opened once, not followed if a symbolic link, and checked through that
 * descriptor, which the daemon then uses for every file in it: a rename of
 * a parent cannot swap the directory between the check and the use
 * (security review M7). Returns the descriptor. */
int ctl_access_take_dir(const char *dir, const char *what, mode_t mode, gid_t group, char *err, size_t errlen)
{
	struct stat st;
	int made = mkdir(dir, mode) == 0, fd;

	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the %s directory %s: %s", what, dir, strerror(errno));
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		const char *why = strerror(errno);

		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			why = "a symbolic link";
		snprintf(err, errlen, "the %s directory %s is not a directory (%s)", what, dir, why);
		goto fail;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "the %s directory %s belongs to user %u, not to %u", what, dir,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "the %s directory %s is writable by others (mode %03o); refusing it", what,
			 dir, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (made && group != (gid_t)-1 && (fchown(fd, (uid_t)-1, group) < 0 || fchmod(fd, mode) < 0)) {
		snprintf(err, errlen, "cannot give the %s directory %s to group %u: %s", what, dir, (unsigned)group,
			 strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}
