"""System logins through the pam module, without root and without the host's accounts.

The real build/sluiced and the real modules/auth/pam run under Debian's pam_wrapper
(LD_PRELOAD: PAM reads its service files from a test folder) and nss_wrapper (the
system's user database is a passwd file of the test's own). The PAM stack is pam_matrix
(passwords from a test file) plus build/tests/pam/pam_sluice_test.so, which asks for a
failure delay as pam_unix does, can sleep like a stack waiting for an LDAP server, and
can call an account expired.

When the suite runs as root (as CI does), the test users get uids of their own and the
server really acts as them; otherwise they share the runner's uid.
"""

import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from sluice_testlib import Imap, build_dir, home_modules_conf

LIBDIR = pathlib.Path("/usr/lib/x86_64-linux-gnu")
PAM_WRAPPER = "libpam_wrapper.so"
NSS_WRAPPER = "libnss_wrapper.so"
PAM_MATRIX = LIBDIR / "pam_wrapper" / "pam_matrix.so"
STACK_DELAY_MS = 2000  # what the test stack asks with pam_fail_delay (libpam: 50%..150%)
SLOW_MS = 2500         # how long the stack sleeps for the user "slowpoke"

# name: (password, service allowed by pam_matrix's account check)
PAM_USERS = {
    "alice": ("secret", "sluice"),
    "bob": ("hunter2", "sluice"),
    "olduser": ("secret", "sluice"),    # pam_sluice_test: PAM_ACCT_EXPIRED
    "stale": ("secret", "sluice"),      # pam_sluice_test: PAM_NEW_AUTHTOK_REQD
    "slowpoke": ("secret", "sluice"),   # pam_sluice_test: sleeps SLOW_MS
    "outsider": ("secret", "webmail"),  # pam_matrix: not allowed to use this service
    "lowuid": ("secret", "sluice"),     # a system account below first_valid_uid
}


def find_lib(name):
    for d in (LIBDIR, pathlib.Path("/usr/lib"), pathlib.Path("/usr/lib64")):
        if (d / name).exists():
            return d / name
    return None


