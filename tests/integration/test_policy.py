"""The example policy module (denylist): refusing chosen users with the configured sentence."""

from sluice_testlib import HOST


def test_denylisted_user_is_refused_with_unavailable(start_sluice):
    server = start_sluice(modules_extra='policy denylist {\n  users = "demo2"\n}\n')
    with server.connect() as c:
        r = c.cmd("LOGIN demo2 demo")
        assert r.status == "NO" and r.code() == "UNAVAILABLE", r
        assert "Access denied by the administrator" in r.text, r
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_denylist_message_is_configurable(start_sluice):
    server = start_sluice(modules_extra='policy denylist {\n  users = "demo2 mallory"\n'
                                        '  message = "Account suspended, call the help desk"\n}\n')
    with server.connect() as c:
        r = c.cmd("LOGIN demo2 demo")
    assert r.status == "NO" and r.code() == "UNAVAILABLE", r
    assert "Account suspended, call the help desk" in r.text, r


def test_denylist_applies_to_authenticate_too(start_sluice):
    import base64
    server = start_sluice(modules_extra='policy denylist {\n  users = "demo2"\n}\n')
    ir = base64.b64encode(b"\0demo2\0demo").decode()
    with server.connect() as c:
        r = c.cmd(f"AUTHENTICATE PLAIN {ir}")
    assert r.status == "NO" and r.code() == "UNAVAILABLE", r


def test_denylisted_network_is_refused_at_connect(start_sluice):
    server = start_sluice(modules_extra=f'policy denylist {{\n  networks = {HOST}/32\n}}\n')
    with server.connect(greeting=False) as c:
        lines = c.wait_closed(timeout=5)
    assert lines and lines[0].startswith("* BYE"), lines


def test_denylisted_network_on_implicit_tls_gets_bye_after_handshake(start_sluice):
    # On an implicit TLS port even the refusal is spoken inside TLS: a client reads no
    # clear text there (RFC 8314), so a clear "* BYE" reaches the user as a TLS error.
    server = start_sluice(modules_extra=f'policy denylist {{\n  networks = {HOST}/32\n}}\n')
    with server.connect(tls=True, greeting=False) as c:
        lines = c.wait_closed(timeout=5)
    assert lines and lines[0].startswith("* BYE"), lines
