/* Log lines have NVIDIA's shape and arrive whole, one line per text line. */
#include <regex.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

int main(void)
{
	char dir[] = "/tmp/omps-logtest.XXXXXX", path[64], buf[1024];
	regex_t re;
	FILE *f;
	int fd, lines = 0;

	CHECK(mkdtemp(dir) != NULL);
	fd = omps_log_open(dir, "control.log");
	CHECK(fd >= 0);
	omps_log_init("Control", fd, 0);
	omps_log("NEW CLIENT %d from user %d: Server already exists", 610, 0);
	omps_log_lines("first\nsecond\n");
	close(fd);
	CHECK(regcomp(&re, "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} Control +[0-9]+\\] ",
		      REG_EXTENDED) == 0);
	snprintf(path, sizeof(path), "%s/control.log", dir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && fgets(buf, sizeof(buf), f)) {
		CHECK(regexec(&re, buf, 0, NULL, 0) == 0);
		lines++;
	}
	CHECK(lines == 3);
	if (f)
		fclose(f);
	omps_log_prefix(buf, sizeof(buf), "Server", 42);
	CHECK(strstr(buf, " Server    42] ") != NULL); /* pid right-aligned in 5 */
	regfree(&re);
	unlink(path);
	rmdir(dir);
	return check_report("log");
}
