"""The connlimit policy module against a real sluiced: every limit, its exact answer and log line.

Each test starts a server with a `policy connlimit { ... }` block and talks to it over real
sockets from 127.0.0.1, so the per-address limit applies to every connection of the test.
The start-up probes of the test library count as connections too, so each test first waits
until the server has seen them close. A reload rewrites the limit in modules.conf and sends
SIGHUP, as an administrator would. Clients from 127.0.0.2 stand for another address.
"""

import time

import pytest

from sluice_testlib import HOST, Closed

PER_IP_MESSAGE = ("Too many connections from your address ({n} open); close other mail programs"
                  " or ask your administrator")


def connlimit_block(**settings):
    body = "".join(f"  {k} = {v}\n" for k, v in settings.items())
    return "policy connlimit {\n" + body + "}\n"


def wait_idle(server, timeout=5.0):
    """Wait until every connection the server logged has also been logged as closed."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log()
        if log.count("connect listener=") == log.count("disconnect reason="):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"connections still open after {timeout}s;"
                                 f" log:\n{server.log_tail()}")
        time.sleep(0.05)


def set_limit(server, key, old, new):
    """Change `key = old` to `key = new` in modules.conf, SIGHUP, wait for the reload line."""
    text = server.modules_path.read_text()
    assert f"  {key} = {old}\n" in text, text
    server.modules_path.write_text(text.replace(f"  {key} = {old}\n", f"  {key} = {new}\n"))
    mark = len(server.log())
    server.reload()
    server.wait_for_log("reloaded:", f"{key}={new} (was {old})", after=mark)


def closed_lines(c):
    """The lines the server sent before closing (wait_closed may keep a CRLF on the last)."""
    return [line.rstrip("\r\n") for line in c.wait_closed()]


def assert_noop_ok(conns):
    for c in conns:
        r = c.cmd("NOOP")
        assert r.status == "OK", r


def test_connection_over_max_per_ip_gets_bye_and_the_others_keep_working(start_sluice):
    n = 4
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=n))
    wait_idle(server)
    conns = [server.connect() for _ in range(n)]
    try:
        for c in conns:
            assert c.greeting.startswith("* OK"), c.greeting
        with server.connect() as extra:
            assert extra.greeting == "* BYE [UNAVAILABLE] " + PER_IP_MESSAGE.format(n=n)
            assert closed_lines(extra) == []
        server.wait_for_log(f"refused: max_per_ip={n} reached for {HOST}")
        assert_noop_ok(conns)

        # A higher limit applies at once: one more is admitted, nobody was reconnected.
        set_limit(server, "max_per_ip", n, n + 1)
        with server.connect() as more:
            assert more.greeting.startswith("* OK"), more.greeting
            assert_noop_ok(conns + [more])
            # ...and the one after that is refused with the new number.
            with server.connect() as over:
                assert over.greeting == "* BYE [UNAVAILABLE] " + PER_IP_MESSAGE.format(n=n + 1)
    finally:
        for c in conns:
            c.close()


def test_lowering_max_per_ip_keeps_open_connections(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=3))
    wait_idle(server)
    conns = [server.login() for _ in range(3)]
    try:
        set_limit(server, "max_per_ip", 3, 1)
        assert_noop_ok(conns)
        with server.connect() as extra:
            assert extra.greeting == "* BYE [UNAVAILABLE] " + PER_IP_MESSAGE.format(n=1)
        # Closing two of three still leaves the address at the new limit of one.
        conns.pop().close()
        conns.pop().close()
        wait_idle_count(server, open_expected=1)
        with server.connect() as extra:
            assert extra.greeting.startswith("* BYE [UNAVAILABLE]"), extra.greeting
        conns.pop().close()
        wait_idle(server)
        with server.connect() as ok:
            assert ok.greeting.startswith("* OK"), ok.greeting
    finally:
        for c in conns:
            c.close()


def wait_idle_count(server, open_expected, timeout=5.0):
    """Wait until the log shows exactly open_expected connections still open."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log()
        if log.count("connect listener=") - log.count("disconnect reason=") == open_expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not {open_expected} open after {timeout}s;"
                                 f" log:\n{server.log_tail()}")
        time.sleep(0.05)


def test_connection_over_max_connections_gets_bye(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_connections=2))
    wait_idle(server)
    with server.connect() as a, server.connect() as b:
        with server.connect() as c:
            assert c.greeting == ("* BYE [UNAVAILABLE] Too many connections to this server"
                                  " (2 open); try again later")
            assert closed_lines(c) == []
        server.wait_for_log(f"refused: max_connections=2 reached for {HOST}")
        assert_noop_ok([a, b])


def test_login_over_max_logins_per_user_is_refused(start_sluice):
    # on_limit = refuse is the default; said here to show the newcomer is the one refused.
    server = start_sluice(modules_extra=connlimit_block(max_logins_per_user=2, on_limit="refuse"))
    wait_idle(server)
    a, b = server.login(), server.login()
    try:
        with server.connect() as c:
            r = c.cmd("LOGIN demo demo")
            assert r.status == "NO" and r.code() == "UNAVAILABLE", r
            assert r.text == "[UNAVAILABLE] Too many logins for this user (2 open)", r
            server.wait_for_log(f"refused: max_logins_per_user=2 reached for user demo from {HOST}")
            # Another user is not affected, on the same connection.
            assert c.cmd("LOGIN demo2 demo").status == "OK"
        assert_noop_ok([a, b])
        assert "closing conn=" not in server.log()
        # Logging out gives the place back.
        a.cmd("LOGOUT")
        a.close()
        wait_idle_count(server, open_expected=1)
        with server.connect() as d:
            assert d.cmd("LOGIN demo demo").status == "OK"
    finally:
        a.close()
        b.close()


