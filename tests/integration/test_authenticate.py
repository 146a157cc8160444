"""AUTHENTICATE PLAIN (RFC 4616) with SASL-IR and with a continuation."""

import base64


def plain(authcid, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


def test_authenticate_plain_with_initial_response_succeeds(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo')}")
        assert r.status == "OK", r
        assert r.code() == "CAPABILITY", r
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_plain_with_continuation_succeeds(sluice):
    with sluice.connect() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        cont = c.readline()
        assert cont.startswith("+"), cont
        c.send(plain("demo", "demo") + "\r\n")
        r = c.read_until_tagged("a1")
    assert r.status == "OK", r


def test_authenticate_mechanism_name_is_case_insensitive(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE plain {plain('demo', 'demo')}")
    assert r.status == "OK", r


def test_authenticate_plain_wrong_password_is_authenticationfailed(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'nope')}")
    assert r.status == "NO" and r.code() == "AUTHENTICATIONFAILED", r


def test_authenticate_cancelled_with_star_is_bad(sluice):
    with sluice.connect() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith("+")
        c.send("*\r\n")
        r = c.read_until_tagged("a1")
        assert r.status == "BAD" and "cancel" in r.text.lower(), r
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_invalid_base64_is_bad(sluice):
    with sluice.connect() as c:
        r = c.cmd("AUTHENTICATE PLAIN !!!not*base64!!!")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_invalid_base64_in_continuation_is_bad(sluice):
    with sluice.connect() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith("+")
        c.send("%%%%\r\n")
        r = c.read_until_tagged("a1")
    assert r.status == "BAD", r


def test_authenticate_plain_without_nul_separators_is_refused(sluice):
    with sluice.connect() as c:
        r = c.cmd("AUTHENTICATE PLAIN " + base64.b64encode(b"demodemo").decode())
        assert r.status in ("NO", "BAD"), r
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_plain_with_empty_password_is_refused(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', '')}")
    assert r.status in ("NO", "BAD"), r


def test_authenticate_unknown_mechanism_is_no(sluice):
    with sluice.connect() as c:
        r = c.cmd("AUTHENTICATE X-NO-SUCH-MECH")
        assert r.status == "NO", r
        assert c.cmd("NOOP").status == "OK"


def test_authenticate_with_other_authzid_is_authorizationfailed(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo', authzid='demo2')}")
    assert r.status == "NO" and r.code() == "AUTHORIZATIONFAILED", r


def test_authenticate_with_authzid_equal_to_authcid_succeeds(sluice):
    with sluice.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo', authzid='demo')}")
    assert r.status == "OK", r


def test_authenticate_after_login_is_bad(sluice):
    with sluice.login() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo')}")
    assert r.status == "BAD", r


def test_authenticate_refused_with_privacyrequired_when_tls_required(start_sluice):
    server = start_sluice(settings={"tls_required": "yes"})
    with server.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo')}")
    assert r.status == "NO" and r.code() == "PRIVACYREQUIRED", r


def test_authenticate_logged_with_method(sluice):
    with sluice.connect() as c:
        assert c.cmd(f"AUTHENTICATE PLAIN {plain('demo', 'demo')}").status == "OK"
    sluice.wait_for_log("login ok", "demo", "PLAIN")
