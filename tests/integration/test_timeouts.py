"""Idle clients are logged out: before login after preauth_timeout, after login after autologout."""

import time


def test_idle_client_before_login_gets_bye_after_preauth_timeout(start_sluice):
    server = start_sluice(settings={"preauth_timeout": "1s"})
    with server.connect() as c:
        t0 = time.monotonic()
        lines = c.wait_closed(timeout=6)
        took = time.monotonic() - t0
    assert lines and lines[0].startswith("* BYE"), lines
    assert 0.8 <= took <= 4, f"closed after {took:.2f}s with preauth_timeout = 1s"


def test_activity_before_login_resets_the_preauth_timer(start_sluice):
    server = start_sluice(settings={"preauth_timeout": "1s"})
    with server.connect() as c:
        for _ in range(4):
            time.sleep(0.5)
            assert c.cmd("NOOP").status == "OK"


def test_logged_in_client_is_not_cut_by_preauth_timeout(start_sluice):
    server = start_sluice(settings={"preauth_timeout": "1s", "autologout": "30m"})
    with server.login() as c:
        time.sleep(1.8)
        assert c.cmd("NOOP").status == "OK"


def test_idle_logged_in_client_gets_bye_after_autologout(start_sluice):
    # Production values are 30 minutes or more (RFC 3501); the mechanism is the same.
    server = start_sluice(settings={"autologout": "3s", "preauth_timeout": "1s"})
    with server.login() as c:
        t0 = time.monotonic()
        lines = c.wait_closed(timeout=15)
        took = time.monotonic() - t0
    assert lines and lines[0].startswith("* BYE"), lines
    assert 2.5 <= took <= 6, f"closed after {took:.2f}s with autologout = 3s"
