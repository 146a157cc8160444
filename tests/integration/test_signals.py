"""SIGTERM/SIGINT stop the server cleanly; SIGHUP reloads without dropping anyone."""

import signal
import time

import pytest

from sluice_testlib import Imap, STOP_TIMEOUT, make_cert


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_signal_says_bye_to_logged_in_client_and_exits_zero(sluice, sig):
    c = sluice.login()
    idle = sluice.connect(tls=True)
    sluice.signal(sig)
    for conn in (c, idle):
        lines = conn.wait_closed(timeout=STOP_TIMEOUT)
        assert "* BYE Server shutting down." in lines, lines
        conn.close()
    assert sluice.wait_exit() == 0, sluice.log_tail()


def test_shutdown_stops_accepting_connections(sluice):
    c = sluice.login()
    sluice.signal(signal.SIGTERM)
    assert sluice.wait_exit() == 0, sluice.log_tail()
    c.close()
    with pytest.raises(OSError):
        Imap(sluice.plain_port, timeout=2).close()


def test_shutdown_lets_an_in_flight_login_finish(start_sluice):
    server = start_sluice(settings={"auth_failure_delay": "1s"})
    c = server.connect()
    c.send("a1 LOGIN demo wrong\r\n")
    time.sleep(0.2)
    server.signal(signal.SIGTERM)
    lines = c.wait_closed(timeout=STOP_TIMEOUT)
    c.close()
    assert any(l.startswith("a1 NO") for l in lines), lines
    assert "* BYE Server shutting down." in lines, lines
    assert server.wait_exit() == 0, server.log_tail()


def wait_login_ok(server, user, password="demo", timeout=5.0):
    """Poll until user can log in (a reload is asynchronous); return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        with server.connect() as c:
            r = c.cmd(f"LOGIN {user} {password}")
        if r.status == "OK" or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_sighup_reload_adds_user_and_keeps_connections(start_sluice, hashed, passwd_lines):
    server = start_sluice(settings={"auth_failure_delay": "10ms"})
    before_plain = server.login()
    before_tls = server.connect(tls=True)
    with server.connect() as c:
        assert c.cmd("LOGIN newbie demo").status == "NO"
    server.passwd_path.write_text("\n".join(passwd_lines + [hashed("newbie", "demo")]) + "\n")
    server.reload()
    assert wait_login_ok(server, "newbie").status == "OK"
    for c in (before_plain, before_tls):
        assert c.cmd("NOOP").status == "OK"
        c.close()
    assert server.running()


def test_passwd_file_change_is_noticed_without_reload(start_sluice, hashed, passwd_lines):
    server = start_sluice(settings={"auth_failure_delay": "10ms"})
    tmp = server.passwd_path.with_suffix(".new")
    tmp.write_text("\n".join(passwd_lines + [hashed("newbie", "demo")]) + "\n")
    tmp.chmod(0o600)
    tmp.replace(server.passwd_path)
    assert wait_login_ok(server, "newbie").status == "OK"


def test_sighup_reload_removes_user(start_sluice, passwd_lines):
    server = start_sluice(settings={"auth_failure_delay": "10ms"})
    server.passwd_path.write_text(passwd_lines[0] + "\n")  # demo only
    server.reload()
    deadline = time.monotonic() + 5
    while True:
        with server.connect() as c:
            r = c.cmd("LOGIN demo2 demo")
        if r.status == "NO" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r


def test_sighup_reload_picks_up_new_tls_certificate(start_sluice, tmp_path):
    server = start_sluice()
    old_conn = server.connect(tls=True)
    old_der = old_conn.sock.getpeercert(binary_form=True)
    new_cert, new_key = make_cert(tmp_path / "newtls")
    # Point the configuration at the new files, as an admin renewing a certificate would.
    text = server.conf_path.read_text().replace(str(server.cert), str(new_cert))
    server.conf_path.write_text(text.replace(str(server.key), str(new_key)))
    server.reload()
    deadline = time.monotonic() + 5
    while True:
        with server.connect(tls=True) as c:
            der = c.sock.getpeercert(binary_form=True)
        if der != old_der or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert der != old_der, "still serving the old certificate after SIGHUP"
    assert old_conn.cmd("NOOP").status == "OK"
    old_conn.close()


def test_sighup_with_broken_config_keeps_serving(start_sluice):
    server = start_sluice()
    c = server.login()
    good = server.conf_path.read_text()
    server.conf_path.write_text(good + "no_such_setting = 1\n")
    server.reload()
    time.sleep(0.5)
    assert server.running(), server.log_tail()
    assert c.cmd("NOOP").status == "OK"
    with server.connect() as fresh:
        assert fresh.cmd("LOGIN demo demo").status == "OK"
    c.close()
    server.conf_path.write_text(good)
