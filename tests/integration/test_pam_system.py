"""System logins with real accounts: useradd, chpasswd and the host's pam_unix stack.

Root only (CI runs as root on a fresh Debian 12): the module creates uniquely named
accounts with homes in a temporary folder, a temporary PAM service that is a copy of the
shipped etc/pam.d/sluice (so the real common-auth and common-account run), and removes
all of it (userdel -r) when done. It shows that mail is written with the user's owner and
modes, that one account cannot reach another's mail through IMAP, that symbolic and hard
links planted in a Maildir reveal nothing the user could not read, and that the running
server keeps only the capabilities it needs to switch identities.
"""

import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from sluice_testlib import REPO, Imap, free_ports, home_modules_conf
from test_demo import start_demo, stop_demo

SHIPPED_SERVICE = REPO / "etc" / "pam.d" / "sluice"
PASSWORD = "Correct-Horse-7"

needs = []
if os.geteuid() != 0:
    needs.append("root (it creates system accounts)")
for tool in ("useradd", "userdel", "chpasswd"):
    if shutil.which(tool) is None:
        needs.append(f"{tool} (Debian package passwd)")
if not pathlib.Path("/etc/pam.d/common-auth").exists():
    needs.append("/etc/pam.d/common-auth (Debian package libpam-runtime)")
pytestmark = pytest.mark.skipif(bool(needs), reason="needs " + ", ".join(needs))


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


class Accounts:
    def __init__(self):
        tag = f"{os.getpid() % 100000:05d}{int(time.time() * 1000) % 1000:03d}"
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="sluice-sys-"))
        self.base.chmod(0o711)
        self.service = f"sluice-test-{tag}"
        self.names = {k: f"sl{tag}{k}" for k in ("a", "b", "c")}
        self.created = []
        self.service_file = pathlib.Path("/etc/pam.d") / self.service

    def create(self):
        # The shipped file, unchanged: what an admin installs as /etc/pam.d/sluice.
        shutil.copyfile(SHIPPED_SERVICE, self.service_file)
        for name in self.names.values():
            run("useradd", "-m", "-d", str(self.base / name), "-s", "/usr/sbin/nologin", name)
            self.created.append(name)
            run("chpasswd", input=f"{name}:{PASSWORD}\n")

    def remove(self):
        for name in self.created:
            subprocess.run(["userdel", "-r", name], capture_output=True, timeout=60)
        self.service_file.unlink(missing_ok=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def uid(self, key):
        return int(run("id", "-u", self.names[key]).stdout)

    def gid(self, key):
        return int(run("id", "-g", self.names[key]).stdout)

    def home(self, key):
        return self.base / self.names[key]


@pytest.fixture(scope="module")
def accounts():
    acc = Accounts()
    try:
        acc.create()
        yield acc
    finally:
        acc.remove()


@pytest.fixture
def system_server(start_sluice, accounts):
    modules = home_modules_conf({"service": accounts.service})
    return lambda: start_sluice(modules_conf=modules,
                                settings={"preauth_timeout": "30s", "workers": "2"})


def transcript(client, commands):
    """Every line the server sent for @commands, as one string."""
    out = []
    for command in commands:
        r = client.cmd(command)
        out += r.untagged + [r.tagged]
    return "\n".join(out)


def caps(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_system_login_writes_mail_owned_by_the_user(system_server, accounts):
    server = system_server()
    a = accounts.names["a"]
    c = server.connect()
    r = c.cmd(f"LOGIN {a} {PASSWORD}")
    assert r.status == "OK", r
    r = c.cmd("APPEND INBOX {21+}\r\nSubject: hi\r\n\r\nhello\r\n")
    assert r.status == "OK", r
    assert c.cmd("CREATE Projects").status == "OK"
    c.close()

    uid, gid = accounts.uid("a"), accounts.gid("a")
    maildir = accounts.home("a") / "Maildir"
    for d in [maildir, maildir / "cur", maildir / "new", maildir / "tmp", maildir / ".Projects",
              accounts.home("a") / ".sluice-index"]:
        st = d.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o700), d
    messages = list((maildir / "cur").iterdir()) + list((maildir / "new").iterdir())
    assert len(messages) == 1
    for f in messages + list((accounts.home("a") / ".sluice-index").iterdir()):
        st = f.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o600), f


