"""FETCH and UID FETCH against the real sluiced (RFC 3501 6.4.5, 6.4.8, 7.4.2).

Messages are written straight into mail/demo/cur/ as a delivery agent or mbsync would:
CRLF and bare-LF files, a multipart/alternative with an attachment, a message/rfc822
inside a multipart, an 8-bit header and a body holding a NUL byte. Responses are read as
bytes with their literals, so sizes and line ends are checked exactly.
"""
import imaplib
import re
import time

from sluice_testlib import HOST, READ_TIMEOUT

SIMPLE = (b"From: Alice <alice@example.org>\r\nTo: demo@example.org\r\nSubject: hi\r\n"
          b"Date: Mon, 13 Nov 2023 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello.\r\n")
SIMPLE_ENVELOPE = ('("Mon, 13 Nov 2023 10:00:00 +0000" "hi" (("Alice" NIL "alice" "example.org")) '
                   '(("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
                   '((NIL NIL "demo" "example.org")) NIL NIL NIL "<1@example.org>")')
SIMPLE_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 1)'
SIMPLE_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 1 NIL NIL NIL NIL)'

BARE_LF = b"From: bob@example.org\nSubject: lf only\n\nline one\nline two\n"

ALTERNATIVE = b"""From: carol@example.org\r
Subject: with attachment\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="outer"\r
\r
--outer\r
Content-Type: multipart/alternative; boundary="inner"\r
\r
--inner\r
Content-Type: text/plain; charset=utf-8\r
\r
plain text\r
--inner\r
Content-Type: text/html; charset=utf-8\r
\r
<p>html</p>\r
--inner--\r
--outer\r
Content-Type: application/pdf; name="a.pdf"\r
Content-Disposition: attachment; filename="a.pdf"\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0xLjQK\r
--outer--\r
"""

FORWARD = b"""From: dave@example.org\r
Subject: fwd\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="b"\r
\r
--b\r
Content-Type: text/plain\r
\r
see below\r
--b\r
Content-Type: message/rfc822\r
\r
From: eve@example.org\r
Subject: inner\r
\r
inner body\r
--b--\r
"""

EIGHT_BIT = "From: frank@example.org\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()
WITH_NUL = b"From: nul@example.org\r\nSubject: nul\r\n\r\nbefore\x00after\r\n"


def put(server, name, data, user="demo"):
    root = server.mail_dir / user
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    path = root / "cur" / name
    path.write_bytes(data)
    return path


def put_all(server):
    put(server, "1700000001.M1P1.test:2,", SIMPLE)
    put(server, "1700000002.M2P1.test:2,", BARE_LF)
    put(server, "1700000003.M3P1.test:2,", ALTERNATIVE)
    put(server, "1700000004.M4P1.test:2,", FORWARD)
    put(server, "1700000005.M5P1.test:2,", EIGHT_BIT)
    put(server, "1700000006.M6P1.test:2,", WITH_NUL)


def raw(c, text):
    """Send a command; return (untagged responses as bytes with literals inlined, tagged line)."""
    tag = c.next_tag()
    c.send(f"{tag} {text}\r\n")
    deadline = time.monotonic() + READ_TIMEOUT
    out = []
    while True:
        full = b""
        while True:
            while b"\r\n" not in c.buf:
                c._fill(deadline)
            line, c.buf = c.buf.split(b"\r\n", 1)
            full += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                break
            n = int(m.group(1))
            while len(c.buf) < n:
                c._fill(deadline)
            full += b"\r\n" + c.buf[:n]
            c.buf = c.buf[n:]
        if full.startswith(tag.encode() + b" "):
            return out, full.decode("utf-8", "replace")
        out.append(full)


def literal(resp, item):
    """The bytes of `item {n}` in a FETCH response."""
    at = resp.index(item.encode() + b" {")
    m = re.match(rb"\{(\d+)\}\r\n", resp[at + len(item) + 1:])
    start = at + len(item) + 1 + m.end()
    return resp[start:start + int(m.group(1))]


def fetch1(c, seq, items, uid=False):
    lines, tagged = raw(c, f"{'UID ' if uid else ''}FETCH {seq} {items}")
    assert " OK " in tagged, (lines, tagged)
    assert len(lines) == 1, lines
    return lines[0]


def selected(server):
    c = server.login()
    r = c.cmd("SELECT INBOX")
    assert r.status == "OK", r
    return c


