"""The LMDB index is a cache: deleting it loses no mail, no flags and no keywords.

The Maildir holds the messages, their flags (file name letters) and keywords (letters
mapped by dovecot-keywords); a rebuilt index must show all of them again, under a new
UIDVALIDITY since the old UIDs cannot be recovered from a plain Maildir.
"""
import re
import shutil


def _uidvalidity(r):
    for line in r.untagged:
        m = re.match(r"\* OK \[UIDVALIDITY (\d+)\]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(r)


def test_deleting_the_index_keeps_mail_flags_and_keywords(sluice):
    with sluice.login() as c:
        for subject in ("first", "second"):
            msg = f"Subject: {subject}\r\n\r\nbody\r\n"
            c.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n{msg}\r\n")
            assert c.read_until_tagged("a").status == "OK"
        r = c.cmd("SELECT INBOX")
        before = _uidvalidity(r)
        assert c.cmd("STORE 1 +FLAGS (\\Seen \\Flagged $Label1)").status == "OK"
        assert c.cmd("STORE 2 +FLAGS (\\Answered)").status == "OK"
        c.cmd("LOGOUT")

    index = sluice.dir / "index" / "demo"
    assert index.is_dir(), list(sluice.dir.iterdir())
    shutil.rmtree(index)

    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert "* 2 EXISTS" in r.untagged, r
        assert _uidvalidity(r) != before, "a rebuilt index must announce a new UIDVALIDITY"
        r = c.cmd("FETCH 1:2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        text = "\n".join(r.untagged)
        assert "\\Seen" in text and "\\Flagged" in text and "$Label1" in text, text
        assert "\\Answered" in text, text
        assert "Subject: first" in text and "Subject: second" in text, text
    assert index.is_dir(), "the index was not rebuilt"