def asan_runtime(binary):
    """The ASan runtime sluiced links, which must come first in LD_PRELOAD, or None."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    return None


@pytest.fixture(scope="module")
def wrappers():
    missing = [n for n in (PAM_WRAPPER, NSS_WRAPPER) if find_lib(n) is None]
    if missing or not PAM_MATRIX.exists():
        pytest.fail(f"{missing or PAM_MATRIX} not installed: tools/lib/deps.sh installs "
                    "libpam-wrapper and libnss-wrapper")
    test_module = build_dir() / "tests" / "pam" / "pam_sluice_test.so"
    if not test_module.exists():
        pytest.fail(f"{test_module} not built: build first (tools/test does)")
    return test_module


class PamWorld:
    """Homes, a passwd and group file for nss_wrapper, a pam_matrix passdb, a service dir."""

    def __init__(self, test_module):
        # Homes under a folder every test uid can traverse (pytest's tmp_path is 0700).
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="sluice-pam-"))
        self.base.chmod(0o711)
        self.root = os.geteuid() == 0
        me = os.geteuid()
        self.first_valid_uid = 61000 if self.root else me
        self.uids = {}
        for i, name in enumerate(PAM_USERS):
            uid = (61001 + i) if self.root else me
            if name == "lowuid":
                uid = self.first_valid_uid - 1 if self.first_valid_uid > 0 else 0
            self.uids[name] = uid
        self.gid = lambda name: self.uids[name] if self.root else os.getegid()
        (self.base / "home").mkdir()
        (self.base / "home").chmod(0o711)
        for name in PAM_USERS:
            home = self.home(name)
            home.mkdir(mode=0o700)
            if self.root:
                os.chown(home, self.uids[name], self.gid(name))
        (self.base / "passwd").write_text("".join(
            f"{n}:x:{self.uids[n]}:{self.gid(n)}:{n}:{self.home(n)}:/bin/false\n"
            for n in PAM_USERS) + "root:x:0:0:root:/root:/bin/sh\n")
        (self.base / "group").write_text("".join(
            f"{n}:x:{self.gid(n)}:\n" for n in PAM_USERS) + "root:x:0:\n")
        (self.base / "passdb").write_text("".join(
            f"{n}:{pw}:{svc}\n" for n, (pw, svc) in PAM_USERS.items()))
        (self.base / "passdb").chmod(0o600)
        services = self.base / "pam.d"
        services.mkdir()
        (services / "sluice").write_text(
            f"auth required {test_module} delay_ms={STACK_DELAY_MS} sleep_user=slowpoke "
            f"sleep_ms={SLOW_MS}\n"
            f"auth required {PAM_MATRIX} passdb={self.base / 'passdb'}\n"
            f"account required {test_module} expired_user=olduser password_expired_user=stale\n"
            f"account required {PAM_MATRIX} passdb={self.base / 'passdb'}\n")

    def home(self, name):
        return self.base / "home" / name

    def env(self):
        preload = [str(find_lib(PAM_WRAPPER)), str(find_lib(NSS_WRAPPER))]
        env = {"PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": str(self.base / "pam.d"),
               "NSS_WRAPPER_PASSWD": str(self.base / "passwd"),
               "NSS_WRAPPER_GROUP": str(self.base / "group")}
        asan = asan_runtime(build_dir() / "sluiced")
        if asan:
            preload.insert(0, asan)
            env["PAM_WRAPPER_DISABLE_DEEPBIND"] = "1"
        env["LD_PRELOAD"] = " ".join(preload)
        return env

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def world(wrappers):
    w = PamWorld(wrappers)
    yield w
    w.remove()


@pytest.fixture
def pam_server(start_sluice, world):
    def start(before="", **kw):
        # PAM's failure delays last seconds: more than the suite's usual 2s preauth_timeout.
        settings = {"workers": "2", "auth_failure_delay": "200ms", "preauth_timeout": "30s"}
        settings.update(kw.pop("settings", {}))
        modules = home_modules_conf({"first_valid_uid": world.first_valid_uid}, before)
        return start_sluice(modules_conf=modules, env=world.env(),
                            settings=settings, **kw)
    return start


def timed(client, command, timeout=10):
    t = time.monotonic()
    r = client.cmd(command, timeout=timeout)
    return r, time.monotonic() - t


def test_pam_login_opens_the_users_maildir_as_the_user(pam_server, world):
    server = pam_server()
    c = server.connect()
    r = c.cmd("LOGIN alice secret")
    assert r.status == "OK", r
    assert "Logged in as alice" in r.text
    r = c.cmd("APPEND INBOX {12+}\r\nHello Alice!")
    assert r.status == "OK", r
    assert c.cmd("SELECT INBOX").status == "OK"
    r = c.cmd("FETCH 1 BODY[]")
    assert r.status == "OK" and "Hello Alice!" in "\n".join(r.untagged), r
    c.close()

    maildir = world.home("alice") / "Maildir"
    st = maildir.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (world.uids["alice"], 0o700)
    files = list((maildir / "cur").iterdir()) + list((maildir / "new").iterdir())
    assert len(files) == 1
    st = files[0].stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (world.uids["alice"], world.gid("alice"), 0o600)
    for f in (world.home("alice") / ".sluice-index").iterdir():
        assert f.stat().st_uid == world.uids["alice"], f
    server.wait_for_log("created Maildir", "for alice")


def test_pam_authenticate_plain_works_like_login(pam_server):
    import base64
    server = pam_server()
    c = server.connect()
    ir = base64.b64encode(b"\0bob\0hunter2").decode()
    r = c.cmd(f"AUTHENTICATE PLAIN {ir}")
    assert r.status == "OK" and "Logged in as bob" in r.text, r


def test_pam_wrong_password_waits_for_the_stacks_delay_on_a_timer(pam_server):
    server = pam_server()
    c = server.connect()
    r, took = timed(c, "LOGIN alice wrong")
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
    # libpam spreads the asked delay over 50%..150%; the server's own is only 200ms.
    assert STACK_DELAY_MS * 0.45 / 1000 <= took <= STACK_DELAY_MS * 1.6 / 1000 + 1, took
    server.wait_for_log("PAM service sluice refused user alice")
    server.wait_for_log("login failed user=alice", 'reason="wrong user name or password"')


def test_pam_unknown_user_is_refused_without_asking_pam(pam_server):
    server = pam_server()
    c = server.connect()
    r = c.cmd("LOGIN nobody-here secret")
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
    server.wait_for_log("login failed user=nobody-here")
    assert "PAM service sluice refused user nobody-here" not in server.log()


def test_pam_expired_account_says_so_only_with_the_right_password(pam_server):
    server = pam_server()
    c = server.connect()
    r = c.cmd("LOGIN olduser wrong")
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
    r = c.cmd("LOGIN olduser secret")
    assert r.status == "NO" and r.code() == "EXPIRED", r
    assert "account has expired" in r.text, r
    server.wait_for_log("user olduser may not log in: the account has expired")
    r = c.cmd("LOGIN stale secret")
    assert r.status == "NO" and r.code() == "EXPIRED" and "password has expired" in r.text, r
    c2 = server.connect()
    r = c2.cmd("LOGIN outsider secret")
    assert r.status == "NO" and r.code() == "CONTACTADMIN" and "locked" in r.text, r


def test_pam_system_accounts_below_first_valid_uid_cannot_log_in(pam_server):
    server = pam_server()
    c = server.connect()
    r = c.cmd("LOGIN lowuid secret")
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
    server.wait_for_log("system account lowuid", "below first_valid_uid")


def test_passwd_file_then_pam_chain(pam_server, world, hashed):
    home = world.base / "home" / "virtual"
    home.mkdir(mode=0o711)
    uid = world.uids["bob"]
    line = hashed("demo", "demo") + f":{uid}:{world.gid('bob')}::{home}::"
    passwd = world.base / "sluice.passwd"
    passwd.write_text(line + "\n")
    passwd.chmod(0o600)
    if world.root:
        os.chown(home, uid, world.gid("bob"))
    server = pam_server(before=f"auth passwd-file {{\n  path = {passwd}\n}}\n")
    for user, password in (("demo", "demo"), ("alice", "secret")):
        c = server.connect()
        r = c.cmd(f"LOGIN {user} {password}")
        assert r.status == "OK", (user, r)
        assert c.cmd("SELECT INBOX").status == "OK"
        c.close()
    assert (home / "Maildir").is_dir()
    assert (world.home("alice") / "Maildir").is_dir()
    c = server.connect()
    r = c.cmd("LOGIN demo secret")  # passwd-file knows demo: PAM is never asked
    assert r.status == "NO", r
    assert "PAM service sluice refused user demo" not in server.log()


def test_failure_delays_and_a_slow_pam_stack_do_not_stall_other_sessions(pam_server):
    """Two logins stuck in a slow stack and three waiting out failure delays, while a
    logged-in user keeps getting answers at once: none of them holds the pool."""
    server = pam_server(settings={"workers": "2"})
    alice = server.login("alice", "secret")
    assert alice.cmd("SELECT INBOX").status == "OK"

    results = {}

    def attempt(key, user, password):
        with server.connect(timeout=15) as c:
            t = time.monotonic()
            r = c.cmd(f"LOGIN {user} {password}", timeout=15)
            results[key] = (r.status, time.monotonic() - t)

    threads = [threading.Thread(target=attempt, args=(f"slow{i}", "slowpoke", "secret"))
               for i in range(2)]
    threads += [threading.Thread(target=attempt, args=(f"bad{i}", "bob", "wrong"))
                for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # the slow stack is running, the failures are being delayed

    worst = 0.0
    deadline = time.monotonic() + SLOW_MS / 1000
    while time.monotonic() < deadline:
        for cmd in ("NOOP", "STATUS INBOX (MESSAGES)", "LIST \"\" *"):
            r, took = timed(alice, cmd)
            assert r.status == "OK", r
            worst = max(worst, took)
        # A new client is greeted at once too.
        t = time.monotonic()
        Imap(server.plain_port).close()
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=20)
    assert worst < 0.5, f"a logged-in session waited {worst:.2f}s behind PAM"
    assert results["slow0"][0] == "OK" and results["slow1"][0] == "OK", results
    assert all(results[f"bad{i}"][0] == "NO" for i in range(3)), results
    # The slow logins really were slow: the stack held them, not the server's answer.
    assert min(results["slow0"][1], results["slow1"][1]) >= SLOW_MS / 1000 * 0.9, results