def test_simple_message_envelope_body_bodystructure_exact(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        line = fetch1(c, "1", "(UID RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)").decode()
        assert line == (f"* 1 FETCH (UID 1 RFC822.SIZE {len(SIMPLE)} ENVELOPE {SIMPLE_ENVELOPE} "
                        f"BODY {SIMPLE_BODY} BODYSTRUCTURE {SIMPLE_BODYSTRUCTURE})"), line
        # Answered again from the index, identically.
        assert fetch1(c, "1", "(UID RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)").decode() == line


def test_macros_and_internaldate(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        fast = fetch1(c, "1", "FAST").decode()
        assert re.fullmatch(r'\* 1 FETCH \(FLAGS \(\) INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} '
                            rf'\d\d:\d\d:\d\d [+-]\d{{4}}" RFC822.SIZE {len(SIMPLE)}\)', fast), fast
        assert f"ENVELOPE {SIMPLE_ENVELOPE})" in fetch1(c, "1", "ALL").decode()
        assert fetch1(c, "1", "FULL").decode().endswith(f"BODY {SIMPLE_BODY})")


def test_bare_lf_is_sent_as_crlf_and_sizes_agree(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "2", "(RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] BODYSTRUCTURE)")
        whole = literal(resp, "BODY[]")
        assert whole == BARE_LF.replace(b"\n", b"\r\n")
        assert f"RFC822.SIZE {len(whole)} ".encode() in resp
        assert literal(resp, "BODY[TEXT]") == b"line one\r\nline two\r\n"
        assert b'"7BIT" 20 2 ' in resp  # body size counted on the CRLF form


def test_rfc822_items(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "2", "(RFC822.HEADER RFC822.TEXT RFC822)")
        assert literal(resp, "RFC822.HEADER") == b"From: bob@example.org\r\nSubject: lf only\r\n\r\n"
        assert literal(resp, "RFC822.TEXT") == b"line one\r\nline two\r\n"
        assert literal(resp, "RFC822") == BARE_LF.replace(b"\n", b"\r\n")


def test_sections_header_fields_parts_mime_and_partial(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "3", "(BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[1] BODY.PEEK[2.MIME] "
                      "BODY.PEEK[1.2] BODY.PEEK[TEXT]<0.10> BODY.PEEK[] RFC822.SIZE)")
        assert literal(resp, "BODY[HEADER.FIELDS (From Subject)]") == \
            b"From: carol@example.org\r\nSubject: with attachment\r\n\r\n"
        part1 = literal(resp, "BODY[1]")
        assert part1.startswith(b"--inner\r\n") and part1.endswith(b"--inner--")
        assert literal(resp, "BODY[2.MIME]") == (b'Content-Type: application/pdf; name="a.pdf"\r\n'
                                                 b'Content-Disposition: attachment; filename="a.pdf"\r\n'
                                                 b"Content-Transfer-Encoding: base64\r\n\r\n")
        assert literal(resp, "BODY[1.2]") == b"<p>html</p>"
        assert literal(resp, "BODY[TEXT]<0>") == b"--outer\r\nC"
        assert f"RFC822.SIZE {len(literal(resp, 'BODY[]'))}".encode() in resp
        assert literal(resp, "BODY[]") == ALTERNATIVE
        bs = fetch1(c, "3", "BODYSTRUCTURE").decode()
        assert '(("text" "plain" ("charset" "utf-8")' in bs and '"alternative"' in bs, bs
        assert '("attachment" ("filename" "a.pdf"))' in bs and '"mixed" ("boundary" "outer")' in bs, bs


def test_message_rfc822_part(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "4", "(BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODYSTRUCTURE)")
        assert literal(resp, "BODY[2]") == b"From: eve@example.org\r\nSubject: inner\r\n\r\ninner body"
        assert literal(resp, "BODY[2.HEADER]") == b"From: eve@example.org\r\nSubject: inner\r\n\r\n"
        assert literal(resp, "BODY[2.TEXT]") == b"inner body"
        assert b'("message" "rfc822" NIL NIL NIL "7BIT" ' in resp
        assert b'(NIL "inner" ((NIL NIL "eve" "example.org"))' in resp


def test_eight_bit_header_is_a_literal_in_envelope(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "5", "ENVELOPE")
        subject = "Grüße".encode()
        assert b"{%d}\r\n%s" % (len(subject), subject) in resp, resp


def test_nul_byte_is_sent_as_is_in_a_literal(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "6", "(BODY.PEEK[TEXT] RFC822.SIZE)")
        assert literal(resp, "BODY[TEXT]") == b"before\x00after\r\n"
        assert f"RFC822.SIZE {len(WITH_NUL)}".encode() in resp


def test_peek_keeps_unseen_and_body_sets_seen(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        resp = fetch1(c, "1", "BODY.PEEK[]")
        assert b"FLAGS" not in resp
        assert list((sluice.mail_dir / "demo" / "cur").glob("1700000001.M1P1.test:2,")), "renamed by PEEK"
        resp = fetch1(c, "1", "BODY[TEXT]")
        assert literal(resp, "BODY[TEXT]") == b"Hello.\r\n"
        assert resp.endswith(b" FLAGS (\\Seen))"), resp
        assert (sluice.mail_dir / "demo" / "cur" / "1700000001.M1P1.test:2,S").exists()
        # Already seen: no FLAGS the second time.
        assert b"FLAGS" not in fetch1(c, "1", "BODY[TEXT]")
        assert fetch1(c, "2", "(FLAGS RFC822.TEXT)").startswith(b"* 2 FETCH (FLAGS (\\Seen) ")


def test_examine_never_sets_seen(sluice):
    put_all(sluice)
    with sluice.login() as c:
        assert c.cmd("EXAMINE INBOX").status == "OK"
        resp = fetch1(c, "1", "(BODY[] FLAGS)")
        assert resp.endswith(b"FLAGS ())"), resp
        assert (sluice.mail_dir / "demo" / "cur" / "1700000001.M1P1.test:2,").exists()


def test_uid_fetch_includes_uid_and_skips_missing_uids(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        lines, tagged = raw(c, "UID FETCH 2,5:7,100 FLAGS")
        assert "OK" in tagged, tagged
        assert [l.decode() for l in lines] == ["* 2 FETCH (UID 2 FLAGS ())",
                                              "* 5 FETCH (UID 5 FLAGS ())",
                                              "* 6 FETCH (UID 6 FLAGS ())"]
        lines, tagged = raw(c, "UID FETCH 200:* (FLAGS UID)")
        assert lines == [b"* 6 FETCH (FLAGS () UID 6)"], lines  # 200:* means 6:200


def test_out_of_range_and_bad_items_are_bad(sluice):
    put_all(sluice)
    with selected(sluice) as c:
        for command in ("FETCH 7 FLAGS", "FETCH 1:9 FLAGS", "FETCH 0 FLAGS", "FETCH 1 (FLAGS BOGUS)",
                        "FETCH 1 ()", "FETCH 1 BODY[HEADER.FIELDS]", "FETCH 1 BODY[TEXT]<0.0>",
                        "FETCH 1 (FLAGS ALL)"):
            lines, tagged = raw(c, command)
            assert tagged.split()[1] == "BAD" and lines == [], (command, tagged, lines)
        _, tagged = raw(c, "FETCH 1 (FLAGS BOGUS)")
        assert "BOGUS" in tagged and "ENVELOPE" in tagged, tagged
        assert c.cmd("UNSELECT").status == "OK"
        assert c.cmd("FETCH 1 FLAGS").status == "BAD"
        with sluice.login() as c2:
            assert c2.cmd("SELECT INBOX").status == "OK"


def test_empty_mailbox_star_is_bad_but_uid_star_is_empty(sluice):
    with selected(sluice) as c:
        assert raw(c, "FETCH 1:* FLAGS")[1].split()[1] == "BAD"
        lines, tagged = raw(c, "UID FETCH 1:* FLAGS")
        assert lines == [] and tagged.split()[1] == "OK", tagged


def test_warm_index_answers_metadata_without_reading_files(start_sluice):
    server = start_sluice(settings={"log_level": "debug"})
    put_all(server)
    items = "(FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)"
    with selected(server) as c:
        first, _ = raw(c, f"FETCH 1:* {items}")
        assert len(first) == 6
        server.wait_for_log("FETCH on INBOX opened 6 message files")
        # Rewrite a file's bytes in place (its name and the directory stay as they are):
        # only a cache can still answer with the old subject.
        put(server, "1700000001.M1P1.test:2,", SIMPLE.replace(b"Subject: hi", b"Subject: changed"))
        mark = len(server.log())
        second, _ = raw(c, f"FETCH 1:* {items}")
        assert second == first
        server.wait_for_log("FETCH on INBOX opened 0 message files", after=mark)
    with selected(server) as c:
        assert b'"hi"' in fetch1(c, "1", "ENVELOPE")


def test_imaplib_fetch_and_uid_fetch(sluice):
    put_all(sluice)
    m = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        m.login("demo", "demo")
        assert m.select("INBOX") == ("OK", [b"6"])
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0][1] == b"Subject: hi\r\n\r\n", data
        typ, data = m.uid("FETCH", "3", "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == ALTERNATIVE, data
        assert b"UID 3" in data[0][0] and f"RFC822.SIZE {len(ALTERNATIVE)}".encode() in data[0][0]
    finally:
        m.logout()


def test_broken_mime_is_stored_faithfully_and_fetched_without_crashing(sluice):
    # 100 levels of nested multiparts, then a part whose boundary is never closed.
    nested = "".join(f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n"
                     for i in range(100))
    deep = ("Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + nested +
            "--b100\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n")
    open_ended = ("Subject: open\r\nContent-Type: multipart/alternative; boundary=zz\r\n\r\n"
                  "--zz\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n")
    with sluice.login() as c:
        for msg in (deep, open_ended):
            c.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n{msg}\r\n")
            assert c.read_until_tagged("a").status == "OK"
        c.cmd("SELECT INBOX")
        r = c.cmd("FETCH 1:2 (BODYSTRUCTURE ENVELOPE RFC822.SIZE)")
        assert r.status == "OK" and len([l for l in r.untagged if " FETCH " in l]) == 2, r
        for n, msg in ((1, deep), (2, open_ended)):
            r = c.cmd(f"FETCH {n} BODY.PEEK[]")
            assert r.status == "OK", r
            assert f"{{{len(msg)}}}" in r.untagged[0], r.untagged[0][:80]
        assert c.cmd("NOOP").status == "OK"
