/*
 * sluiced: command line, start-up, signals and shutdown.
 *
 * Start-up reads and checks the whole configuration, loads and starts the modules,
 * binds the listeners, then runs the event loop on the main thread. Signals are blocked
 * in every thread and read from a signalfd by the loop: SIGHUP reloads, SIGTERM and
 * SIGINT begin a graceful shutdown (a second one stops at once). sluicectl reaches the
 * running server through the control socket (ctl/control.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/identity.h"
#include "conf/server-conf.h"
#include "conf/settings.h"
#include "ctl/control.h"
#include "imap/session.h"
#include "mailbox/notify.h"
#include "net/event.h"
#include "net/listener.h"
#include "server.h"
#include "util/log.h"

static struct ev_source signal_source = {-1, NULL};
static struct ev_timer shutdown_deadline;
static int shutdown_requests;

static void usage(FILE *out)
{
	fprintf(out, "usage: sluiced [-c FILE] [-t] [-V] [--settings]\n"
		     "  -c FILE     configuration file (default %s/sluiced.conf)\n"
		     "  -t          check the configuration, start and stop the modules, and exit\n"
		     "  -V          print the version and exit\n"
		     "  --settings  print the reference of the server settings and exit\n",
		SLUICE_CONF_DIR);
}

static void on_shutdown_deadline(struct ev_timer *t)
{
	(void)t;
	log_warning("shutdown timeout reached with %zu connections still open; stopping now",
		    session_live_count());
	ev_stop();
}

static void begin_shutdown(const char *why)
{
	if (++shutdown_requests > 1) {
		log_info("%s again: stopping at once", why);
		ev_stop();
		return;
	}
	atomic_store(&server.shutting_down, true);
	listeners_close();
	size_t n = session_shutdown_all();
	log_info("%s: shutting down, closing %zu connections", why, n);
	struct server_conf *c = server_current_conf();
	ev_timer_set(&shutdown_deadline, ev_now_ms() + c->s.shutdown_timeout);
	server_conf_unref(&c);
}

static void on_signal(struct ev_source *src, uint32_t events)
{
	struct signalfd_siginfo si;
	(void)events;
	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			server_reload(NULL);
		else
			begin_shutdown(si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	}
}

static void on_batch(void)
{
	session_reap();
	if (atomic_load(&server.shutting_down) && session_live_count() == 0)
		ev_stop();
}

/*
 * Each connection holds a descriptor, so the open-file limit caps the connections. Take the
 * whole hard limit, and when allowed (root, CAP_SYS_RESOURCE) raise the hard limit to the
 * kernel's nr_open too: 50,000 idle clients should not need a tuned unit file.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = rl.rlim_max;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f != NULL) {
		unsigned long long nr_open;
		if (fscanf(f, "%llu", &nr_open) == 1 && nr_open > want)
			want = (rlim_t)nr_open;
		fclose(f);
	}
	if (want > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &(struct rlimit){want, want}) == 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warning("cannot raise the open file limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	const char *path = SLUICE_CONF_DIR "/sluiced.conf";
	bool check = false;
	static const struct option longopts[] = {
		{"settings", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("sluiced %s\n", SLUICE_VERSION);
			return 0;
		case 'S':
			server_conf_print_reference(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct conf_errors errs = {0};
	struct server_conf *conf = NULL;
	if (server_conf_load(path, &conf, &errs) < 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		return 1;
	}
	conf_errors_free(&errs);
	log_setup(conf->s.log == 1 ? LOG_TARGET_SYSLOG : LOG_TARGET_STDERR, conf->s.log_level);

	/* Signals are read from a signalfd; no thread may take them asynchronously. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (server_setup(conf, check) < 0) {
		server_teardown();
		return 1;
	}
	if (check) {
		printf("%s: configuration is valid\n", path);
		server_teardown();
		return 0;
	}
	raise_fd_limit();

	/* Listeners keep pointing into the start-up configuration, whatever reloads bring. */
	struct server_conf *listen_conf = server_conf_ref(conf);
	if (listeners_open(listen_conf, &errs) < 0) {
		conf_errors_print(&errs, stderr);
		conf_errors_free(&errs);
		listeners_free();
		server_conf_unref(&listen_conf);
		server_teardown();
		return 1;
	}
	control_open(conf); /* before ev_init: no worker thread may run during its umask */
	/* Root was needed for the ports; from here on only the right to switch identities
	 * is kept (docs/security.md). Workers start after this and inherit it. */
	if (identity_setup() < 0 || identity_drop_privileges() < 0 || identity_setup() < 0) {
		log_error("cannot give up the privileges sluiced does not need: %s", strerror(errno));
		return 1;
	}
	if (identity_can_switch())
		log_info("running as uid %ld: each user's files are touched with that user's "
			 "uid, gid and groups", (long)geteuid());
	if (ev_init(conf->s.workers) < 0) {
		log_error("cannot start the event loop: %s", strerror(errno));
		control_close();
		return 1;
	}
	signal_source.fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	signal_source.on_event = on_signal;
	shutdown_deadline.fire = on_shutdown_deadline;
	if (signal_source.fd < 0 || ev_add(&signal_source, EPOLLIN) < 0) {
		log_error("cannot watch signals: %s", strerror(errno));
		return 1;
	}
	ev_set_batch_hook(on_batch);
	notify_init(); /* without inotify, IDLE still hears of this server's own changes */
	listeners_start();
	control_start();
	log_info("sluiced %s started with %u workers", SLUICE_VERSION, ev_worker_count());

	int rc = ev_run();

	ev_timer_cancel(&shutdown_deadline);
	listeners_free();
	notify_shutdown();
	control_stop();
	ev_shutdown();
	control_close();
	close(signal_source.fd);
	session_reap();
	session_reap();
	server_conf_unref(&listen_conf);
	server_teardown();
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
