"""EXPUNGE and UID EXPUNGE (RFC 3501 6.4.3, RFC 4315) against the real sluiced.

Messages are placed as Maildir files with their flags in the name (`:2,T` is \\Deleted),
so these tests do not depend on STORE. Expunges are announced highest sequence number
first, each with the number the message had when the command began.
"""
import os

from test_append import MESSAGE


def place(server, flags_list):
    root = server.mail_dir / "demo"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    paths = []
    for i, flags in enumerate(flags_list):
        p = root / "cur" / f"17000000{i:02d}.M{i}P1Q1.host:2,{flags}"
        p.write_bytes(MESSAGE)
        os.utime(p, (1700000000 + i, 1700000000 + i))
        paths.append(p)
    return paths


def test_expunge_of_messages_2_and_4_of_5_announces_4_then_2(sluice):
    paths = place(sluice, ["S", "ST", "", "T", "S"])
    with sluice.login() as c:
        assert "* 5 EXISTS" in c.cmd("SELECT INBOX").untagged
        r = c.cmd("EXPUNGE")
        assert r.status == "OK" and r.untagged == ["* 4 EXPUNGE", "* 2 EXPUNGE"], r
        assert [p.exists() for p in paths] == [True, False, True, False, True]
        r = c.cmd("EXPUNGE")
        assert r.status == "OK" and r.untagged == [], r
        r = c.cmd("SELECT INBOX")
        assert "* 3 EXISTS" in r.untagged and "* OK [UIDNEXT 6] Predicted next UID." in r.untagged, r


def test_uid_expunge_touches_only_the_given_uids(sluice):
    paths = place(sluice, ["T", "T", "S", "T"])
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("UID EXPUNGE 2:3,4")
        assert r.status == "OK" and r.untagged == ["* 4 EXPUNGE", "* 2 EXPUNGE"], r
        assert [p.exists() for p in paths] == [True, False, True, False]
        r = c.cmd("UID EXPUNGE 1000:*")  # * is UID 3 now: 3:1000, not deleted
        assert r.status == "OK" and r.untagged == [], r
        assert c.cmd("UID EXPUNGE nonsense").status == "BAD"
        r = c.cmd("UID EXPUNGE 1")
        assert r.untagged == ["* 1 EXPUNGE"], r


def test_expunge_after_examine_is_no_and_keeps_files(sluice):
    paths = place(sluice, ["T"])
    with sluice.login() as c:
        assert c.cmd("EXAMINE INBOX").status == "OK"
        r = c.cmd("EXPUNGE")
        assert r.status == "NO" and r.untagged == [], r
        assert c.cmd("UID EXPUNGE 1").status == "NO"
    assert paths[0].exists()


def test_expunge_needs_a_selected_mailbox_and_no_arguments(sluice):
    with sluice.login() as c:
        assert c.cmd("EXPUNGE").status == "BAD"
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("EXPUNGE 1").status == "BAD"
        assert c.cmd("UID EXPUNGE").status == "BAD"
