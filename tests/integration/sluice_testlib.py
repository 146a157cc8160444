"""Helpers for the integration suite: start a real sluiced, talk IMAP to it over sockets.

The suite never mocks the server. `Server` writes a configuration into a temporary folder,
starts `BUILD/sluiced -c sluiced.conf` with its stderr captured to `sluiced.log`, waits
until every listener accepts, and stops it with SIGTERM. `Imap` is a raw line-level IMAP
client (plain, implicit TLS or STARTTLS) with a deadline on every read, so a server that
hangs makes a test fail in seconds instead of hanging the suite.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READ_TIMEOUT = 5.0  # seconds any single expected answer may take
STOP_TIMEOUT = 10.0  # seconds sluiced may take to exit after SIGTERM

USERS = {"demo": "demo", "demo2": "demo"}
SLUICECTL = REPO / "tools" / "sluicectl"
UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the NUL


def build_dir():
    d = pathlib.Path(os.environ.get("SLUICE_BUILD_DIR", "build"))
    return d if d.is_absolute() else REPO / d


def free_ports(n):
    """n distinct TCP ports that were free on 127.0.0.1 a moment ago (bind port 0)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    return free_ports(1)[0]


def client_tls_context(cafile=None):
    """TLS client context: unverified by default (self-signed test certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_cert(folder, cn="localhost"):
    """A self-signed P-256 certificate for localhost and 127.0.0.1: (cert_path, key_path)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650", "-subj", f"/CN={cn}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=30)
    return cert, key


def hash_password(user, password):
    """One passwd-file line for user, hashed by the project's own build/sluice-passwd."""
    tool = build_dir() / "sluice-passwd"
    out = subprocess.run([str(tool), "-u", user], input=password + "\n", capture_output=True,
                         text=True, timeout=30, check=True).stdout.strip()
    line = out.splitlines()[-1]
    assert line.startswith(user + ":{"), f"sluice-passwd printed an unexpected line: {out!r}"
    return line


def home_modules_conf(pam_settings, before=""):
    """A modules.conf for system accounts: `before` (other blocks), `auth pam` with the
    given settings, AUTHENTICATE PLAIN, each user's ~/Maildir and ~/.sluice-index."""
    pam = "".join(f"  {k} = {v}\n" for k, v in pam_settings.items())
    return (before + "auth pam {\n" + pam + "}\n"
            "auth sasl-plain {\n}\n"
            "storage maildir {\n  root = ~/Maildir\n}\n"
            "index lmdb {\n  path = ~/.sluice-index\n}\n")


class ServerExited(Exception):
    pass


