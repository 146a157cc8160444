/*
 * sluice-bench: command line, shared helpers and the scenario dispatch.
 *
 *   sluice-bench idle   --port P [--tls] --pid PID --count N [--settle S]
 *   sluice-bench mixed  --port P --clients C --seconds T --append-dir DIR
 *   sluice-bench bigbox --port P --steps select,fetch-flags,... --append-dir DIR
 *   sluice-bench logins --port P --tls --seconds T [--parallel P]
 *
 * Users are PREFIX1 .. PREFIXn (--user-prefix, --users n) with one password; with
 * --users 0 the prefix is the user name. bench.h describes the output.
 */
#include "bench.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct bench_opts opt = {
	.user_prefix = "bench",
	.users = 1,
	.password = "bench",
	.sources = 1,
	.timeout = 900,
	.cmd_timeout = 300,
	.seed = 1,
	.label = "",
	.count = 100,
	.parallel = 64,
	.settle = 3,
	.clients = 10,
	.seconds = 10,
	.threshold = 30,
	.steps = "select",
	.rare_word = "rareword",
	.common_word = "quarterly",
	.copy_n = 10000,
	.move_n = 10000,
	.expunge_n = 10000,
	.append_n = 1000,
	.append_seconds = 600,
};

static void vsay(const char *fmt, va_list ap)
{
	fputs("sluice-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void result(const char *key, double value, const char *unit, const char *why)
{
	printf("RESULT\t%s%s\t%.6g\t%s\t%s\n", opt.label, key, value, unit, why ? why : "");
	fflush(stdout);
}

void bench_user(unsigned i, char *buf, size_t size)
{
	if (opt.users == 0)
		snprintf(buf, size, "%s", opt.user_prefix);
	else
		snprintf(buf, size, "%s%u", opt.user_prefix, 1 + i % opt.users);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 spreads small seeds over the whole state; zero is not a valid state. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	r->s = (z ^ (z >> 31)) | 1;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)((rng_next(r) >> 32) % n);
}

bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

bool starts_with_ci(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (toupper((unsigned char)s[i]) != toupper((unsigned char)prefix[i]))
			return false;
	return true;
}

bool untagged_number(const char *line, size_t len, const char *word, uint32_t *n)
{
	size_t i = 2;
	uint64_t v = 0;
	if (len < 4 || line[0] != '*' || line[1] != ' ' || !isdigit((unsigned char)line[2]))
		return false;
	while (i < len && isdigit((unsigned char)line[i])) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return false;
		i++;
	}
	if (i >= len || line[i] != ' ')
		return false;
	i++;
	size_t wl = strlen(word);
	if (!starts_with_ci(line + i, len - i, word))
		return false;
	if (i + wl < len && line[i + wl] != ' ' && line[i + wl] != '(')
		return false;
	*n = (uint32_t)v;
	return true;
}

static void usage(FILE *f)
{
	fputs("usage: sluice-bench idle|mixed|bigbox|logins --port N [options]\n"
	      "  common:  --tls --user-prefix P --users N --password PW --sources N\n"
	      "           --timeout S --cmd-timeout S --seed N --label PREFIX\n"
	      "  idle:    --pid PID --count N --parallel N --settle S\n"
	      "  mixed:   --clients N --seconds S --threshold N --append-dir DIR\n"
	      "  bigbox:  --steps LIST --rare WORD --common WORD --copy N --move N\n"
	      "           --expunge N --append N --append-seconds S --append-dir DIR\n"
	      "           (steps: select fetch-flags fetch-envelope search-body search-text\n"
	      "            copy move store expunge append)\n"
	      "  logins:  --seconds S --parallel N\n"
	      "Prints RESULT<TAB>key<TAB>value<TAB>unit<TAB>note lines; exits 1 if the run failed.\n",
	      f);
}

static unsigned parse_uint(const char *name, const char *s, unsigned lo, unsigned hi)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		fprintf(stderr, "sluice-bench: --%s needs a number from %u to %u, not '%s'\n", name,
		        lo, hi, s);
		exit(2);
	}
	return (unsigned)v;
}

