"""APPEND with UIDPLUS's APPENDUID (RFC 3501 6.3.11, RFC 4315) against the real sluiced.

Each test appends over a real socket, then checks what IMAP reports (SELECT, STATUS,
the tagged APPENDUID) and what landed on disk: the Maildir file, its `:2,` flag letters,
its mtime (the INTERNALDATE) and its exact bytes.
"""
import imaplib
import os
import re

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
