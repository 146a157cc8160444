"""STARTTLS and implicit TLS: handshakes, the certificate served, and STARTTLS injection."""

import pathlib
import ssl
import time
import warnings

import pytest

from sluice_testlib import HOST, Imap, client_tls_context, make_cert


def test_starttls_then_login_succeeds(sluice):
    with sluice.connect() as c:
        r = c.starttls()
        assert r.untagged == [], r
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert c.cmd("LOGIN demo demo").status == "OK"


def test_starttls_discards_pipelined_commands(sluice):
    # CVE-2021-33515 class: bytes sent in clear after STARTTLS must never be executed,
    # neither before the handshake nor as if they had arrived inside TLS.
    with sluice.connect() as c:
        c.send("a1 STARTTLS\r\na2 CAPABILITY\r\n")
        r = c.read_until_tagged("a1")
        assert r.status == "OK" and r.untagged == [], r
        c.tls_upgrade()
        r = c.cmd("NOOP", tag="a3")
        assert r.status == "OK", r
        assert not any(l.startswith("a2 ") or l.startswith("* CAPABILITY") for l in r.untagged), r
        assert c.buf == b""


def test_starttls_discards_pipelined_login(sluice):
    with sluice.connect() as c:
        c.send("a1 STARTTLS\r\na2 LOGIN demo demo\r\n")
        assert c.read_until_tagged("a1").status == "OK"
        c.tls_upgrade()
        # Had the pipelined LOGIN run, this one would be BAD (already logged in).
        r = c.cmd("LOGIN demo demo", tag="a3")
        assert r.status == "OK", "the pipelined LOGIN was executed before this one"


def test_starttls_on_implicit_tls_is_bad(sluice):
    with sluice.connect(tls=True) as c:
        r = c.cmd("STARTTLS")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_starttls_twice_is_bad(sluice):
    with sluice.connect() as c:
        c.starttls()
        r = c.cmd("STARTTLS")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_starttls_after_login_is_bad(sluice):
    with sluice.login() as c:
        r = c.cmd("STARTTLS")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_certificate_verifies_for_localhost_and_127_0_0_1(sluice, tls_files):
    cert = str(tls_files[0])
    for name in ("localhost", "127.0.0.1"):
        with Imap(sluice.tls_port, tls=True, context=client_tls_context(cafile=cert),
                  server_hostname=name) as c:
            assert c.greeting.startswith("* OK ")


def test_starttls_serves_the_same_certificate(sluice, tls_files):
    with sluice.connect() as c:
        c.starttls(context=client_tls_context(cafile=str(tls_files[0])))
        assert c.cmd("NOOP").status == "OK"


def test_tls_1_1_is_refused(sluice):
    ctx = client_tls_context()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
        Imap(sluice.tls_port, tls=True, context=ctx).close()


def test_failed_handshake_does_not_disturb_other_clients(sluice):
    import socket
    with socket.create_connection((HOST, sluice.tls_port), timeout=5) as raw:
        raw.sendall(b"a1 CAPABILITY\r\n")  # not a TLS ClientHello
        raw.settimeout(5)
        try:
            raw.recv(100)
        except OSError:
            pass
    with sluice.connect(tls=True) as c:
        assert c.cmd("NOOP").status == "OK"


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(pathlib.Path(pem_path).read_text())


def peer_der(server, name):
    with Imap(server.tls_port, tls=True, server_hostname=name) as c:
        return c.sock.getpeercert(binary_form=True)


def test_sni_selects_the_certificate_of_a_named_tls_block(start_sluice, tls_files, tmp_path):
    other_cert, other_key = make_cert(tmp_path / "other", cn="mail.example.org")
    server = start_sluice(extra_conf=f"tls mail.example.org {{\n  cert = {other_cert}\n"
                                     f"  key = {other_key}\n}}")
    assert peer_der(server, "mail.example.org") == der(other_cert)
    assert peer_der(server, "localhost") == der(tls_files[0])
    assert peer_der(server, "unknown.example.net") == der(tls_files[0])


def test_certificate_and_key_in_one_file(start_sluice, tls_files, tmp_path):
    combined = tmp_path / "combined.pem"
    combined.write_bytes(tls_files[0].read_bytes() + tls_files[1].read_bytes())
    combined.chmod(0o600)
    server = start_sluice(cert=combined, key=None)
    assert peer_der(server, "localhost") == der(tls_files[0])


def test_relative_certificate_paths_resolve_against_the_config_folder(start_sluice, tls_files,
                                                                      tmp_path):
    server = start_sluice(cert="tls/cert.pem", key="tls/key.pem", settings={},
                          prepare=lambda d: copy_tls(tls_files, d / "tls"))
    assert peer_der(server, "localhost") == der(tls_files[0])


def copy_tls(tls_files, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for f in tls_files:
        (folder / f.name).write_bytes(f.read_bytes())
        (folder / f.name).chmod(0o600)


@pytest.mark.parametrize("rst", [False, True])
def test_dropped_tls_client_does_not_break_other_tls_sessions_on_the_same_worker(start_sluice, rst):
    # With one worker every session runs on the same thread. A client that drops its TLS
    # connection without close_notify makes the server's shutdown of it fail; that failure
    # must not leak into the next TLS read of another session (OpenSSL keeps errors per
    # thread, and SSL_get_error consults them).
    import socket
    import struct
    server = start_sluice(settings={"workers": "1"})
    with server.login(tls=True) as keep:
        for _ in range(3):
            victim = server.connect(tls=True)
            assert victim.cmd("LOGIN demo demo").status == "OK"
            if rst:
                victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            victim.sock.close()  # FIN or RST, without a TLS close_notify
            time.sleep(0.2)
            for _ in range(3):
                assert keep.cmd("NOOP").status == "OK"