class Server:
    """One sluiced process with its own folder, configuration, ports and log."""

    def __init__(self, folder, cert, key, passwd_lines, settings=None, modules_extra="",
                 listeners=None, extra_conf="", prepare=None, modules_conf=None, env=None):
        self.dir = pathlib.Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        if prepare is not None:
            prepare(self.dir)  # e.g. put files beside the configuration
        self.cert = pathlib.Path(cert) if isinstance(cert, pathlib.Path) else cert
        self.key = pathlib.Path(key) if isinstance(key, pathlib.Path) else key
        self.conf_path = self.dir / "sluiced.conf"
        self.modules_path = self.dir / "modules.conf"
        self.passwd_path = self.dir / "passwd"
        self.log_path = self.dir / "sluiced.log"
        self.mail_dir = self.dir / "mail"  # one Maildir per user: mail/<user>
        # sluicectl's socket; a UNIX socket path is short, so a deep folder gets a short one.
        self.control_dir = None
        self.control_path = self.dir / "control"
        if len(str(self.control_path)) > UNIX_PATH_MAX - 8:
            self.control_dir = pathlib.Path(tempfile.mkdtemp(prefix="sluice-ctl-"))
            self.control_path = self.control_dir / "control"
        self.settings = {
            "workers": "2",
            "log_level": "info",
            "module_path": str(build_dir() / "modules"),
            "preauth_timeout": "2s",
            "autologout": "30m",
            "auth_failure_delay": "200ms",
            "control_socket": str(self.control_path),
            # Accounts start empty, so listings are what each test made; the tests of the
            # default folders set it back (a value of None drops the line: the default).
            "default_mailboxes": "none",
        }
        self.settings.update(settings or {})
        self.modules_extra = modules_extra
        self.modules_conf = modules_conf  # replaces the default modules.conf when set
        self.env = env  # extra environment for sluiced (LD_PRELOAD of pam_wrapper, ...)
        self.extra_conf = extra_conf
        self.listeners = listeners  # None: one plain+STARTTLS and one implicit TLS listener
        self.proc = None
        self.returncode = None
        self.passwd_path.write_text("".join(line + "\n" for line in passwd_lines))
        self.passwd_path.chmod(0o600)  # sluiced warns about hashes every user can read
        self.plain_port = self.tls_port = None

    # ---- configuration -------------------------------------------------------------
    def write_config(self):
        lines = [f"{k} = {v}" for k, v in self.settings.items() if v is not None]
        if self.listeners is None:
            self.plain_port, self.tls_port = free_ports(2)
            listeners = [("imap", self.plain_port, "starttls"), ("imaps", self.tls_port, "implicit")]
        else:
            ports = free_ports(len(self.listeners))
            listeners = [(name, port or ports[i], tls)
                         for i, (name, port, tls) in enumerate(self.listeners)]
            self.plain_port = next((p for _, p, t in listeners if t != "implicit"), None)
            self.tls_port = next((p for _, p, t in listeners if t == "implicit"), None)
        self.ports = [p for _, p, _ in listeners]
        self.tls_ports = {p for _, p, t in listeners if t == "implicit"}
        for name, port, tls in listeners:
            lines += [f"listener {name} {{", f"  address = {HOST}", f"  port = {port}",
                      f"  tls = {tls}", "}"]
        lines += ["tls {", f"  cert = {self.cert}"]
        if self.key is not None:
            lines.append(f"  key = {self.key}")
        lines.append("}")
        if self.extra_conf:
            lines.append(self.extra_conf)
        lines.append(f"include {self.modules_path}")
        self.conf_path.write_text("\n".join(lines) + "\n")
        if self.modules_conf is not None:
            self.modules_path.write_text(self.modules_conf)
            return
        self.modules_path.write_text(
            "auth passwd-file {\n"
            f"  path = {self.passwd_path}\n"
            "}\n"
            "auth sasl-plain {\n"
            "}\n"
            "storage maildir {\n"
            f"  root = {self.mail_dir}/%u\n"
            "}\n"
            "index lmdb {\n"
            f"  path = {self.dir}/index/%u\n"
            "}\n" + self.modules_extra)

    # ---- process -------------------------------------------------------------------
    def start(self):
        for attempt in range(3):
            self.write_config()
            self._spawn()
            try:
                self._wait_accepting()
                return self
            except ServerExited:
                if attempt < 2 and "in use" in self.log():
                    continue  # lost a race for a port: pick new ones
                self.proc = None  # reported here; nothing to stop at teardown
                raise AssertionError("sluiced exited during start-up (code "
                                     f"{self.returncode}); log:\n{self.log_tail()}")
        raise AssertionError("unreachable")

    def _spawn(self):
        binary = build_dir() / "sluiced"
        logf = open(self.log_path, "ab")
        try:
            env = dict(os.environ, **self.env) if self.env else None
            self.proc = subprocess.Popen([str(binary), "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         cwd="/", env=env)  # relative paths must not depend on cwd
        finally:
            logf.close()
        self.returncode = None

    def _wait_accepting(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerExited()
            try:
                sock = socket.create_connection((HOST, pending[0]), timeout=2)
            except OSError:
                sock = None
            if sock is not None:
                if pending[0] in self.tls_ports:
                    # Complete a handshake, so the log shows no failed one.
                    try:
                        client_tls_context().wrap_socket(sock, server_hostname="localhost").close()
                    except OSError:
                        pass
                sock.close()
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise AssertionError(f"sluiced did not accept on {pending} within {timeout}s;"
                                     f" log:\n{self.log_tail()}")
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit; returns its exit code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM, then insist on a clean exit (code 0) within STOP_TIMEOUT seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError(f"sluiced did not exit within {STOP_TIMEOUT}s of SIGTERM;"
                                     f" log:\n{self.log_tail()}")
        self.returncode = self.proc.returncode
        if self.control_dir is not None:
            shutil.rmtree(self.control_dir, ignore_errors=True)
        if self.returncode != 0:
            raise AssertionError(f"sluiced exited with code {self.returncode};"
                                 f" log:\n{self.log_tail()}")
        self.check_sanitizers()

    def check_sanitizers(self):
        """Fail on any AddressSanitizer, LeakSanitizer or UBSan report in the log."""
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                at = log.index(marker)
                raise AssertionError(f"sanitizer report in the sluiced log:\n{log[at - 200:at + 3000]}")

    def reload(self):
        self.signal(signal.SIGHUP)

    # ---- logs ----------------------------------------------------------------------
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log().splitlines()[-n:])

    def wait_for_log(self, *needles, timeout=READ_TIMEOUT, after=0):
        """Wait until one log line (from byte offset `after`) holds every needle; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log()[after:].splitlines():
                if all(n in line for n in needles):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line with {needles!r} within {timeout}s;"
                                     f" log:\n{self.log_tail()}")
            time.sleep(0.05)

    # ---- clients -------------------------------------------------------------------
    def connect(self, tls=False, **kw):
        return Imap(self.tls_port if tls else self.plain_port, tls=tls, **kw)

    def login(self, user="demo", password="demo", tls=False, source=None):
        c = self.connect(tls=tls, source=source)
        r = c.cmd(f"LOGIN {user} {password}")
        assert r.status == "OK", r
        return c


class Response:
    """A command's answer: untagged lines, the tagged line and its status word."""

    def __init__(self, tag, untagged, tagged):
        self.tag, self.untagged, self.tagged = tag, untagged, tagged
        parts = tagged.split(" ", 2)
        self.status = parts[1] if len(parts) > 1 else ""
        self.text = parts[2] if len(parts) > 2 else ""

    def code(self):
        """The response code atom ('AUTHENTICATIONFAILED'), or None."""
        if self.text.startswith("["):
            return self.text[1:self.text.index("]")].split(" ")[0]
        return None

    def __repr__(self):
        return f"<{self.tag}: untagged={self.untagged!r} tagged={self.tagged!r}>"


class Closed(Exception):
    pass


class Imap:
    """A raw IMAP connection that reads CRLF lines with a deadline."""

    def __init__(self, port, tls=False, host=HOST, timeout=READ_TIMEOUT, greeting=True,
                 context=None, server_hostname="localhost", source=None):
        """source: the local address to connect from (any 127.x.y.z reaches 127.0.0.1)."""
        self.timeout = timeout
        self.buf = b""
        self.n = 0
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls:
            ctx = context or client_tls_context()
            self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.greeting = self.readline() if greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete line within the deadline; have {self.buf[:200]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no complete line within the deadline; have {self.buf[:200]!r}")
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise Closed(f"connection closed; unread {self.buf[:200]!r}")
        self.buf += chunk

    def readline(self, timeout=None):
        """Next line without its CRLF, decoded as UTF-8 (replacing errors)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_until_tagged(self, tag, timeout=None):
        untagged = []
        while True:
            line = self.readline(timeout)
            if line.startswith(tag + " "):
                return Response(tag, untagged, line)
            untagged.append(line)

    def next_tag(self):
        self.n += 1
        return f"a{self.n}"

    def cmd(self, text, tag=None, timeout=None):
        """Send `tag text` and read up to the tagged answer."""
        tag = tag or self.next_tag()
        self.send(f"{tag} {text}\r\n")
        return self.read_until_tagged(tag, timeout)

    def capabilities(self):
        r = self.cmd("CAPABILITY")
        assert r.status == "OK", r
        caps = [line for line in r.untagged if line.startswith("* CAPABILITY ")]
        assert len(caps) == 1, r
        return set(caps[0].split()[2:])

    def starttls(self, context=None):
        """STARTTLS and handshake; the server must not send anything after its OK."""
        r = self.cmd("STARTTLS")
        assert r.status == "OK", r
        self.tls_upgrade(context)
        return r

    def tls_upgrade(self, context=None):
        assert self.buf == b"", f"server sent data in clear after STARTTLS's OK: {self.buf!r}"
        ctx = context or client_tls_context()
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def wait_closed(self, timeout=None):
        """Read (collecting lines) until the server closes; returns the lines it sent."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        lines = []
        while True:
            try:
                self._fill(deadline)
            except Closed:
                break
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                lines.append(line.decode("utf-8", "replace"))
        if self.buf:
            lines.append(self.buf.decode("utf-8", "replace"))
            self.buf = b""
        return lines


def greeting_caps(greeting):
    """Capability atoms from `* OK [CAPABILITY ...] text`."""
    assert greeting.startswith("* OK [CAPABILITY "), greeting
    return set(greeting[len("* OK [CAPABILITY "):greeting.index("]")].split())


def code_caps(resp):
    """Capability atoms from a tagged `OK [CAPABILITY ...] text`."""
    assert resp.text.startswith("[CAPABILITY "), resp
    return set(resp.text[len("[CAPABILITY "):resp.text.index("]")].split())


def sluicectl(server, *args, check=True):
    """Runs tools/sluicectl against `server`'s control socket; returns the CompletedProcess."""
    r = subprocess.run([sys.executable, str(SLUICECTL), "--socket", str(server.control_path),
                        *args], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"sluicectl {' '.join(args)} exited {r.returncode}: {r.stderr}"
    return r


def sluicectl_json(server, *args):
    """`sluicectl ARGS --json` parsed."""
    return json.loads(sluicectl(server, *args, "--json").stdout)


def append_message(c, n, flags="", sender="a", mailbox="INBOX"):
    """APPENDs a small message numbered `n` (its Subject and body say so) with LITERAL+."""
    body = f"From: {sender}@example.org\r\nSubject: message {n}\r\n\r\nHello {n}.\r\n"
    r = c.cmd(f"APPEND {mailbox} ({flags}) {{{len(body)}+}}\r\n{body}")
    assert r.status == "OK", r
    return r


def code_number(resp, name):
    """The number in a `[NAME n]` response code, untagged or tagged; None when absent."""
    for line in resp.untagged + [resp.tagged]:
        m = re.search(r"\[" + name + r" (\d+)\]", line)
        if m:
            return int(m.group(1))
    return None
