"""SEARCH and UID SEARCH against the real sluiced.

Five messages are put into the demo user's Maildir the way a delivery agent or mutt would
(files in cur/ with flags in their names, modification times as INTERNALDATE): plain text,
a base64 body with a unique word, a quoted-printable ISO-8859-1 body with umlauts, RFC 2047
encoded subjects, and one stored with bare LF line ends. The first message is expunged
before the tests search, so sequence numbers and UIDs differ by one and UID SEARCH can be
told apart from SEARCH.
"""
import calendar
import imaplib
import os
import time

from sluice_testlib import HOST


def ts(day):
    """Seconds since the epoch of a UTC time written as '2024-01-05 12:00'."""
    return calendar.timegm(time.strptime(day, "%Y-%m-%d %H:%M"))


GONE = ("1699000000.M0P1.test:2,S", "2023-11-01 12:00", b"Subject: gone\r\n\r\ngone\r\n")

MESSAGES = [
    # seq 1, UID 2: seen
    ("1700000001.M1P1.test:2,S", "2023-11-14 12:00",
     b"From: Alice Example <alice@example.org>\r\n"
     b"To: demo@example.org\r\n"
     b"Subject: Lunch plans\r\n"
     b"Date: Tue, 14 Nov 2023 11:00:00 +0000\r\n"
     b"\r\n"
     b"Shall we meet at noon?\r\n"),
    # seq 2, UID 3: flagged and seen; RFC 2047 subject, base64 body
    ("1700000002.M2P1.test:2,FS", "2023-11-20 09:30",
     b"From: Bob <bob@example.net>\r\n"
     b"To: demo@example.org\r\n"
     b"Subject: =?utf-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\n"
     b"Date: Mon, 20 Nov 2023 09:00:00 +0100\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"\r\n"
     b"VGhlIHBhc3N3b3JkIGlzIHh5bG9waG9uaWMsIGRvIG5vdCB0ZWxsLgo=\r\n"),
    # seq 3, UID 4: deleted; quoted-printable ISO-8859-1 body, large
    ("1700000003.M3P1.test:2,T", "2024-01-05 23:30",
     b"From: Carol <carol@example.com>\r\n"
     b"To: demo@example.org\r\n"
     b"Subject: Report\r\n"
     b"X-Priority: 1 (Highest)\r\n"
     b"Date: Fri, 5 Jan 2024 23:30:00 -0500\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=iso-8859-1\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n"
     b"\r\n"
     b"Sch=F6ne Gr=FC=DFe aus K=F6ln.\r\n" + b"padding line\r\n" * 300),
    # seq 4, UID 5: no flags, bare LF line ends
    ("1700000004.M4P1.test:2,", "2024-02-01 08:00",
     b"From: Dave <dave@example.org>\n"
     b"To: demo@example.org\n"
     b"Cc: Alice Example <alice@example.org>\n"
     b"Subject: Re: Lunch plans\n"
     b"Date: Thu, 1 Feb 2024 08:00:00 +0000\n"
     b"\n"
     b"Noon is fine.\n"),
]

BARE_LF_SIZE = len(MESSAGES[3][2]) + MESSAGES[3][2].count(b"\n")


def put(server, name, when, data):
    cur = server.mail_dir / "demo" / "cur"
    for sub in ("cur", "new", "tmp"):
        (server.mail_dir / "demo" / sub).mkdir(parents=True, exist_ok=True)
    path = cur / name
    path.write_bytes(data)
    os.utime(path, (ts(when), ts(when)))
    return path


def selected(server):
    """A logged-in connection with INBOX selected: four messages, UIDs 2 to 5."""
    gone = put(server, *GONE)
    for m in MESSAGES:
        put(server, *m)
    c = server.login()
    assert c.cmd("SELECT INBOX").status == "OK"
    gone.unlink()
    r = c.cmd("SELECT INBOX")
    assert r.status == "OK" and "* 4 EXISTS" in r.untagged, r
    return c


def search(c, args, uid=False):
    r = c.cmd(("UID SEARCH " if uid else "SEARCH ") + args)
    assert r.status == "OK" and r.text == "Search completed.", r
    lines = [line for line in r.untagged if line.startswith("* SEARCH")]
    assert len(lines) == 1 and len(r.untagged) == 1, r
    return [int(n) for n in lines[0].split()[2:]]


def search_literal(c, prefix, text, uid=False):
    """SEARCH with a synchronizing literal holding UTF-8 text as its last argument."""
    data = text.encode()
    tag = c.next_tag()
    c.send(f"{tag} {'UID ' if uid else ''}SEARCH {prefix} {{{len(data)}}}\r\n")
    assert c.readline().startswith("+ ")
    c.send(data + b"\r\n")
    r = c.read_until_tagged(tag)
    assert r.status == "OK", r
    return [int(n) for n in r.untagged[0].split()[2:]]


def test_flag_keys_or_and_not(sluice):
    with selected(sluice) as c:
        assert search(c, "ALL") == [1, 2, 3, 4]
        assert search(c, "SEEN") == [1, 2]
        assert search(c, "UNSEEN") == [3, 4]
        assert search(c, "FLAGGED") == [2]
        assert search(c, "DELETED") == [3]
        assert search(c, "UNDELETED UNSEEN") == [4]
        assert search(c, "OR FLAGGED DELETED") == [2, 3]
        assert search(c, "NOT (OR SEEN DELETED)") == [4]
        assert search(c, "NOT SEEN NOT DELETED") == [4]
        assert search(c, "ANSWERED") == []
        assert search(c, "2:3 SEEN") == [2]
        assert search(c, "*") == [4]