def test_server_keeps_only_the_rights_to_switch_identities(system_server):
    server = system_server()
    keep = (1 << 6) | (1 << 7) | (1 << 29)  # CAP_SETGID, CAP_SETUID, CAP_AUDIT_WRITE
    pid = server.proc.pid
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        for field in ("CapEff", "CapPrm", "CapBnd"):
            value = caps(f"{pid}/task/{task.name}", field)
            assert value & ~keep == 0, (task.name, field, hex(value))
        assert caps(f"{pid}/task/{task.name}", "CapEff") & 0xC0 == 0xC0


def test_system_wrong_password_waits_for_pam_unix_delay(system_server, accounts):
    server = system_server()
    c = server.connect()
    t = time.monotonic()
    r = c.cmd(f"LOGIN {accounts.names['a']} wrong-password", timeout=10)
    took = time.monotonic() - t
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
    assert took >= 0.9, f"pam_unix asks for 2s (libpam: 1s to 3s), answered after {took:.2f}s"


def test_second_account_cannot_reach_the_first_accounts_mail(system_server, accounts):
    server = system_server()
    a, b = accounts.names["a"], accounts.names["b"]
    marker = f"TOP-SECRET-{os.getpid()}"
    c = server.connect()
    assert c.cmd(f"LOGIN {a} {PASSWORD}").status == "OK"
    body = f"Subject: {marker}\r\n\r\n{marker}\r\n"
    assert c.cmd(f"APPEND INBOX {{{len(body)}+}}\r\n{body}").status == "OK"
    assert c.cmd("CREATE Private").status == "OK"
    c.close()
    a_maildir = accounts.home("a") / "Maildir"
    a_files = sorted(p.name for p in a_maildir.rglob("*"))
    a_message = next(p for p in list((a_maildir / "cur").iterdir()) + list((a_maildir / "new").iterdir())
                     if marker in p.read_text())

    # b (or anyone who could write into b's Maildir) plants links to a's mail.
    b_maildir = accounts.home("b") / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (b_maildir / sub).mkdir(parents=True, exist_ok=True)
    buid, bgid = accounts.uid("b"), accounts.gid("b")
    for p in [b_maildir] + [b_maildir / s for s in ("cur", "new", "tmp")]:
        os.chown(p, buid, bgid)
        p.chmod(0o700)
    links = {
        b_maildir / ".Stolen": a_maildir,                            # a folder
        b_maildir / ".Stolen2": a_maildir / ".Private",
        b_maildir / "cur" / "1700000000.M1P1Q1.x:2,S": a_message,    # a message
    }
    for link, target in links.items():
        os.symlink(target, link)
        os.lchown(link, buid, bgid)
    os.link(a_message, b_maildir / "new" / "1700000001.M2P2Q2.x")  # same inode, a's 0600

    home_a = accounts.home("a")
    names = [f"../{a}/Maildir", f"../../{a}/Maildir", f"{home_a}/Maildir", f"~{a}",
             f"~{a}/Maildir", f"#user/{a}", "..", "../..", f"INBOX/../../{a}", "Stolen",
             "Stolen2", f"/{home_a}/Maildir/.Private", "Private", f"{a}/INBOX",
             f"../{a}/Maildir/.Private"]
    c = server.connect()
    assert c.cmd(f"LOGIN {b} {PASSWORD}").status == "OK"
    commands = ['LIST "" "*"', 'LIST "" "%"', f'LIST "../{a}" "*"', f'LIST "{home_a}" "*"',
                'LIST "" "../*"', 'LSUB "" "*"']
    for name in names:
        q = '"' + name + '"'
        commands += [f"SELECT {q}", f"EXAMINE {q}", f"STATUS {q} (MESSAGES UNSEEN)",
                     f"SUBSCRIBE {q}", f"CREATE {q}/x", f"DELETE {q}", f"RENAME {q} Mine",
                     f"APPEND {q} {{4+}}\r\nxxxx"]
    commands += ["SELECT INBOX", "FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[])",
                 'SEARCH TEXT "TOP-SECRET"', "COPY 1:* Stolen", "MOVE 1:* Stolen2",
                 "UID FETCH 1:* BODY.PEEK[]"]
    seen = transcript(c, commands)
    assert marker not in seen
    # Nothing of a's changed, whatever b asked for.
    assert sorted(p.name for p in a_maildir.rglob("*")) == a_files
    assert marker in a_message.read_text()


