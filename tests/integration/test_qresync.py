"""QRESYNC (RFC 7162 section 3.2) against the real sluiced.

The point of QRESYNC is a client that comes back to a mailbox it has cached and learns,
in the SELECT itself, exactly what it missed: `* VANISHED (EARLIER)` for what was
expunged and one FETCH per message whose flags changed. The first test plays that with
Python's imaplib as the caching client and a second session as the one making changes;
the others check the parameter's grammar, the known-UID limit, UIDVALIDITY changes,
VANISHED instead of EXPUNGE once QRESYNC is on, and `* OK [CLOSED]`.
"""
import imaplib
import re

from sluice_testlib import HOST
from sluice_testlib import append_message as append
from sluice_testlib import code_number as code


def filled(server, count=6):
    c = server.login()
    for n in range(1, count + 1):
        append(c, n, "\\Seen" if n % 2 else "")
    return c


def qresync_session(server):
    c = server.login()
    r = c.cmd("ENABLE QRESYNC")
    assert r.untagged == ["* ENABLED QRESYNC"], r
    return c


def parse_fetch(data):
    """imaplib FETCH data b'2 (UID 2 FLAGS (\\Seen) MODSEQ (9))' -> (uid, flags, modseq)."""
    text = data.decode()
    uid = int(re.search(r"UID (\d+)", text).group(1))
    flags = set(re.search(r"FLAGS \(([^)]*)\)", text).group(1).split())
    modseq = int(re.search(r"MODSEQ \((\d+)\)", text).group(1))
    return uid, flags, modseq


def imap_cache(c):
    """{uid: flags} of the selected mailbox, from imaplib."""
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK", data
    cache = {}
    for item in data:
        text = item.decode()
        uid = int(re.search(r"UID (\d+)", text).group(1))
        cache[uid] = set(re.search(r"FLAGS \(([^)]*)\)", text).group(1).split()) - {"\\Recent"}
    return cache


def test_imaplib_client_resyncs_exactly_what_another_session_changed(sluice):
    with filled(sluice):
        pass
    # The caching client: remembers UIDVALIDITY, HIGHESTMODSEQ and every message's flags.
    client = imaplib.IMAP4(HOST, sluice.plain_port)
    client.login("demo", "demo")
    assert client.enable("QRESYNC")[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    uidvalidity = int(client.response("UIDVALIDITY")[1][0])
    highest = int(client.response("HIGHESTMODSEQ")[1][0])
    cache = imap_cache(client)
    assert sorted(cache) == [1, 2, 3, 4, 5, 6]
    client.logout()

    # Meanwhile another session changes flags, expunges two messages and delivers one.
    with sluice.login() as other:
        assert other.cmd("SELECT INBOX").status == "OK"
        assert other.cmd("UID STORE 2 +FLAGS (\\Flagged)").status == "OK"
        assert other.cmd("UID STORE 5 -FLAGS (\\Seen)").status == "OK"
        assert other.cmd("UID STORE 3:4 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert other.cmd("EXPUNGE").status == "OK"
        append(other, 7)

    client = imaplib.IMAP4(HOST, sluice.plain_port)
    client.login("demo", "demo")
    assert client.enable("QRESYNC")[0] == "OK"
    known = "1:6"
    typ, data = client._simple_command(
        "SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {highest} {known}))")
    assert typ == "OK", data
    client.state = "SELECTED"  # imaplib has no SELECT with parameters; it went through
    assert client.response("VANISHED")[1] == [b"(EARLIER) 3:4"]
    fetched = [parse_fetch(d) for d in client.response("FETCH")[1]]
    assert sorted(uid for uid, _, _ in fetched) == [2, 5], fetched
    new_highest = int(client.response("HIGHESTMODSEQ")[1][0])
    assert all(highest < modseq <= new_highest for _, _, modseq in fetched), fetched

    # Applying exactly that to the cache gives the server's state for the known UIDs.
    for uid in (3, 4):
        del cache[uid]
    for uid, flags, _ in fetched:
        cache[uid] = flags - {"\\Recent"}
    now = imap_cache(client)
    assert cache == {uid: flags for uid, flags in now.items() if uid <= 6}, (cache, now)
    assert sorted(now) == [1, 2, 5, 6, 7]

    # While selected, an expunge by someone else arrives as VANISHED, not EXPUNGE.
    with sluice.login() as other:
        assert other.cmd("SELECT INBOX").status == "OK"
        assert other.cmd("UID STORE 6 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert other.cmd("UID EXPUNGE 6").status == "OK"
    assert client.noop()[0] == "OK"
    assert client.response("VANISHED")[1] == [b"6"]
    assert client.response("EXPUNGE")[1] == [None]
    client.logout()


def test_without_known_uids_new_messages_are_reported_too(sluice):
    with filled(sluice, 3) as c:
        r = c.cmd("SELECT INBOX")
        uidvalidity, highest = code(r, "UIDVALIDITY"), code(r, "HIGHESTMODSEQ")
        append(c, 4)
    with qresync_session(sluice) as c:
        r = c.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} {highest}))")
        assert r.status == "OK", r
        fetches = [line for line in r.untagged if " FETCH " in line]
        assert len(fetches) == 1 and fetches[0].startswith("* 4 FETCH (UID 4 FLAGS ("), r
        assert not any(line.startswith("* VANISHED") for line in r.untagged), r
        # The answer comes after everything SELECT says about the mailbox.
        assert r.untagged.index(fetches[0]) > \
            r.untagged.index(f"* OK [HIGHESTMODSEQ {code(r, 'HIGHESTMODSEQ')}] "
                             "Highest mailbox MODSEQ.")