def test_third_bad_password_gets_no_then_bye_and_close(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(bad_login_delay="100ms",
                                                       bad_login_delay_max="300ms"))
    wait_idle(server)
    with server.connect() as c:
        for _ in range(2):
            r = c.cmd("LOGIN demo wrong")
            assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r
        started = time.monotonic()
        r = c.cmd("LOGIN demo wrong")
        assert r.status == "NO", r
        assert closed_lines(c) == ["* BYE Too many failed login attempts"]
        # The third failure in a row from this address waits 100ms x 4, capped at 300ms.
        assert time.monotonic() - started >= 0.29
    server.wait_for_log(f"refused: max_bad_logins=3 reached for {HOST} (user demo)")
    # The per-connection count starts again on a new connection, and a success resets
    # the address's delay.
    with server.connect() as c:
        assert c.cmd("LOGIN demo wrong").status == "NO"
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_failure_delay_grows_and_resets_after_success(start_sluice):
    server = start_sluice(
        settings={"auth_failure_delay": "0"},
        modules_extra=connlimit_block(max_bad_logins=0, bad_login_delay="200ms",
                                      bad_login_delay_max="800ms"))
    wait_idle(server)

    def timed(c, text):
        t = time.monotonic()
        r = c.cmd(text)
        return r, time.monotonic() - t

    with server.connect() as c:
        spent = [timed(c, "LOGIN demo wrong")[1] for _ in range(4)]
        # 200, 400, 800, 800 ms
        assert 0.18 <= spent[0] < 0.38, spent
        assert 0.38 <= spent[1] < 0.78, spent
        assert spent[2] >= 0.78 and spent[3] >= 0.78 and spent[3] < 1.5, spent
        r, _ = timed(c, "LOGIN demo demo")
        assert r.status == "OK", r
    with server.connect() as c:
        r, t = timed(c, "LOGIN demo wrong")
        assert r.status == "NO" and 0.18 <= t < 0.38, (r, t)


@pytest.mark.parametrize("limit", ["max_connections", "max_per_ip", "max_logins_per_user"])
def test_zero_means_no_limit(start_sluice, limit):
    server = start_sluice(modules_extra=connlimit_block(**{limit: 0}))
    wait_idle(server)
    conns = []
    try:
        for _ in range(5):
            conns.append(server.login())
    finally:
        for c in conns:
            c.close()
    assert "refused:" not in server.log()


def test_refused_connection_is_not_counted(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=1))
    wait_idle(server)
    with server.connect() as a:
        for _ in range(5):
            with server.connect() as b:
                assert b.greeting.startswith("* BYE [UNAVAILABLE]"), b.greeting
                try:
                    b.wait_closed()
                except Closed:
                    pass
        assert_noop_ok([a])
    wait_idle(server)
    with server.connect() as c:
        assert c.greeting.startswith("* OK"), c.greeting


# ---- on_limit = close-oldest-idle ---------------------------------------------------------

ROOM_BYE = "* BYE [UNAVAILABLE] Connection closed to make room for a new one"


def test_close_oldest_idle_per_ip_closes_the_oldest_and_admits_the_newcomer(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=3,
                                                       on_limit="close-oldest-idle"))
    wait_idle(server)
    a, b, c = server.login(), server.login("demo2"), server.connect()
    other = server.connect(source="127.0.0.2")  # another address: never a candidate
    try:
        with server.connect() as d:
            assert d.greeting.startswith("* OK"), d.greeting
            assert closed_lines(a) == [ROOM_BYE]
            line = server.wait_for_log("max_per_ip=3 reached for 127.0.0.1: closing conn=")
            assert "its oldest idle connection, to make room" in line
            server.wait_for_log('disconnect reason="closed by connlimit"')
            assert_noop_ok([b, c, d, other])
            # The next newcomer takes the next oldest.
            with server.connect() as e:
                assert e.greeting.startswith("* OK"), e.greeting
                assert closed_lines(b) == [ROOM_BYE]
                assert_noop_ok([c, d, e, other])
    finally:
        for x in (a, b, c, other):
            x.close()


def test_close_oldest_idle_per_user_closes_that_users_oldest_login(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_logins_per_user=2,
                                                       on_limit="close-oldest-idle"))
    wait_idle(server)
    a, b, other = server.login("demo"), server.login("demo"), server.login("demo2")
    try:
        with server.connect() as c:
            r = c.cmd("LOGIN demo demo")
            assert r.status == "OK", r
            assert closed_lines(a) == [ROOM_BYE]
            server.wait_for_log("max_logins_per_user=2 reached for user demo: closing conn=")
            assert_noop_ok([b, c, other])
    finally:
        for x in (a, b, other):
            x.close()


def test_close_oldest_idle_skips_a_session_in_idle(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=2,
                                                       on_limit="close-oldest-idle"))
    wait_idle(server)
    a, b = server.login(), server.login()
    try:
        if "IDLE" not in a.capabilities():
            pytest.skip("this build has no IDLE yet; the CUnit suite covers busy sessions")
        assert a.cmd("SELECT INBOX").status == "OK"
        a.send("i1 IDLE\r\n")
        assert a.readline().startswith("+ ")
        with server.connect() as c:
            assert c.greeting.startswith("* OK"), c.greeting
            assert closed_lines(b) == [ROOM_BYE]
            a.send("DONE\r\n")
            assert a.read_until_tagged("i1").status == "OK"
            assert_noop_ok([a, c])
    finally:
        a.close()
        b.close()
