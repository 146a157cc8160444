/*
 * sluice-passwd: makes a password hash for the passwd-file module.
 *
 *   sluice-passwd [-s yescrypt|sha512|bcrypt] [-u USER]
 *
 * On a terminal it asks for the password twice without echo; otherwise it reads one
 * line from standard input, so scripts can pipe a password in. It prints the hash with
 * its scheme prefix ({YESCRYPT}$y$..., {SHA512-CRYPT}$6$..., {BLF-CRYPT}$2b$...), or with
 * -u a whole passwd-file line USER:{SCHEME}hash, ready to append to the file. The salt
 * comes from the operating system's random source through libxcrypt's crypt_gensalt_rn.
 * The password is read with read(2) into one buffer, never through stdio, so that no
 * copy is left behind after the buffer is wiped.
 */
#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

struct scheme {
	const char *option;  /* the -s word */
	const char *name;    /* the passwd-file scheme prefix */
	const char *prefix;  /* the crypt(3) method prefix */
	unsigned long count; /* cost; 0 takes libxcrypt's default */
};

/*
 * libxcrypt's own defaults suit yescrypt and SHA-512 ($6$ keeps its 5000 rounds for
 * compatibility with other readers); its bcrypt default of cost 5 dates from 1990s
 * hardware, so bcrypt asks for cost 10 (about 1024 times slower to guess).
 */
static const struct scheme schemes[] = {
    {"yescrypt", "YESCRYPT", "$y$", 0},
    {"sha512", "SHA512-CRYPT", "$6$", 0},
    {"bcrypt", "BLF-CRYPT", "$2b$", 10},
};

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void usage(FILE *out)
{
	fprintf(out, "usage: sluice-passwd [-s yescrypt|sha512|bcrypt] [-u USER]\n"
	             "Prints a password hash for the sluice passwd-file; with -u a whole line\n"
	             "USER:{SCHEME}hash. The password is asked twice on a terminal, otherwise\n"
	             "read as one line from standard input. The default scheme is yescrypt.\n");
}

/* Puts echo back if a signal arrives while the password is being typed. */
static void restore_tty_and_die(int sig)
{
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Reads one line from standard input into @buf, without its line ending. Returns its
 * length, or -1 with a message printed.
 */
static ssize_t read_line(char *buf, size_t size)
{
	size_t len = 0;
	bool eol = false;

	for (;;) {
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sluice-passwd: cannot read the password: %s\n",
			        strerror(errno));
			return -1;
		}
		if (n == 0 || c == '\n') {
			eol = n == 1;
			break;
		}
		if (len + 1 >= size) {
			fprintf(stderr, "sluice-passwd: the password is longer than %zu bytes\n",
			        size - 1);
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (!eol && len == 0) {
		fprintf(stderr, "sluice-passwd: no password on standard input\n");
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		fprintf(stderr, "sluice-passwd: the password contains a NUL byte\n");
		return -1;
	}
	return (ssize_t)len;
}

/* Prompts on the terminal with echo off and reads one line. */
static ssize_t read_hidden(const char *prompt, char *buf, size_t size)
{
	struct termios quiet;
	ssize_t len;

	fputs(prompt, stderr);
	fflush(stderr);
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tty_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
		tty_changed = 0;
		fprintf(stderr, "\nsluice-passwd: cannot turn off echo: %s\n", strerror(errno));
		return -1;
	}
	len = read_line(buf, size);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	return len;
}

static int read_password(char *pw, char *again, size_t size)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
	ssize_t len, len2;

	if (!isatty(STDIN_FILENO))
		return read_line(pw, size) < 0 ? -1 : 0;
	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
		fprintf(stderr, "sluice-passwd: cannot read the terminal settings: %s\n",
		        strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], restore_tty_and_die);
	len = read_hidden("Password: ", pw, size);
	if (len < 0)
		return -1;
	len2 = read_hidden("Retype password: ", again, size);
	if (len2 < 0)
		return -1;
	if (len != len2 || memcmp(pw, again, (size_t)len) != 0) {
		fprintf(stderr, "sluice-passwd: the passwords do not match\n");
		return -1;
	}
	return 0;
}

static bool user_ok(const char *user)
{
	if (*user == '\0')
		return false;
	for (const char *p = user; *p != '\0'; p++) {
		if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return user[0] != ' ' && user[strlen(user) - 1] != ' ';
}

static int make_hash(const struct scheme *s, const char *user, const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	int ret = 1;

	if (crypt_gensalt_rn(s->prefix, s->count, NULL, 0, setting, sizeof(setting)) == NULL) {
		fprintf(stderr, "sluice-passwd: cannot make a %s salt: %s\n", s->option,
		        strerror(errno));
		return 1;
	}
	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		fprintf(stderr, "sluice-passwd: out of memory\n");
		return 1;
	}
	hash = crypt_rn(pw, setting, data, (int)sizeof(*data));
	if (hash == NULL || hash[0] == '*') {
		fprintf(stderr, "sluice-passwd: cannot hash the password with %s\n", s->option);
	} else {
		if (user != NULL)
			printf("%s:", user);
		printf("{%s}%s\n", s->name, hash);
		ret = fflush(stdout) == 0 ? 0 : 1;
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}

int main(int argc, char **argv)
{
	const struct scheme *s = &schemes[0];
	static char pw[PASSWORD_MAX + 1], again[PASSWORD_MAX + 1];
	const char *user = NULL;
	int opt, ret = 1;

	while ((opt = getopt(argc, argv, "hs:u:")) != -1) {
		switch (opt) {
		case 's':
			s = NULL;
			for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
				if (strcmp(optarg, schemes[i].option) == 0)
					s = &schemes[i];
			}
			if (s == NULL) {
				fprintf(stderr,
				        "sluice-passwd: unknown scheme %s (use yescrypt, sha512 or "
				        "bcrypt)\n",
				        optarg);
				return 1;
			}
			break;
		case 'u':
			if (!user_ok(optarg)) {
				fprintf(stderr,
				        "sluice-passwd: a user name must be non-empty, "
				        "without ':', control characters or outer spaces\n");
				return 1;
			}
			user = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	if (read_password(pw, again, sizeof(pw)) == 0) {
		if (pw[0] == '\0')
			fprintf(stderr, "sluice-passwd: the password is empty\n");
		else if (s->prefix[1] == '2' && strlen(pw) > 72)
			fprintf(stderr, "sluice-passwd: bcrypt uses only the first 72 bytes of a "
			                "password; choose yescrypt for a longer one\n");
		else
			ret = make_hash(s, user, pw);
	}
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	return ret;
}
