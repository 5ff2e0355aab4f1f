/* The unit test runner, after libuv's test/runner.c: every test of
 * test-list.h in a process of its own with a time limit, so that one that
 * crashes, hangs or leaves state behind costs only itself.
 *   openmps-unit             every test, then "N passed, M failed"
 *   openmps-unit NAME...     those tests (CTest runs each by name)
 *   openmps-unit --list      the names */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-list.h"

#define TIMEOUT_S 60

#define DECLARE(name) void test_##name(void);
TEST_LIST(DECLARE)

static const struct test {
	const char *name;
	void (*fn)(void);
} tests[] = {
#define ENTRY(name) {#name, test_##name},
	TEST_LIST(ENTRY)
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* 0 if it passed; prints why not. */
static int run(const struct test *t)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		alarm(TIMEOUT_S); /* SIGALRM's default action ends the test */
		t->fn();
		fflush(NULL);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %s\n", t->name);
		return 0;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		printf("not ok %s: no end within %d s\n", t->name, TIMEOUT_S);
	else if (WIFSIGNALED(status))
		printf("not ok %s: %s\n", t->name, strsignal(WTERMSIG(status)));
	else
		printf("not ok %s: exit status %d\n", t->name, WEXITSTATUS(status));
	return 1;
}

static const struct test *find(const char *name)
{
	size_t i;

	for (i = 0; i < NTESTS; i++)
		if (!strcmp(tests[i].name, name))
			return &tests[i];
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	size_t i;
	int a;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc == 1) {
		for (i = 0; i < NTESTS; i++)
			run(&tests[i]) ? failed++ : passed++;
	}
	for (a = 1; a < argc; a++) {
		const struct test *t = find(argv[a]);

		if (!t) {
			fprintf(stderr, "openmps-unit: no test named %s (--list names them)\n", argv[a]);
			return 2;
		}
		run(t) ? failed++ : passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
