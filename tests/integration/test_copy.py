"""COPY, UID COPY, MOVE and UID MOVE (RFC 3501 6.4.7, RFC 4315 COPYUID, RFC 6851).

Messages are put in place with APPEND; the tests check the tagged and untagged answers
and the files: a copy is a hard link to the source (same inode, two links), keeps the
flag letters and the mtime (the INTERNALDATE).
"""
import os
import re
import time

from test_append import MESSAGE, DATE, DATE_EPOCH, append, appenduid


def copyuid(text):
    m = re.search(r"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", text)
    assert m, text
    return int(m.group(1)), m.group(2), m.group(3)


def files(server, folder):
    return sorted((server.mail_dir / "demo" / folder / "cur").iterdir())


def test_copy_keeps_flags_and_date_as_a_hard_link(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Archive").status == "OK"
        appenduid(append(c, "INBOX", MESSAGE, flags="\\Seen \\Answered $Forwarded", date=DATE))
        validity, _ = appenduid(append(c, "Archive", MESSAGE))  # Archive has UID 1 taken
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("COPY 1 Archive")
        assert r.status == "OK" and r.untagged == [], r
        assert copyuid(r.text) == (validity, "1", "2")
        assert r.text.endswith("] Copy completed.")
    src = files(sluice, "")[0]
    dst = [p for p in files(sluice, ".Archive") if p.name.endswith(":2,PRS")]
    assert len(dst) == 1, files(sluice, ".Archive")
    s, d = os.stat(src), os.stat(dst[0])
    assert s.st_ino == d.st_ino and d.st_nlink == 2
    assert int(d.st_mtime) == DATE_EPOCH


def test_copyuid_pairs_sets_in_order_and_uid_copy_skips_missing_uids(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Dest").status == "OK"
        for _ in range(5):
            appenduid(append(c, "INBOX", MESSAGE))
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("COPY 1:2,4 Dest")
        v, src, dst = copyuid(r.text)
        assert (src, dst) == ("1:2,4", "1:3"), r
        r = c.cmd("UID COPY 3,5,99 Dest")
        assert copyuid(r.text)[1:] == ("3,5", "4:5"), r
        r = c.cmd("UID COPY 100:200 Dest")
        assert r.status == "OK" and "COPYUID" not in r.text, r
        r = c.cmd("STATUS Dest (MESSAGES UIDNEXT)")
        assert "* STATUS Dest (MESSAGES 5 UIDNEXT 6)" in r.untagged, r


def test_copy_errors(sluice):
    with sluice.login() as c:
        appenduid(append(c, "INBOX", MESSAGE))
        assert c.cmd("COPY 1 INBOX").status == "BAD"  # nothing selected
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("COPY 1 Nowhere")
        assert r.status == "NO" and r.code() == "TRYCREATE", r
        assert c.cmd("COPY 2 INBOX").status == "BAD"
        assert c.cmd("COPY x INBOX").status == "BAD"


def test_copy_into_the_selected_mailbox_announces_exists(sluice):
    with sluice.login() as c:
        appenduid(append(c, "INBOX", MESSAGE))
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("COPY 1 INBOX")
        assert r.status == "OK" and "* 2 EXISTS" in r.untagged, r
        assert copyuid(r.text)[1:] == ("1", "2")


def test_move_removes_sources_with_expunge_responses(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Trash").status == "OK"
        for _ in range(4):
            appenduid(append(c, "INBOX", MESSAGE))
        r = c.cmd("SELECT INBOX")
        validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(r.untagged)).group(1))
        r = c.cmd("MOVE 2,4 Trash")
        assert r.status == "OK" and r.text == "Move completed.", r
        assert re.fullmatch(r"\* OK \[COPYUID \d+ 2,4 1:2\] .*", r.untagged[0]), r
        assert r.untagged[1:] == ["* 4 EXPUNGE", "* 2 EXPUNGE"], r
        r = c.cmd("UID MOVE 3 Trash")
        assert r.untagged[1:] == ["* 2 EXPUNGE"], r
        r = c.cmd("STATUS Trash (MESSAGES)")
        assert "* STATUS Trash (MESSAGES 3)" in r.untagged, r
        r = c.cmd("SELECT INBOX")
        assert "* 1 EXISTS" in r.untagged, r
        assert f"* OK [UIDVALIDITY {validity}] UIDs valid." in r.untagged
    assert len(files(sluice, "")) == 1 and len(files(sluice, ".Trash")) == 3
    assert all(os.stat(p).st_nlink == 1 for p in files(sluice, ".Trash"))


def test_move_out_of_examined_mailbox_is_no(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Trash").status == "OK"
        appenduid(append(c, "INBOX", MESSAGE))
        assert c.cmd("EXAMINE INBOX").status == "OK"
        assert c.cmd("MOVE 1 Trash").status == "NO"
        assert c.cmd("COPY 1 Trash").status == "OK"


def test_copy_of_10000_messages_is_fast(sluice):
    cur = sluice.mail_dir / "demo" / "cur"
    for sub in ("cur", "new", "tmp"):
        (sluice.mail_dir / "demo" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(10000):
        p = cur / f"1700000000.M{i}P1Q1.host:2,S"
        p.write_bytes(MESSAGE)
        os.utime(p, (1700000000 + i, 1700000000 + i))
    with sluice.login() as c:
        assert c.cmd("CREATE Big").status == "OK"
        r = c.cmd("SELECT INBOX", timeout=60)
        assert "* 10000 EXISTS" in r.untagged, r
        start = time.monotonic()
        r = c.cmd("COPY 1:* Big", timeout=60)
        elapsed = time.monotonic() - start
        assert r.status == "OK" and copyuid(r.text)[1:] == ("1:10000", "1:10000"), r.tagged[:200]
        print(f"\nCOPY of 10,000 messages: {elapsed * 1000:.0f} ms")
        r = c.cmd("STATUS Big (MESSAGES UIDNEXT)")
        assert "* STATUS Big (MESSAGES 10000 UIDNEXT 10001)" in r.untagged, r
    assert sum(1 for _ in (sluice.mail_dir / "demo" / ".Big" / "cur").iterdir()) == 10000


def internaldate_and_flags(c, mailbox):
    assert c.cmd(f"SELECT {mailbox}").status == "OK"
    r = c.cmd("FETCH 1:* (FLAGS INTERNALDATE)")
    assert r.status == "OK", r
    return [re.search(r"FLAGS \(([^)]*)\) INTERNALDATE \"([^\"]+)\"", l).groups()
            for l in r.untagged]


def test_copy_keeps_metadata_yes_keeps_flags_keywords_and_date(start_sluice):
    server = start_sluice(settings={"copy_keeps_metadata": "yes"})
    with server.login() as c:
        assert c.cmd("CREATE Archive").status == "OK"
        appenduid(append(c, "INBOX", MESSAGE, flags="\\Seen \\Flagged $Work", date=DATE))
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("COPY 1 Archive").status == "OK"
        assert internaldate_and_flags(c, "Archive") == [("\\Flagged \\Seen \\Recent $Work", DATE)]
    d = files(server, ".Archive")
    assert len(d) == 1 and os.stat(d[0]).st_nlink == 2 and int(os.stat(d[0]).st_mtime) == DATE_EPOCH


def test_copy_keeps_metadata_no_resets_flags_and_date_on_copy_and_move(start_sluice):
    server = start_sluice(settings={"copy_keeps_metadata": "no"})
    with server.login() as c:
        assert c.cmd("CREATE Archive").status == "OK"
        for _ in range(2):
            appenduid(append(c, "INBOX", MESSAGE, flags="\\Seen \\Answered $Work", date=DATE))
        assert c.cmd("SELECT INBOX").status == "OK"
        before = time.time()
        r = c.cmd("COPY 1 Archive")
        assert r.status == "OK" and copyuid(r.text)[1:] == ("1", "1"), r
        r = c.cmd("MOVE 2 Archive")
        assert r.status == "OK" and "* 2 EXPUNGE" in r.untagged, r
        after = time.time()
        # The source keeps its own flags and date.
        assert internaldate_and_flags(c, "INBOX") == [("\\Answered \\Seen $Work", DATE)]
        got = internaldate_and_flags(c, "Archive")
        assert [flags for flags, _ in got] == ["\\Recent", "\\Recent"], got
        assert all(date != DATE for _, date in got), got
    # Real copies with the copy's time: the source file is untouched and not linked.
    src = files(server, "")
    assert len(src) == 1 and os.stat(src[0]).st_nlink == 1
    assert int(os.stat(src[0]).st_mtime) == DATE_EPOCH
    dst = files(server, ".Archive")
    assert len(dst) == 2 and all(p.name.endswith(":2,") for p in dst), dst
    for p in dst:
        st = os.stat(p)
        assert st.st_nlink == 1 and int(before) - 1 <= st.st_mtime <= after + 1, (p, st)
        assert p.read_bytes() == src[0].read_bytes()
