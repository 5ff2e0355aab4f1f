/* Log lines have NVIDIA's shape and arrive whole, one line per text line. */
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task.h"
#include "log.h"

TEST(log)
{
	char dir[] = "/tmp/omps-logtest.XXXXXX", path[64], buf[1024];
	regex_t re;
	FILE *f;
	int fd, dirfd, lines = 0;

	ASSERT_NE(mkdtemp(dir), NULL);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dirfd, 0);
	fd = omps_log_open(dirfd, "control.log");
	close(dirfd);
	ASSERT_GE(fd, 0);
	omps_log_init("Control", fd, 0);
	omps_log("NEW CLIENT %d from user %d: Server already exists", 610, 0);
	omps_log_lines("first\nsecond\n");
	/* What a client names cannot forge a line or reach a terminal (L5). */
	omps_log("global %s", "g\n[2026-12-03 00:00:00.000 Control     1] FORGED\x1b[2J\r\x7f");
	close(fd);
	ASSERT_EQ(regcomp(&re, "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} Control +[0-9]+\\] ",
		      REG_EXTENDED), 0);
	snprintf(path, sizeof(path), "%s/control.log", dir);
	f = fopen(path, "r");
	ASSERT_NE(f, NULL);
	while (f && fgets(buf, sizeof(buf), f)) {
		ASSERT_EQ(regexec(&re, buf, 0, NULL, 0), 0);
		lines++;
	}
	ASSERT_EQ(lines, 4);
	ASSERT_NE(strstr(buf, "] global g\\x0a[2026-12-03 00:00:00.000 Control     1] FORGED\\x1b[2J\\x0d\\x7f\n"),
		  NULL);
	if (f)
		fclose(f);
	omps_log_prefix(buf, sizeof(buf), "Server", 42);
	ASSERT_NE(strstr(buf, " Server    42] "), NULL); /* pid right-aligned in 5 */
	regfree(&re);
	unlink(path);
	rmdir(dir);
}