def test_uid_search_answers_uids_and_uid_key_takes_uids(sluice):
    with selected(sluice) as c:
        assert search(c, "SEEN", uid=True) == [2, 3]
        assert search(c, "UID 3:*") == [2, 3, 4]
        assert search(c, "UID 3:*", uid=True) == [3, 4, 5]
        assert search(c, "UID 1") == []
        assert search(c, "1:2", uid=True) == [2, 3]  # sequence numbers stay sequence numbers
        assert search(c, "UID 100:*", uid=True) == [5]  # 100:* is 5:100


def test_header_keys_match_decoded_values_case_insensitively(sluice):
    with selected(sluice) as c:
        assert search(c, "FROM alice") == [1]
        assert search(c, "FROM ALICE@EXAMPLE.ORG") == [1]
        assert search(c, "CC alice") == [4]
        assert search(c, "TO demo") == [1, 2, 3, 4]
        assert search(c, "BCC demo") == []
        assert search(c, 'SUBJECT "lunch PLANS"') == [1, 4]
        assert search_literal(c, "CHARSET UTF-8 SUBJECT", "GRÜßE AUS MÜNCHEN") == [2]
        assert search_literal(c, "CHARSET UTF-8 SUBJECT", "grüße aus münchen") == [2]
        assert search(c, 'HEADER X-Priority ""') == [3]
        assert search(c, "HEADER x-priority highest") == [3]
        assert search(c, 'HEADER X-Missing ""') == []


def test_body_and_text_match_decoded_base64_and_quoted_printable(sluice):
    with selected(sluice) as c:
        assert search(c, "BODY xylophonic") == [2]
        assert search(c, "BODY XYLOPHONIC") == [2]
        assert search_literal(c, "CHARSET UTF-8 BODY", "KÖLN") == [3]
        assert search_literal(c, "CHARSET UTF-8 BODY", "schöne grüße") == [3]
        assert search(c, "BODY noon") == [1, 4]
        assert search(c, "BODY alice") == []  # in a header only
        assert search(c, "TEXT alice") == [1, 4]
        assert search(c, "TEXT xylophonic") == [2]
        assert search(c, "FLAGGED BODY noon") == []


def test_internal_and_sent_dates(sluice):
    with selected(sluice) as c:
        assert search(c, "SINCE 1-Jan-2024") == [3, 4]
        assert search(c, "BEFORE 20-Nov-2023") == [1]
        assert search(c, "ON 20-Nov-2023") == [2]
        assert search(c, 'ON "5-Jan-2024"') == [3]
        assert search(c, "SENTSINCE 1-Jan-2024") == [3, 4]
        assert search(c, "SENTON 5-Jan-2024") == [3]  # 23:30 -0500 is the 6th in UTC
        assert search(c, "SENTBEFORE 15-Nov-2023") == [1]
        assert search(c, "OR SENTON 20-Nov-2023 ON 1-Feb-2024") == [2, 4]


def test_larger_and_smaller_use_rfc822_size(sluice):
    with selected(sluice) as c:
        assert search(c, "LARGER 3000") == [3]
        assert search(c, "SMALLER 3000") == [1, 2, 4]
        # A bare LF counts as the CRLF a client receives.
        assert search(c, f"LARGER {BARE_LF_SIZE - 1} SMALLER {BARE_LF_SIZE + 1}") == [4]


def test_charset_and_syntax_errors(sluice):
    with selected(sluice) as c:
        assert search(c, "CHARSET US-ASCII FROM bob") == [2]
        r = c.cmd("SEARCH CHARSET ISO-8859-1 FROM bob")
        assert r.status == "NO" and r.text.startswith("[BADCHARSET (US-ASCII UTF-8)] "), r
        assert r.untagged == [], r
        for bad in ("SEARCH", "SEARCH FOO", "SEARCH FROM", "SEARCH BEFORE 32-Jan-2024",
                    "SEARCH OR SEEN", "SEARCH LARGER big", "SEARCH 1,$", "UID SEARCH UID x",
                    "SEARCH RETURN (BOGUS) ALL", "SEARCH RETURN (ALL)"):
            r = c.cmd(bad)
            assert r.status == "BAD" and r.untagged == [], (bad, r)
            assert r.text.endswith("."), r
        r = c.cmd("SEARCH (SEEN")  # the command parser's BAD
        assert r.status == "BAD" and r.untagged == [], r
        # The session is still usable.
        assert search(c, "SEEN") == [1, 2]


def test_search_needs_a_selected_mailbox(sluice):
    with sluice.login() as c:
        r = c.cmd("SEARCH ALL")
        assert r.status == "BAD", r


def test_empty_mailbox_and_star(sluice):
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        assert search(c, "ALL") == []
        assert search(c, "1:*") == []
        assert search(c, "UID 1:*", uid=True) == []


def test_imaplib_client_searches(sluice):
    gone = put(sluice, *GONE)
    gone.unlink()
    for m in MESSAGES:
        put(sluice, *m)
    client = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        client.login("demo", "demo")
        client.select("INBOX")
        assert client.search(None, "UNSEEN") == ("OK", [b"3 4"])
        assert client.uid("SEARCH", "FROM", '"carol"') == ("OK", [b"3"])
        client.literal = "Köln".encode()
        assert client.search("UTF-8", "BODY") == ("OK", [b"3"])
        client.logout()
    finally:
        try:
            client.shutdown()
        except OSError:
            pass


def test_message_removed_after_select_matches_only_view_keys(sluice):
    with selected(sluice) as c:
        (sluice.mail_dir / "demo" / "cur" / MESSAGES[2][0]).unlink()
        # Flags come from the session's view; the file is not needed and not missed.
        assert search(c, "DELETED") == [3]
        # Keys that need the file simply do not match a message that is gone.
        assert search(c, "OR SUBJECT report BODY noon") == [1, 4]
        assert search(c, "NOT BODY noon") == [2]
