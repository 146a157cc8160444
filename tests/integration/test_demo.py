"""tools/demo, the README's first command: a stranger's first minutes with Sluice."""

import email
import os
import re
import signal
import subprocess
import sys
import time

from sluice_testlib import REPO, build_dir, free_ports, Imap

DEMO_TIMEOUT = 240  # first run may configure and build


def start_demo(folder, plain, tls, extra=()):
    env = dict(os.environ, SLUICE_BUILD_DIR=str(build_dir()))
    log = open(folder.parent / f"demo-{plain}.log", "wb")
    proc = subprocess.Popen([str(REPO / "tools" / "demo"), "--dir", str(folder),
                             "--plain-port", str(plain), "--tls-port", str(tls), *extra],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + DEMO_TIMEOUT
    for port in (plain, tls):
        while True:
            assert proc.poll() is None, (folder.parent / f"demo-{plain}.log").read_text()
            try:
                Imap(port, tls=(port == tls), timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "tools/demo did not start listening"
                time.sleep(0.2)
    return proc


def stop_demo(proc):
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the demo server did not stop within 10s of Ctrl-C")


def one_liner(port):
    code = ("import imaplib,ssl; c=imaplib.IMAP4_SSL('127.0.0.1',%d,"
            "ssl_context=ssl._create_unverified_context()); print(c.login('demo','demo'))" % port)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=20)


def test_demo_creates_folder_and_serves_the_readme_one_liner(tmp_path, binaries):
    folder = tmp_path / "demo"
    plain, tls = free_ports(2)
    proc = start_demo(folder, plain, tls)
    try:
        r = one_liner(tls)
        assert r.returncode == 0 and r.stdout.startswith("('OK'"), (r.stdout, r.stderr)
        with Imap(plain) as c:
            c.starttls()
            assert c.cmd("LOGIN demo2 demo").status == "OK"
        with Imap(tls, tls=True) as c:
            assert c.cmd("LOGIN demo nope").status == "NO"
            # The sluicectl line of the demo's banner works against it.
            r = subprocess.run([sys.executable, str(REPO / "tools" / "sluicectl"), "--socket",
                                str(folder / "control"), "status"],
                               capture_output=True, text=True, timeout=20)
            assert r.returncode == 0, r.stderr
            assert re.search(r"^connections: [1-9][0-9]*/10000$", r.stdout, re.M), r.stdout
    finally:
        assert stop_demo(proc) == 0, "Ctrl-C did not stop the demo server cleanly"

    cert = subprocess.run(["openssl", "x509", "-in", str(folder / "tls/cert.pem"), "-noout",
                           "-ext", "subjectAltName", "-enddate"],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in cert and "IP Address:127.0.0.1" in cert, cert
    users = [l.split(":")[0] for l in (folder / "passwd").read_text().splitlines() if l]
    assert users == ["demo", "demo2"]
    assert "demo" not in [l.split(":")[1] for l in (folder / "passwd").read_text().splitlines()]
    for user in users:
        for sub in ("cur", "new", "tmp"):
            assert (folder / "mail" / user / sub).is_dir()
        (welcome,) = list((folder / "mail" / user / "new").iterdir())
        msg = email.message_from_bytes(welcome.read_bytes())
        for header in ("Date", "From", "To", "Subject", "Message-ID"):
            assert msg[header], f"welcome message lacks {header}"
        assert user in msg["To"]
        assert "Sluice" in msg.get_payload()


def test_demo_rerun_keeps_folder_and_rewrites_ports(tmp_path, binaries):
    folder = tmp_path / "demo"
    proc = start_demo(folder, *free_ports(2))
    assert stop_demo(proc) == 0
    passwd = (folder / "passwd").read_text()
    welcome = sorted((folder / "mail/demo/new").iterdir())
    plain, tls = free_ports(2)
    proc = start_demo(folder, plain, tls)
    try:
        r = one_liner(tls)
        assert r.returncode == 0 and r.stdout.startswith("('OK'"), (r.stdout, r.stderr)
    finally:
        assert stop_demo(proc) == 0
    assert (folder / "passwd").read_text() == passwd, "a rerun replaced the users"
    assert sorted((folder / "mail/demo/new").iterdir()) == welcome, "a rerun re-delivered mail"
