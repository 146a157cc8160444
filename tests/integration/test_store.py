"""STORE and UID STORE against the real sluiced (RFC 3501 6.4.6, 6.4.8).

Besides the untagged FETCH answers, the tests look at the Maildir itself: a flag change
must rename the file to the right `:2,` letters, so mutt and mbsync see it too, and a new
session must find the flags again.
"""
import imaplib

from sluice_testlib import HOST

MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"


def put(server, name, user="demo"):
    root = server.mail_dir / user
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "cur" / name).write_bytes(MESSAGE)


def names(server):
    return sorted(p.name for p in (server.mail_dir / "demo" / "cur").iterdir())


def selected(server, count=3):
    for i in range(1, count + 1):
        put(server, f"170000000{i}.M{i}P1.test:2,")
    c = server.login()
    assert c.cmd("SELECT INBOX").status == "OK"
    return c


def test_add_remove_replace_rename_files(sluice):
    with selected(sluice) as c:
        r = c.cmd("STORE 1:2 +FLAGS (\\Seen \\Flagged)")
        assert r.status == "OK", r
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Flagged \\Seen))",
                              "* 2 FETCH (FLAGS (\\Flagged \\Seen))"], r
        assert names(sluice) == ["1700000001.M1P1.test:2,FS", "1700000002.M2P1.test:2,FS",
                                 "1700000003.M3P1.test:2,"]
        r = c.cmd("STORE 2 -FLAGS \\Seen")
        assert r.untagged == ["* 2 FETCH (FLAGS (\\Flagged))"], r
        r = c.cmd("STORE 3 FLAGS (\\Answered \\Draft \\Deleted)")
        assert r.untagged == ["* 3 FETCH (FLAGS (\\Answered \\Deleted \\Draft))"], r
        assert names(sluice) == ["1700000001.M1P1.test:2,FS", "1700000002.M2P1.test:2,F",
                                 "1700000003.M3P1.test:2,DRT"]
        r = c.cmd("STORE 1 FLAGS ()")
        assert r.untagged == ["* 1 FETCH (FLAGS ())"], r
        assert names(sluice)[0] == "1700000001.M1P1.test:2,"
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        r = c.cmd("FETCH 1:3 FLAGS")
        assert r.untagged == ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS (\\Flagged))",
                              "* 3 FETCH (FLAGS (\\Answered \\Deleted \\Draft))"], r


def test_silent_answers_nothing_but_stores(sluice):
    with selected(sluice) as c:
        r = c.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)")
        assert r.status == "OK" and r.untagged == [], r
        assert all(n.endswith(":2,S") for n in names(sluice)), names(sluice)
        r = c.cmd("STORE 2 FLAGS.SILENT (\\Flagged)")
        assert r.untagged == [] and names(sluice)[1].endswith(":2,F")


def test_keywords_are_stored_and_listed(sluice):
    with selected(sluice) as c:
        r = c.cmd("STORE 1 +FLAGS ($Forwarded Junk \\Seen)")
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen $Forwarded Junk))"], r
        assert names(sluice)[0].startswith("1700000001.M1P1.test:2,") and "P" in names(sluice)[0]
        r = c.cmd("STORE 1 -FLAGS (junk)")
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen $Forwarded))"], r
        c.cmd("STORE 2 +FLAGS (NonJunk)")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert "NonJunk" in r.untagged[0], r
        r = c.cmd("FETCH 1:2 FLAGS")
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen $Forwarded))", "* 2 FETCH (FLAGS (NonJunk))"], r


def test_uid_store_answers_with_uid_and_skips_missing(sluice):
    with selected(sluice) as c:
        r = c.cmd("UID STORE 2,3,40 +FLAGS (\\Deleted)")
        assert r.status == "OK", r
        assert r.untagged == ["* 2 FETCH (UID 2 FLAGS (\\Deleted))",
                              "* 3 FETCH (UID 3 FLAGS (\\Deleted))"], r
        r = c.cmd("UID STORE 50:60 +FLAGS (\\Deleted)")
        assert r.status == "OK" and r.untagged == [], r


def test_errors_bad_and_no(sluice):
    with selected(sluice) as c:
        for command in ("STORE 4 +FLAGS (\\Seen)", "STORE 1 +FLAGS (\\Recent)", "STORE 1 +FLAGS (\\Bogus)",
                        "STORE 1 FLAGZ (\\Seen)", "STORE 1 +FLAGS", "STORE 1 +FLAGS.LOUD (\\Seen)"):
            r = c.cmd(command)
            assert r.status == "BAD" and r.untagged == [], (command, r)
        assert names(sluice)[0].endswith(":2,")
        assert c.cmd("EXAMINE INBOX").status == "OK"
        r = c.cmd("STORE 1 +FLAGS (\\Seen)")
        assert r.status == "NO" and "read-only" in r.text, r
        assert names(sluice)[0].endswith(":2,")


def test_vanished_file_is_skipped(sluice):
    with selected(sluice) as c:
        (sluice.mail_dir / "demo" / "cur" / "1700000002.M2P1.test:2,").unlink()
        r = c.cmd("STORE 1:3 +FLAGS (\\Seen)")
        assert r.status == "OK", r
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen))", "* 3 FETCH (FLAGS (\\Seen))"], r


def test_imaplib_store(sluice):
    put(sluice, "1700000001.M1P1.test:2,")
    m = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        m.login("demo", "demo")
        m.select("INBOX")
        typ, data = m.store("1", "+FLAGS", "(\\Answered)")
        assert typ == "OK" and data == [b"1 (FLAGS (\\Answered))"], data
        typ, data = m.uid("STORE", "1", "-FLAGS.SILENT", "(\\Answered)")
        assert typ == "OK" and data == [None], data
    finally:
        m.logout()