static double parse_secs(const char *name, const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (*end != '\0' || end == s || !(v > 0) || v > 86400) {
		fprintf(stderr, "sluice-bench: --%s needs seconds (0 to 86400), not '%s'\n", name, s);
		exit(2);
	}
	return v;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			note("cannot raise the open file limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"port", required_argument, NULL, 'p'},
		{"tls", no_argument, NULL, 'T'},
		{"user-prefix", required_argument, NULL, 'u'},
		{"users", required_argument, NULL, 'U'},
		{"password", required_argument, NULL, 'w'},
		{"sources", required_argument, NULL, 'S'},
		{"timeout", required_argument, NULL, 't'},
		{"cmd-timeout", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 'r'},
		{"label", required_argument, NULL, 'l'},
		{"pid", required_argument, NULL, 'P'},
		{"count", required_argument, NULL, 'n'},
		{"parallel", required_argument, NULL, 'j'},
		{"settle", required_argument, NULL, 's'},
		{"clients", required_argument, NULL, 'c'},
		{"seconds", required_argument, NULL, 'd'},
		{"threshold", required_argument, NULL, 'm'},
		{"append-dir", required_argument, NULL, 'a'},
		{"steps", required_argument, NULL, 'x'},
		{"rare", required_argument, NULL, 'R'},
		{"common", required_argument, NULL, 'C'},
		{"copy", required_argument, NULL, '1'},
		{"move", required_argument, NULL, '2'},
		{"expunge", required_argument, NULL, '3'},
		{"append", required_argument, NULL, '4'},
		{"append-seconds", required_argument, NULL, '5'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (argc < 2 || argv[1][0] == '-') {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	const char *scenario = argv[1];
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = (int)parse_uint("port", optarg, 1, 65535); break;
		case 'T': opt.tls = true; break;
		case 'u': opt.user_prefix = optarg; break;
		case 'U': opt.users = parse_uint("users", optarg, 0, 10000000); break;
		case 'w': opt.password = optarg; break;
		case 'S': opt.sources = parse_uint("sources", optarg, 1, 250); break;
		case 't': opt.timeout = parse_secs("timeout", optarg); break;
		case 'k': opt.cmd_timeout = parse_secs("cmd-timeout", optarg); break;
		case 'r': opt.seed = parse_uint("seed", optarg, 0, 4000000000u); break;
		case 'l': opt.label = optarg; break;
		case 'P': opt.pid = (pid_t)parse_uint("pid", optarg, 1, 4000000000u); break;
		case 'n': opt.count = parse_uint("count", optarg, 1, 1000000); break;
		case 'j': opt.parallel = parse_uint("parallel", optarg, 1, 100000); break;
		case 's': opt.settle = parse_secs("settle", optarg); break;
		case 'c': opt.clients = parse_uint("clients", optarg, 1, 100000); break;
		case 'd': opt.seconds = parse_secs("seconds", optarg); break;
		case 'm': opt.threshold = parse_uint("threshold", optarg, 1, 1000000); break;
		case 'a': opt.append_dir = optarg; break;
		case 'x': opt.steps = optarg; break;
		case 'R': opt.rare_word = optarg; break;
		case 'C': opt.common_word = optarg; break;
		case '1': opt.copy_n = parse_uint("copy", optarg, 1, 10000000); break;
		case '2': opt.move_n = parse_uint("move", optarg, 1, 10000000); break;
		case '3': opt.expunge_n = parse_uint("expunge", optarg, 1, 10000000); break;
		case '4': opt.append_n = parse_uint("append", optarg, 1, 10000000); break;
		case '5': opt.append_seconds = parse_secs("append-seconds", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || opt.port == 0) {
		usage(stderr);
		return 2;
	}
	/* A server closing mid-write must be an error we report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	loop_init();
	conn_tls_init();
	if (strcmp(scenario, "idle") == 0)
		return scen_idle();
	if (strcmp(scenario, "mixed") == 0)
		return scen_mixed();
	if (strcmp(scenario, "bigbox") == 0)
		return scen_bigbox();
	if (strcmp(scenario, "logins") == 0)
		return scen_logins();
	fprintf(stderr, "sluice-bench: unknown scenario '%s'\n", scenario);
	usage(stderr);
	return 2;
}
