"""The greeting and CAPABILITY: what a client learns before it decides how to log in."""

from sluice_testlib import code_caps, greeting_caps

BASE = {"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE"}


def test_greeting_is_ok_with_capability_code(sluice):
    with sluice.connect() as c:
        assert c.greeting.startswith("* OK [CAPABILITY IMAP4rev1"), c.greeting
        assert c.greeting.endswith("] Sluice ready."), c.greeting


def test_greeting_capabilities_match_capability_command(sluice):
    with sluice.connect() as c:
        assert greeting_caps(c.greeting) == c.capabilities()


def test_plain_loopback_offers_starttls_and_auth_plain(sluice):
    with sluice.connect() as c:
        caps = c.capabilities()
    assert BASE <= caps, caps
    assert {"STARTTLS", "AUTH=PLAIN"} <= caps, caps
    assert "LOGINDISABLED" not in caps


def test_capability_command_completes_ok(sluice):
    with sluice.connect() as c:
        r = c.cmd("CAPABILITY")
    assert r.status == "OK", r
    assert [l for l in r.untagged if l.startswith("* CAPABILITY IMAP4rev1 ")], r


def test_capability_is_case_insensitive(sluice):
    with sluice.connect() as c:
        r = c.cmd("capability")
    assert r.status == "OK", r


def test_tls_required_advertises_logindisabled_without_auth_plain(start_sluice):
    server = start_sluice(settings={"tls_required": "yes"})
    with server.connect() as c:
        caps = greeting_caps(c.greeting)
        assert caps == c.capabilities()
    assert {"STARTTLS", "LOGINDISABLED"} <= caps, caps
    assert not any(cap.startswith("AUTH=") for cap in caps), caps


def test_client_outside_plaintext_networks_sees_logindisabled(start_sluice):
    server = start_sluice(settings={"plaintext_auth_networks": "192.0.2.0/24"})
    with server.connect() as c:
        caps = c.capabilities()
    assert {"STARTTLS", "LOGINDISABLED"} <= caps, caps
    assert "AUTH=PLAIN" not in caps


def test_after_starttls_capabilities_drop_starttls_and_offer_auth_plain(start_sluice):
    server = start_sluice(settings={"tls_required": "yes"})
    with server.connect() as c:
        c.starttls()
        caps = c.capabilities()
    assert BASE <= caps, caps
    assert "AUTH=PLAIN" in caps
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps


def test_implicit_tls_greeting_offers_auth_plain_without_starttls(sluice):
    with sluice.connect(tls=True) as c:
        caps = greeting_caps(c.greeting)
        assert c.greeting.endswith("] Sluice ready."), c.greeting
        assert caps == c.capabilities()
    assert BASE <= caps, caps
    assert "AUTH=PLAIN" in caps
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps


def test_after_login_capabilities_drop_auth_and_starttls(sluice):
    with sluice.connect() as c:
        r = c.cmd("LOGIN demo demo")
        assert r.status == "OK", r
        for caps in (code_caps(r), c.capabilities()):
            assert "IMAP4rev1" in caps, caps
            assert not any(cap.startswith("AUTH=") for cap in caps), caps
            assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps


def test_noop_completes_ok(sluice):
    with sluice.connect() as c:
        r = c.cmd("NOOP")
    assert r.status == "OK" and r.untagged == [], r


def test_logout_says_bye_then_ok_then_closes(sluice):
    with sluice.connect() as c:
        r = c.cmd("LOGOUT")
        assert r.status == "OK", r
        assert r.untagged and r.untagged[0].startswith("* BYE "), r
        assert c.wait_closed(timeout=3) == []


def test_logout_after_login_closes(sluice):
    with sluice.login() as c:
        r = c.cmd("LOGOUT")
        assert r.status == "OK" and r.untagged[0].startswith("* BYE "), r
        assert c.wait_closed(timeout=3) == []


def test_enable_after_login_answers_enabled_and_before_login_is_bad(sluice):
    # RFC 5161: unknown or unsupported capabilities are ignored, the answer lists none.
    with sluice.connect() as c:
        r = c.cmd("ENABLE CONDSTORE")
        assert r.status == "BAD" and "login" in r.text, r
    with sluice.login() as c:
        r = c.cmd("ENABLE X-UNKNOWN")
        assert r.status == "OK" and r.untagged == ["* ENABLED"], r
        r = c.cmd("ENABLE CONDSTORE X-UNKNOWN")
        assert r.status == "OK" and r.untagged == ["* ENABLED CONDSTORE"], r
        assert c.cmd("ENABLE").status == "BAD"