def test_links_to_root_files_in_a_maildir_reveal_nothing(system_server, accounts):
    server = system_server()
    c_name = accounts.names["c"]
    maildir = accounts.home("c") / "Maildir"
    uid, gid = accounts.uid("c"), accounts.gid("c")
    for sub in ("", "cur", "new", "tmp"):
        (maildir / sub).mkdir(exist_ok=True)
        os.chown(maildir / sub, uid, gid)
        (maildir / sub).chmod(0o700)
    secret = accounts.base / "root-only-secret"
    secret_text = f"ROOT-ONLY-{os.getpid()}"
    secret.write_text(f"Subject: {secret_text}\n\n{secret_text}\n")
    secret.chmod(0o600)
    plants = [maildir / "cur" / "1700000000.M1P1Q1.x:2,S", maildir / "new" / "1700000001.M1P1Q2.x"]
    os.symlink("/etc/shadow", plants[0])
    os.symlink("/etc/shadow", plants[1])
    os.symlink("/etc", maildir / ".Etc")
    os.link(secret, maildir / "cur" / "1700000002.M1P1Q3.x:2,")  # root's file, same inode
    for p in plants + [maildir / ".Etc"]:
        os.lchown(p, uid, gid)

    c = server.connect()
    assert c.cmd(f"LOGIN {c_name} {PASSWORD}").status == "OK"
    seen = transcript(c, ['LIST "" "*"', "SELECT INBOX", "FETCH 1:* (RFC822.SIZE BODY.PEEK[])",
                          "SEARCH TEXT root", "SELECT Etc", "FETCH 1:* BODY.PEEK[]",
                          'STATUS Etc (MESSAGES)', "EXAMINE INBOX", "UID FETCH 1:* RFC822"])
    shadow = pathlib.Path("/etc/shadow").read_text()
    for line in shadow.splitlines():
        if len(line) >= 8:
            assert line not in seen
    assert "root:" not in seen and secret_text not in seen
    assert pathlib.Path("/etc/shadow").read_text() == shadow


def test_maildir_of_another_owner_is_refused_and_logged(system_server, accounts):
    server = system_server()
    b = accounts.names["b"]
    home_c = accounts.home("c")
    # c's Maildir handed to b by mistake (Courier's admins met this with group mail).
    (home_c / "Maildir").mkdir(exist_ok=True)
    os.chown(home_c / "Maildir", accounts.uid("b"), accounts.gid("b"))
    try:
        cl = server.connect()
        r = cl.cmd(f"LOGIN {accounts.names['c']} {PASSWORD}")
        assert r.status == "NO" and r.code() == "NOPERM", r
        assert "belongs to another user" in r.text
        server.wait_for_log(f"refusing the Maildir {home_c}/Maildir of {accounts.names['c']}",
                            f"belongs to uid {accounts.uid('b')} ({b})")
    finally:
        os.chown(home_c / "Maildir", accounts.uid("c"), accounts.gid("c"))


def test_demo_auth_pam_serves_the_machines_accounts(tmp_path, accounts, binaries):
    service = pathlib.Path("/etc/pam.d/sluice")
    installed_here = not service.exists()
    plain, tls = free_ports(2)
    proc = start_demo(tmp_path / "demo", plain, tls, extra=("--auth", "pam"))
    try:
        assert service.read_text() == SHIPPED_SERVICE.read_text()
        with Imap(plain) as c:
            c.starttls()
            r = c.cmd(f"LOGIN {accounts.names['b']} {PASSWORD}")
            assert r.status == "OK", r
            assert c.cmd("SELECT INBOX").status == "OK"
        assert (accounts.home("b") / "Maildir").stat().st_uid == accounts.uid("b")
    finally:
        try:
            code = stop_demo(proc)
        finally:
            if installed_here:
                service.unlink(missing_ok=True)
    assert code == 0, "Ctrl-C did not stop the demo server cleanly"


def test_demo_auth_pam_explains_why_it_needs_root(tmp_path):
    # nobody must be able to reach the script even when the checkout sits in a private
    # folder (mktemp -d): the refusal comes before the script looks at anything beside it.
    public = pathlib.Path(tempfile.mkdtemp(prefix="sluice-demo-"))
    try:
        public.chmod(0o755)
        (public / "tools").mkdir(mode=0o755)
        demo = public / "tools" / "demo"
        shutil.copy2(REPO / "tools" / "demo", demo)
        demo.chmod(0o755)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            str(demo), "--auth", "pam", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(public, ignore_errors=True)
    assert r.returncode == 2, r
    assert "must run as root" in r.stderr and "uid 1000" in r.stderr, r.stderr
