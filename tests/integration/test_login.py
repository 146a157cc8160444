"""LOGIN: the passwd-file passdb, failure delays that hold no thread, and what is logged."""

import threading
import time

from sluice_testlib import Closed


def test_login_with_right_password_succeeds(sluice):
    with sluice.connect() as c:
        r = c.cmd("LOGIN demo demo")
    assert r.status == "OK", r
    assert r.code() == "CAPABILITY", r
    assert "demo" in r.text


def test_login_accepts_quoted_strings(sluice):
    with sluice.connect() as c:
        r = c.cmd('LOGIN "demo" "demo"')
    assert r.status == "OK", r


def test_login_accepts_synchronizing_literals(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {4}\r\n")
        assert c.readline().startswith("+"), "no continuation for the user literal"
        c.send("demo {4}\r\n")
        assert c.readline().startswith("+"), "no continuation for the password literal"
        c.send("demo\r\n")
        r = c.read_until_tagged("a1")
    assert r.status == "OK", r


def test_login_accepts_non_synchronizing_literals(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {4+}\r\ndemo {4+}\r\ndemo\r\n")
        r = c.read_until_tagged("a1")
    assert r.status == "OK", r
    assert not any(l.startswith("+") for l in r.untagged), r


def test_second_user_logs_in_too(sluice):
    with sluice.connect() as c:
        r = c.cmd("LOGIN demo2 demo")
    assert r.status == "OK", r
    assert "demo2" in r.text


def test_wrong_password_gets_authenticationfailed_after_delay(start_sluice):
    server = start_sluice(settings={"auth_failure_delay": "500ms"})
    with server.connect() as c:
        t0 = time.monotonic()
        r = c.cmd("LOGIN demo wrong")
        took = time.monotonic() - t0
        assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
        assert took >= 0.45, f"failure answered after {took:.3f}s, before the 500ms delay"
        # The connection stays usable and the right password still works.
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_unknown_user_gets_the_same_answer_as_wrong_password(sluice):
    with sluice.connect() as c:
        wrong_pw = c.cmd("LOGIN demo wrong")
        unknown = c.cmd("LOGIN nosuchuser demo")
    assert unknown.status == "NO" and unknown.code() == "AUTHENTICATIONFAILED", unknown
    assert unknown.text == wrong_pw.text, "the answer tells which user names exist"


def test_failure_delay_does_not_block_other_clients(start_sluice):
    # Six failing logins on two workers: if each 2 s delay held a worker, the answers
    # would take three rounds (6 s) and a NOOP elsewhere would wait for a free worker.
    server = start_sluice(settings={"auth_failure_delay": "2s", "workers": "2"})
    bystander = server.connect()
    failing = [server.connect() for _ in range(6)]
    results = [None] * len(failing)

    def fail(i):
        results[i] = failing[i].cmd("LOGIN demo wrong", timeout=15)

    t0 = time.monotonic()
    threads = [threading.Thread(target=fail, args=(i,)) for i in range(len(failing))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    n0 = time.monotonic()
    noop = bystander.cmd("NOOP", timeout=5)
    noop_took = time.monotonic() - n0
    for t in threads:
        t.join(20)
    total = time.monotonic() - t0
    for c in failing + [bystander]:
        c.close()
    assert noop.status == "OK", noop
    assert noop_took < 1.0, f"NOOP waited {noop_took:.2f}s behind failing logins"
    assert all(r is not None and r.code() == "AUTHENTICATIONFAILED" for r in results), results
    assert total < 4.0, f"six 2s failure delays on two workers took {total:.2f}s"


def test_login_when_already_logged_in_is_bad(sluice):
    with sluice.login() as c:
        r = c.cmd("LOGIN demo demo")
    assert r.status == "BAD", r


def test_login_with_missing_arguments_is_bad(sluice):
    with sluice.connect() as c:
        r = c.cmd("LOGIN demo")
    assert r.status == "BAD", r


def test_plaintext_login_refused_with_privacyrequired_when_tls_required(start_sluice):
    server = start_sluice(settings={"tls_required": "yes"})
    with server.connect() as c:
        r = c.cmd("LOGIN demo demo")
        assert r.status == "NO" and r.code() == "PRIVACYREQUIRED", r
        assert "STARTTLS" in r.text or "TLS" in r.text, "the refusal should say what to do"
        c.starttls()
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_plaintext_login_refused_outside_plaintext_networks(start_sluice):
    server = start_sluice(settings={"plaintext_auth_networks": "192.0.2.0/24"})
    with server.connect() as c:
        r = c.cmd("LOGIN demo demo")
    assert r.status == "NO" and r.code() == "PRIVACYREQUIRED", r


def test_login_over_implicit_tls_allowed_when_tls_required(start_sluice):
    server = start_sluice(settings={"tls_required": "yes"})
    with server.connect(tls=True) as c:
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_many_concurrent_logins_all_succeed(sluice):
    conns = [sluice.connect() for _ in range(20)]
    try:
        for i, c in enumerate(conns):
            c.send(f"x{i} LOGIN demo demo\r\n")
        for i, c in enumerate(conns):
            r = c.read_until_tagged(f"x{i}", timeout=20)
            assert r.status == "OK", r
        for c in conns:
            assert c.cmd("NOOP").status == "OK"
    finally:
        for c in conns:
            c.close()


def test_log_has_connect_and_login_ok_with_address_and_user(sluice):
    with sluice.login() as c:
        c.cmd("LOGOUT")
    sluice.wait_for_log("127.0.0.1", "connect")
    sluice.wait_for_log("127.0.0.1", "login ok", "demo")


def test_log_has_login_failed_when_it_happens(sluice):
    with sluice.connect() as c:
        assert c.cmd("LOGIN demo Xyzzy-s3cret").status == "NO"
        # Logged at once, while the connection is still open (fail2ban reads it then).
        line = sluice.wait_for_log("login failed", "demo")
        assert "127.0.0.1" in line
    assert "Xyzzy-s3cret" not in sluice.log(), "the password was logged"


def test_log_has_disconnect_with_duration_and_bytes(sluice):
    with sluice.login() as c:
        c.cmd("LOGOUT")
        try:
            c.wait_closed(timeout=3)
        except Closed:
            pass
    line = sluice.wait_for_log("127.0.0.1", ": disconnect reason=", "demo")
    assert "duration=" in line and "in=" in line and "out=" in line, line