def test_other_uidvalidity_means_a_plain_select(sluice):
    with filled(sluice, 3) as c:
        r = c.cmd("SELECT INBOX")
        uidvalidity = code(r, "UIDVALIDITY")
        assert c.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert c.cmd("EXPUNGE").status == "OK"
    with qresync_session(sluice) as c:
        r = c.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity + 1} 1 1:3))")
        assert r.status == "OK", r
        assert not any("VANISHED" in line or "FETCH" in line for line in r.untagged), r
        r = c.cmd(f"EXAMINE INBOX (QRESYNC ({uidvalidity} 1 1:3))")
        assert "* VANISHED (EARLIER) 1:3" in r.untagged, r


def test_expunged_by_another_program_is_vanished_too(sluice):
    with filled(sluice, 3) as c:
        r = c.cmd("SELECT INBOX")
        uidvalidity, highest = code(r, "UIDVALIDITY"), code(r, "HIGHESTMODSEQ")
    cur = sluice.mail_dir / "demo" / "cur"
    victim = sorted(cur.iterdir())[1]
    victim.unlink()  # a user's `rm`, or another MDA's expunge
    with qresync_session(sluice) as c:
        r = c.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} {highest}))")
        assert "* VANISHED (EARLIER) 2" in r.untagged, r
        assert "* 2 EXISTS" in r.untagged, r


def test_qresync_needs_enable_and_a_well_formed_list(sluice):
    with filled(sluice, 3) as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("SELECT INBOX (QRESYNC (1 1))")
        assert r.status == "BAD" and r.text.startswith("[CLIENTBUG] "), r
        # A BAD leaves the selected mailbox selected.
        assert c.cmd("FETCH 1 FLAGS").status == "OK"
        assert c.cmd("ENABLE QRESYNC").status == "OK"
        for bad in ("(QRESYNC)", "(QRESYNC 1 1)", "(QRESYNC (1))", "(QRESYNC (0 1))",
                    "(QRESYNC (1 0))", "(QRESYNC (4294967296 1))", "(QRESYNC (1 1 1:*))",
                    "(QRESYNC (1 1 $))", "(QRESYNC (1 1 1:3 (1:2 1:3)))",
                    "(QRESYNC (1 1 1:3 (1:2)))", "(QRESYNC (1 1 1:3 (1:2 1:2) x))",
                    "(QRESYNC (1 1) QRESYNC (1 1))"):
            r = c.cmd(f"SELECT INBOX {bad}")
            assert r.status == "BAD" and r.untagged == [], (bad, r)
        r = c.cmd("SELECT INBOX (CONDSTORE QRESYNC (1 1 1:3 (1,3 1,3)))")
        assert r.status == "OK", r


def test_vanished_replaces_expunge_once_qresync_is_on(sluice):
    with filled(sluice, 6) as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").status == "OK"
        r = c.cmd("EXPUNGE")
        assert r.untagged == ["* 1 EXPUNGE"], r
        assert c.cmd("ENABLE QRESYNC").status == "OK"
        assert c.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)").status == "OK"
        r = c.cmd("EXPUNGE")
        assert r.untagged == ["* VANISHED 2:3"], r
        assert code(r, "HIGHESTMODSEQ"), r
        assert c.cmd("CREATE Other").status == "OK"
        r = c.cmd("UID MOVE 5 Other")
        assert r.untagged[-1] == "* VANISHED 5", r
        r = c.cmd("UID EXPUNGE 4")  # 4 is not \Deleted: nothing goes
        assert r.untagged == [], r


def test_uid_fetch_vanished_reports_expunges_in_the_set(sluice):
    with filled(sluice, 5) as c:
        assert c.cmd("ENABLE QRESYNC").status == "OK"
        r = c.cmd("SELECT INBOX")
        since = code(r, "HIGHESTMODSEQ")
        assert c.cmd("UID STORE 2,5 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert c.cmd("EXPUNGE").status == "OK"
        assert c.cmd("UID STORE 3 +FLAGS.SILENT (\\Flagged)").status == "OK"
        # `*` reaches the expunged top UID 5, not only the last UID left (4).
        r = c.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)")
        assert r.status == "OK", r
        assert r.untagged[0] == "* VANISHED (EARLIER) 2,5", r
        assert len(r.untagged) == 2 and r.untagged[1].startswith("* 2 FETCH (UID 3 "), r
        r = c.cmd(f"UID FETCH 3:4 (FLAGS) (CHANGEDSINCE {since} VANISHED)")
        assert not any("VANISHED" in line for line in r.untagged), r


def test_closed_marks_the_end_of_the_previous_mailbox(sluice):
    with filled(sluice, 1) as c:
        r = c.cmd("SELECT INBOX")
        assert not any("CLOSED" in line for line in r.untagged), r
        r = c.cmd("EXAMINE INBOX")
        assert r.untagged[0] == "* OK [CLOSED] Previous mailbox closed.", r
        r = c.cmd("SELECT Nowhere")
        assert r.untagged == ["* OK [CLOSED] Previous mailbox closed."], r
        assert r.status == "NO" and r.text.startswith("[NONEXISTENT] "), r
        assert c.cmd("FETCH 1 FLAGS").status == "BAD"  # nothing is selected now
        r = c.cmd("SELECT INBOX")
        assert not any("CLOSED" in line for line in r.untagged), r
