"""Real clients: Python's imaplib, curl and openssl s_client, as users will run them.

Python 3.11's imaplib has no idle(); the IDLE test drives RFC 2177 with raw lines on the
imaplib connection (send/readline), as a small script that wants push mail would.
"""

import imaplib
import subprocess
import sys
import time

import pytest

from sluice_testlib import HOST, client_tls_context


def run(cmd, stdin="", timeout=20):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def test_imaplib_logs_in_over_implicit_tls(sluice):
    c = imaplib.IMAP4_SSL(HOST, sluice.tls_port, ssl_context=client_tls_context(), timeout=10)
    try:
        typ, data = c.login("demo", "demo")
        assert typ == "OK", data
        assert c.noop()[0] == "OK"
    finally:
        c.logout()


def test_imaplib_logs_in_over_starttls(sluice):
    c = imaplib.IMAP4(HOST, sluice.plain_port, timeout=10)
    try:
        assert c.starttls(ssl_context=client_tls_context())[0] == "OK"
        assert "STARTTLS" not in c.capabilities
        assert c.login("demo", "demo")[0] == "OK"
    finally:
        c.logout()


def test_imaplib_wrong_password_raises(sluice):
    c = imaplib.IMAP4_SSL(HOST, sluice.tls_port, ssl_context=client_tls_context(), timeout=10)
    try:
        try:
            c.login("demo", "wrong")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e)
        else:
            raise AssertionError("login with a wrong password succeeded")
    finally:
        c.logout()


def test_readme_python_one_liner_prints_ok(sluice):
    one_liner = ("import imaplib,ssl; c=imaplib.IMAP4_SSL('127.0.0.1',%d,"
                 "ssl_context=ssl._create_unverified_context()); print(c.login('demo','demo'))"
                 % sluice.tls_port)
    r = run([sys.executable, "-c", one_liner])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("('OK'"), r.stdout


def test_curl_logs_in_over_implicit_tls(sluice, tool):
    r = run([tool("curl"), "-sS", "-v", "-k", "--max-time", "15",
             f"imaps://{HOST}:{sluice.tls_port}/", "-u", "demo:demo", "-X", "NOOP"])
    assert r.returncode == 0, r.stderr
    assert "Logged in" in r.stderr or " OK [CAPABILITY" in r.stderr, r.stderr


def test_curl_lists_mailboxes_over_implicit_tls(sluice, tool):
    # The exact command: curl's default request on an imaps:// URL is LIST.
    r = run([tool("curl"), "-sS", "-k", "--max-time", "15",
             f"imaps://{HOST}:{sluice.tls_port}/", "-u", "demo:demo"])
    assert r.returncode == 0, r.stderr
    assert '* LIST (\\HasNoChildren) "." INBOX' in r.stdout, r.stdout


def test_curl_logs_in_over_starttls(sluice, tool):
    r = run([tool("curl"), "-sS", "-v", "-k", "--ssl-reqd", "--max-time", "15",
             f"imap://{HOST}:{sluice.plain_port}/", "-u", "demo:demo", "-X", "NOOP"])
    assert r.returncode == 0, r.stderr
    assert "STARTTLS" in r.stderr


def test_curl_wrong_password_is_login_denied(sluice, tool):
    r = run([tool("curl"), "-sS", "-k", "--max-time", "15",
             f"imaps://{HOST}:{sluice.tls_port}/", "-u", "demo:wrong", "-X", "NOOP"])
    assert r.returncode == 67, (r.returncode, r.stderr)  # CURLE_LOGIN_DENIED


def test_openssl_s_client_starttls_login_and_logout(sluice, tool):
    r = run([tool("openssl"), "s_client", "-connect", f"{HOST}:{sluice.plain_port}",
             "-starttls", "imap", "-crlf", "-quiet"],
            stdin="a LOGIN demo demo\nb LOGOUT\n")
    assert "a OK" in r.stdout, (r.stdout, r.stderr)
    assert "* BYE" in r.stdout and "b OK" in r.stdout, r.stdout


def test_openssl_s_client_verifies_certificate_on_implicit_tls(sluice, tool, tls_files):
    r = run([tool("openssl"), "s_client", "-connect", f"{HOST}:{sluice.tls_port}",
             "-servername", "localhost", "-CAfile", str(tls_files[0]), "-verify_return_error",
             "-verify_hostname", "localhost", "-crlf", "-ign_eof"],
            stdin="a LOGOUT\n")
    assert "Verify return code: 0 (ok)" in r.stdout, (r.stdout, r.stderr)
    assert "* OK [CAPABILITY" in r.stdout


def imaplib_read_until(c, done, timeout):
    """Lines (without CRLF) from an imaplib connection until done(line); bounded in time."""
    lines = []
    deadline = time.monotonic() + timeout
    while not lines or not done(lines[-1]):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"nothing matching within {timeout}s; read {lines}"
        c.sock.settimeout(remaining)
        line = c.readline()
        assert line, f"connection closed; read {lines}"
        lines.append(line.rstrip(b"\r\n"))
    return lines


def test_imaplib_idle_hears_new_mail_within_a_second_and_done_resumes(sluice):
    c = imaplib.IMAP4_SSL(HOST, sluice.tls_port, ssl_context=client_tls_context(), timeout=10)
    other = imaplib.IMAP4(HOST, sluice.plain_port, timeout=10)
    try:
        assert c.login("demo", "demo")[0] == "OK"
        assert b" IDLE" in c.capability()[1][0]
        assert c.select("INBOX") == ("OK", [b"0"])
        assert other.login("demo", "demo")[0] == "OK"

        tag = c._new_tag()
        c.send(tag + b" IDLE\r\n")
        assert imaplib_read_until(c, lambda l: l.startswith(b"+"), 5) == [b"+ idling"]
        assert other.append("INBOX", None, None, b"Subject: pushed\r\n\r\nbody\r\n")[0] == "OK"
        t0 = time.monotonic()
        lines = imaplib_read_until(c, lambda l: l.endswith(b" EXISTS"), 1.0)
        assert lines[-1] == b"* 1 EXISTS", lines
        assert time.monotonic() - t0 < 1.0

        c.send(b"DONE\r\n")
        lines = imaplib_read_until(c, lambda l: l.startswith(tag + b" "), 5)
        assert lines[-1] == tag + b" OK IDLE terminated.", lines
        # imaplib's own commands work on the same connection afterwards.
        c.sock.settimeout(10)
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"Subject: pushed" in data[0][1], data
    finally:
        c.logout()
        other.logout()
