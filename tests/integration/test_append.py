"""APPEND with UIDPLUS's APPENDUID (RFC 3501 6.3.11, RFC 4315) against the real sluiced.

Each test appends over a real socket, then checks what IMAP reports (SELECT, STATUS,
the tagged APPENDUID) and what landed on disk: the Maildir file, its `:2,` flag letters,
its mtime (the INTERNALDATE) and its exact bytes.
"""
import imaplib
import os
import pathlib
import re
import time

import pytest

from sluice_testlib import HOST

MESSAGE = b"From: a@example.org\r\nTo: demo@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"
# 17-Jul-1996 02:44:25 -0700 is 09:44:25 UTC.
DATE = "17-Jul-1996 02:44:25 -0700"
DATE_EPOCH = 837596665


def append(c, mailbox, data, flags=None, date=None):
    """APPEND with a LITERAL+ literal; returns the Response."""
    parts = [f"APPEND {mailbox}"]
    if flags is not None:
        parts.append(f"({flags})")
    if date is not None:
        parts.append(f'"{date}"')
    tag = c.next_tag()
    c.send(f"{tag} {' '.join(parts)} {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
    return c.read_until_tagged(tag)


def appenduid(r):
    m = re.fullmatch(r"\[APPENDUID (\d+) (\d+)\] Append completed\.", r.text)
    assert r.status == "OK" and m, r
    return int(m.group(1)), int(m.group(2))


def cur_files(server, folder=""):
    return sorted((server.mail_dir / "demo" / folder / "cur").iterdir())


def test_append_with_flags_and_date_stores_letters_and_mtime(sluice):
    with sluice.login() as c:
        r = append(c, "INBOX", MESSAGE, flags="\\Seen \\Flagged", date=DATE)
        validity, uid = appenduid(r)
        assert uid == 1
        r = c.cmd("SELECT INBOX")
        assert "* 1 EXISTS" in r.untagged and "* 1 RECENT" in r.untagged, r
        assert f"* OK [UIDVALIDITY {validity}] UIDs valid." in r.untagged, r
        assert "* OK [UIDNEXT 2] Predicted next UID." in r.untagged, r
    files = cur_files(sluice)
    assert len(files) == 1 and files[0].name.endswith(":2,FS"), files
    assert int(os.stat(files[0]).st_mtime) == DATE_EPOCH
    assert files[0].read_bytes() == MESSAGE
    assert not any((sluice.mail_dir / "demo" / "tmp").iterdir())


def test_appenduid_values_count_up_and_match_uidvalidity(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Sent").status == "OK"
        v1, u1 = appenduid(append(c, "Sent", MESSAGE))
        v2, u2 = appenduid(append(c, "Sent", MESSAGE, flags=""))
        v3, u3 = appenduid(append(c, "Sent", MESSAGE, flags="$Forwarded Junk"))
        assert v1 == v2 == v3 and (u1, u2, u3) == (1, 2, 3)
        r = c.cmd("STATUS Sent (MESSAGES UIDNEXT UIDVALIDITY)")
        assert f"* STATUS Sent (MESSAGES 3 UIDNEXT 4 UIDVALIDITY {v1})" in r.untagged, r
    names = [p.name for p in cur_files(sluice, ".Sent")]
    assert sum(n.endswith(":2,") for n in names) == 2 and any(":2,P" in n for n in names), names


def test_append_to_missing_mailbox_is_trycreate_and_leaves_nothing(sluice):
    with sluice.login() as c:
        r = append(c, "Nowhere", MESSAGE)
        assert r.status == "NO" and r.code() == "TRYCREATE", r
    assert not (sluice.mail_dir / "demo" / ".Nowhere").exists()


def test_append_invalid_flags_or_date_is_bad(sluice):
    with sluice.login() as c:
        assert append(c, "INBOX", MESSAGE, flags="\\Recent").status == "BAD"
        assert append(c, "INBOX", MESSAGE, flags="\\Bogus").status == "BAD"
        assert append(c, "INBOX", MESSAGE, date="31-Feb-2020 00:00:00 +0000").status == "BAD"
        assert c.cmd('APPEND INBOX "not a literal"').status == "BAD"
        r = c.cmd("STATUS INBOX (MESSAGES)")
        assert "* STATUS INBOX (MESSAGES 0)" in r.untagged, r


def test_append_into_selected_mailbox_announces_exists(sluice):
    with sluice.login() as c:
        assert "* 0 EXISTS" in c.cmd("SELECT INBOX").untagged
        r = append(c, "INBOX", MESSAGE)
        assert r.status == "OK", r
        assert "* 1 EXISTS" in r.untagged and "* 1 RECENT" in r.untagged, r
        r = append(c, "INBOX", MESSAGE)
        assert "* 2 EXISTS" in r.untagged and "* 2 RECENT" in r.untagged, r
        assert appenduid(r)[1] == 2


def test_literal_with_crlf_and_nul_bytes_is_stored_byte_exact(sluice):
    data = b"Subject: bin\r\n\r\nline\r\n\x00\x00mid\x00\rbare\nend\r\n\xff\xfe"
    with sluice.login() as c:
        appenduid(append(c, "INBOX", data))
    files = cur_files(sluice)
    assert len(files) == 1 and files[0].read_bytes() == data


def test_synchronizing_literal_via_imaplib(sluice):
    m = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        m.login("demo", "demo")
        typ, data = m.append("INBOX", "(\\Draft)", imaplib.Time2Internaldate(DATE_EPOCH), MESSAGE)
        assert typ == "OK" and data[0].startswith(b"[APPENDUID "), data
        assert m.select("INBOX") == ("OK", [b"1"])
    finally:
        m.logout()
    assert cur_files(sluice)[0].name.endswith(":2,D")


def test_uidplus_and_move_are_advertised_after_login(sluice):
    with sluice.connect() as c:
        assert "UIDPLUS" not in c.capabilities()
        assert c.cmd("LOGIN demo demo").status == "OK"
        caps = c.capabilities()
        assert {"UIDPLUS", "MOVE"} <= caps, caps


# ---- big messages: streamed to a spool file, never held whole in memory ----------------

BIG = 5 << 20


def big_message(size=BIG):
    """A message of `size` bytes with every byte value in its body, CR/LF/NUL included."""
    head = b"From: a@example.org\r\nSubject: big\r\n\r\n"
    body = bytes((i * 7 + i // 251) & 0xFF for i in range(65536))
    data = head + body * (size // len(body) + 1)
    return data[:size]


def vm_rss_kib(server):
    for line in pathlib.Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_slowly(c, data, chunk=65536, pause=0.002):
    for i in range(0, len(data), chunk):
        c.send(data[i:i + chunk])
        time.sleep(pause)


def stream_append(server, c, data, nonsync):
    """APPENDs data sent slowly in chunks; returns (Response, RSS growth in KiB at half)."""
    tag = c.next_tag()
    c.send(f"{tag} APPEND INBOX {{{len(data)}{'+' if nonsync else ''}}}\r\n".encode())
    if not nonsync:
        assert c.readline().startswith("+ "), "no continuation"
    before = vm_rss_kib(server)
    half = len(data) // 2
    send_slowly(c, data[:half])
    time.sleep(0.5)  # let the server take in what was sent
    growth = vm_rss_kib(server) - before
    send_slowly(c, data[half:])
    c.send(b"\r\n")
    return c.read_until_tagged(tag, timeout=60), growth


@pytest.mark.parametrize("nonsync", [False, True], ids=["sync", "nonsync"])
def test_big_append_is_streamed_byte_exact_with_small_memory(sluice, nonsync):
    data = big_message()
    with sluice.login() as c:
        # Warm up the session's buffers and the storage with one small streamed APPEND.
        appenduid(append(c, "INBOX", big_message(100000)))
        r, growth = stream_append(sluice, c, data, nonsync)
        assert appenduid(r)[1] == 2
        assert growth < 2048, f"RSS grew by {growth} KiB while half of {BIG} bytes arrived"
        r = c.cmd("SELECT INBOX")
        assert "* 2 EXISTS" in r.untagged, r
    files = [p for p in cur_files(sluice) if p.stat().st_size == len(data)]
    assert len(files) == 1 and files[0].read_bytes() == data
    assert not any((sluice.mail_dir / "demo" / "tmp").iterdir())


def test_big_append_fetch_body_returns_the_bytes(sluice):
    # Text lines: FETCH sends bare LFs as CRLF, which is not what this test is about.
    lines = b"".join(b"line %06d of a big message\r\n" % i for i in range(12000))
    data = b"From: a@example.org\r\nSubject: big\r\n\r\n" + lines
    with sluice.login() as c:
        appenduid(append(c, "INBOX", data))
        assert c.cmd("SELECT INBOX").status == "OK"
        tag = c.next_tag()
        c.send(f"{tag} FETCH 1 BODY.PEEK[]\r\n")
        head = c.readline()
        m = re.fullmatch(r"\* 1 FETCH \(BODY\[\] \{(\d+)\}", head)
        assert m and int(m.group(1)) == len(data), head
        while len(c.buf) < len(data):
            c._fill(time.monotonic() + 30)
        assert c.buf[:len(data)] == data
        c.buf = c.buf[len(data):]
        assert c.read_until_tagged(tag).status == "OK"


def test_disconnect_during_streamed_append_leaves_nothing(sluice):
    data = big_message(1 << 20)
    with sluice.login() as c:
        c.send(f"a1 APPEND INBOX {{{len(data)}+}}\r\n".encode() + data[:len(data) // 2])
        time.sleep(0.3)
    sluice.wait_for_log("disconnect", "client closed")
    box = sluice.mail_dir / "demo"
    for sub in ("tmp", "cur", "new"):
        assert not any((box / sub).iterdir()), sub
    with sluice.login() as c:
        r = c.cmd("STATUS INBOX (MESSAGES)")
        assert "* STATUS INBOX (MESSAGES 0)" in r.untagged, r


def test_streamed_literal_in_wrong_place_or_bad_command_keeps_session_in_step(sluice):
    big = big_message(100000)
    with sluice.login() as c:
        tag = c.next_tag()
        c.send(f"{tag} APPEND {{{len(big)}+}}\r\n".encode() + big + b" {3+}\r\nabc\r\n")
        r = c.read_until_tagged(tag)
        assert r.status == "BAD" and r.code() == "TOOBIG", r
        tag = c.next_tag()
        c.send(f"{tag} APPEND INBOX {{{len(big)}+}}\r\n".encode() + big + b"junk\r\n")
        assert c.read_until_tagged(tag).status == "BAD"
        assert c.cmd("NOOP").status == "OK"
        r = c.cmd("STATUS INBOX (MESSAGES)")
        assert "* STATUS INBOX (MESSAGES 0)" in r.untagged, r
