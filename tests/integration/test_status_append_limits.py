"""Sizes and limits a client can ask for before it sends mail: STATUS=SIZE (RFC 8438),
APPENDLIMIT (RFC 7889), LITERAL- (RFC 7888), and the exact capability list in every state.
"""
import re

from sluice_testlib import code_caps, greeting_caps

PRE_LOGIN = {"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "STARTTLS", "AUTH=PLAIN"}
LOGGED_IN = {"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "NAMESPACE", "UNSELECT",
             "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
             "CREATE-SPECIAL-USE", "STATUS=SIZE", "APPENDLIMIT=67108864", "CONDSTORE",
             "QRESYNC", "ESEARCH", "SEARCHRES", "IDLE"}


def status(c, mailbox, items):
    r = c.cmd(f"STATUS {mailbox} ({items})")
    assert r.status == "OK", r
    line = [l for l in r.untagged if l.startswith("* STATUS ")]
    assert len(line) == 1, r
    return dict(re.findall(r"([A-Z]+) (\d+)", line[0].split("(", 1)[1]))


def append(c, mailbox, data, flags=""):
    tag = c.next_tag()
    c.send(f"{tag} APPEND {mailbox} {flags}{{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    return c.read_until_tagged(tag)


def deliver(server, name, data, folder="cur"):
    path = server.mail_dir / "demo" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---- capabilities --------------------------------------------------------------------------

def test_capabilities_are_exact_before_and_after_tls_and_login(sluice):
    with sluice.connect() as c:
        assert greeting_caps(c.greeting) == PRE_LOGIN == c.capabilities()
        c.starttls()
        assert c.capabilities() == PRE_LOGIN - {"STARTTLS"}
        r = c.cmd("LOGIN demo demo")
        assert code_caps(r) == LOGGED_IN == c.capabilities()
    with sluice.connect(tls=True) as c:
        assert greeting_caps(c.greeting) == PRE_LOGIN - {"STARTTLS"}
        r = c.cmd("LOGIN demo demo")
        assert code_caps(r) == LOGGED_IN
        c.cmd("SELECT INBOX")
        assert c.capabilities() == LOGGED_IN


def test_literal_minus_and_appendlimit_follow_the_configuration(start_sluice):
    server = start_sluice(settings={"nonsync_literals": "minus", "max_literal": "1M"})
    with server.connect() as c:
        caps = c.capabilities()
        assert "LITERAL-" in caps and "LITERAL+" not in caps, caps
        r = c.cmd("LOGIN demo demo")
        caps = code_caps(r)
        assert "LITERAL-" in caps and "LITERAL+" not in caps, caps
        assert "APPENDLIMIT=1048576" in caps, caps


# ---- STATUS=SIZE ------------------------------------------------------------------------------

def fetch_sizes(c, mailbox):
    assert c.cmd(f"EXAMINE {mailbox}").status == "OK"
    r = c.cmd("FETCH 1:* RFC822.SIZE")
    assert r.status == "OK", r
    c.cmd("UNSELECT")
    return [int(m) for m in re.findall(r"RFC822\.SIZE (\d+)", " ".join(r.untagged))]


def wire_size(data):
    """RFC822.SIZE: the bytes with every bare LF sent as CRLF."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def test_status_size_is_the_sum_of_rfc822_sizes(sluice):
    # Bare-LF files grow by one byte per line on the wire; SIZE must count them as sent.
    bodies = [b"Subject: lf\n\nline one\nline two\n", b"Subject: crlf\r\n\r\nbody\r\n",
              b"Subject: appended\r\n\r\n" + b"x" * 5000]
    deliver(sluice, "1700000000.M1P1.test:2,S", bodies[0])
    deliver(sluice, "1700000001.M2P1.test:2,", bodies[1])
    with sluice.login() as c:
        assert append(c, "INBOX", bodies[2]).status == "OK"
        size = int(status(c, "INBOX", "SIZE MESSAGES")["SIZE"])
        assert size == sum(wire_size(b) for b in bodies) == 35 + 23 + 5021, size
        # The same once FETCH has cached the sizes, and what FETCH adds up to.
        assert sorted(fetch_sizes(c, "INBOX")) == sorted(wire_size(b) for b in bodies)
        assert status(c, "INBOX", "MESSAGES SIZE") == {"MESSAGES": "3", "SIZE": str(size)}
        r = c.cmd("STATUS Nowhere (SIZE)")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r


def test_status_size_reads_each_message_once(sluice):
    path = deliver(sluice, "1700000000.M1P1.test:2,", b"Subject: a\n\nbody\n")
    with sluice.login() as c:
        assert status(c, "INBOX", "SIZE")["SIZE"] == "20"
        # Grow the file behind the server's back without changing the folder: a second
        # STATUS that read the file again would see 1000 more bytes; the cached size is used.
        with open(path, "ab") as f:
            f.write(b"y" * 1000)
        assert status(c, "INBOX", "SIZE")["SIZE"] == "20"


def test_status_size_of_the_selected_mailbox_counts_only_what_the_session_knows(sluice):
    deliver(sluice, "1700000000.M1P1.test:2,", b"Subject: a\r\n\r\nx\r\n")
    with sluice.login() as c:
        assert "* 1 EXISTS" in c.cmd("SELECT INBOX").untagged
        deliver(sluice, "1700000001.M2P1.test:2,", b"Subject: b\r\n\r\n" + b"z" * 100 + b"\r\n")
        # Another session sees and indexes the new message first.
        with sluice.login() as other:
            assert status(other, "INBOX", "MESSAGES")["MESSAGES"] == "2"
        assert status(c, "INBOX", "MESSAGES SIZE") == {"MESSAGES": "1", "SIZE": "17"}


def test_status_size_of_an_empty_mailbox_is_zero(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Empty").status == "OK"
        assert status(c, "Empty", "SIZE MESSAGES") == {"SIZE": "0", "MESSAGES": "0"}


# ---- APPENDLIMIT --------------------------------------------------------------------------

def test_status_appendlimit_reports_the_limit(start_sluice):
    server = start_sluice(settings={"max_literal": "100K"})
    with server.login() as c:
        assert status(c, "INBOX", "APPENDLIMIT") == {"APPENDLIMIT": str(100 * 1024)}


def test_append_over_the_limit_is_no_toobig_without_continuation(start_sluice):
    server = start_sluice(settings={"max_literal": "100K"})
    with server.login() as c:
        c.send("a1 APPEND INBOX {102401}\r\n")
        line = c.readline()
        assert line.startswith("a1 NO [TOOBIG]"), line  # no "+": nothing was sent
        assert c.cmd("NOOP").status == "OK"
        # A non-synchronizing one arrives anyway: it is read, dropped and refused.
        r = append(c, "INBOX", b"x" * 102401)
        assert r.status == "NO" and r.code() == "TOOBIG", r
        r = append(c, "INBOX", b"Subject: fits\r\n\r\n" + b"x" * (102400 - 17))
        assert r.status == "OK", r
        assert status(c, "INBOX", "MESSAGES") == {"MESSAGES": "1"}


def test_big_literal_outside_append_stays_bad(start_sluice):
    server = start_sluice(settings={"max_literal": "100K"})
    with server.login() as c:
        c.send("a1 CREATE {102401}\r\n")
        assert c.readline().startswith("a1 BAD [TOOBIG]")


# ---- LITERAL- -----------------------------------------------------------------------------

def test_literal_minus_refuses_big_nonsync_literals_and_stays_in_step(start_sluice):
    server = start_sluice(settings={"nonsync_literals": "minus"})
    with server.login() as c:
        r = append(c, "INBOX", b"Subject: big\r\n\r\n" + b"z NOOP\r\n" * 600)  # 4816 bytes
        assert r.status == "BAD" and r.code() == "TOOBIG" and "4096" in r.text, r
        assert c.cmd("NOOP").status == "OK"
        assert status(c, "INBOX", "MESSAGES") == {"MESSAGES": "0"}
        # Up to 4096 bytes a non-synchronizing literal is fine.
        assert append(c, "INBOX", b"Subject: ok\r\n\r\n" + b"y" * (4096 - 15)).status == "OK"
        # Bigger messages go as synchronizing literals, as LITERAL- asks.
        data = b"Subject: sync\r\n\r\n" + b"w" * 10000
        c.send(f"a9 APPEND INBOX {{{len(data)}}}\r\n")
        assert c.readline().startswith("+ ")
        c.send(data + b"\r\n")
        assert c.read_until_tagged("a9").status == "OK"
        assert status(c, "INBOX", "MESSAGES") == {"MESSAGES": "2"}


def test_literal_minus_applies_before_login_too(start_sluice):
    server = start_sluice(settings={"nonsync_literals": "minus"})
    with server.connect() as c:
        c.send("a1 LOGIN {5000+}\r\n" + "x" * 5000 + " demo\r\n")
        r = c.read_until_tagged("a1")
        assert r.status == "BAD" and r.code() == "TOOBIG", r
        assert c.cmd("LOGIN demo demo").status == "OK"
