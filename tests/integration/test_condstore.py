"""CONDSTORE (RFC 7162 section 3.1) against the real sluiced.

MODSEQs live in the LMDB index: each change of a message's flags gives it a new MODSEQ
above every earlier one, HIGHESTMODSEQ is the top of them, and they survive a reconnect.
The tests check the values the server reports against each other (SELECT, STATUS, FETCH,
SEARCH, STORE) and against what another session did, and that a conditional STORE
leaves a message someone else changed untouched, in the Maildir too.
"""
import re

from sluice_testlib import append_message as append
from sluice_testlib import code_caps
from sluice_testlib import code_number as code


def mailbox(server, count=4):
    """A logged-in session with `count` messages in INBOX, SELECTed."""
    c = server.login()
    for n in range(1, count + 1):
        append(c, n)
    r = c.cmd("SELECT INBOX")
    assert r.status == "OK", r
    return c


def modseqs(c, cmd="FETCH 1:* (UID MODSEQ)"):
    """{uid: modseq} from a FETCH."""
    r = c.cmd(cmd)
    assert r.status == "OK", r
    out = {}
    for line in r.untagged:
        m = re.match(r"\* \d+ FETCH \(.*UID (\d+).*MODSEQ \((\d+)\)", line)
        assert m, line
        out[int(m.group(1))] = int(m.group(2))
    return out


def maildir_names(server):
    return sorted(p.name for p in (server.mail_dir / "demo" / "cur").iterdir())


def test_capabilities_after_login_only(sluice):
    with sluice.connect() as c:
        assert not {"CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES"} & c.capabilities()
        r = c.cmd("LOGIN demo demo")
        for caps in (code_caps(r), c.capabilities()):
            assert {"CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES"} <= caps, caps


def test_highestmodseq_in_select_examine_and_status_agree(sluice):
    with mailbox(sluice) as c:
        r = c.cmd("SELECT INBOX")
        highest = code(r, "HIGHESTMODSEQ")
        assert highest and highest >= 1, r
        assert not any("NOMODSEQ" in line for line in r.untagged), r
        seen = modseqs(c)
        assert max(seen.values()) == highest, (seen, r)
        r = c.cmd("STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
        assert r.untagged == [f"* STATUS INBOX (HIGHESTMODSEQ {highest} MESSAGES 4)"], r
        assert c.cmd("STORE 2 +FLAGS (\\Flagged)").status == "OK"
        r = c.cmd("EXAMINE INBOX")
        assert code(r, "HIGHESTMODSEQ") > highest, r
        assert r.tagged.endswith("[READ-ONLY] Examine completed."), r


def test_every_flag_change_gets_a_modseq_above_all_before(sluice):
    with mailbox(sluice) as c:
        before = modseqs(c)
        assert c.cmd("STORE 3 +FLAGS (\\Seen)").status == "OK"
        after = modseqs(c)
        assert after[3] > max(before.values()), (before, after)
        assert {u: m for u, m in after.items() if u != 3} == \
            {u: m for u, m in before.items() if u != 3}
        # Storing what is already there changes nothing, so no new MODSEQ either.
        assert c.cmd("STORE 3 +FLAGS (\\Seen)").status == "OK"
        assert modseqs(c) == after
        # FETCH BODY[] sets \Seen: a change like any other.
        # (FETCH MODSEQ above turned CONDSTORE on, so the new FLAGS come with MODSEQ.)
        r = c.cmd("FETCH 1 BODY[TEXT]")
        m = re.fullmatch(r" FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)", r.untagged[-1])
        assert m and int(m.group(1)) > after[3], r
        assert modseqs(c)[1] == int(m.group(1))
    # The MODSEQs are in the index, not in the session.
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert modseqs(c)[1] == code(r, "HIGHESTMODSEQ")


def test_store_answers_with_modseq_once_condstore_is_on(sluice):
    with mailbox(sluice) as c:
        r = c.cmd("STORE 1 +FLAGS (\\Seen)")
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen \\Recent))"], r
        assert c.cmd("ENABLE CONDSTORE").untagged == ["* ENABLED CONDSTORE"]
        r = c.cmd("STORE 2 +FLAGS (\\Seen)")
        m = modseqs(c, "FETCH 2 (UID MODSEQ)")[2]
        assert r.untagged == [f"* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ ({m}))"], r
        # .SILENT still says the new MODSEQ of what it changed, and only that.
        r = c.cmd("STORE 2:3 +FLAGS.SILENT (\\Seen)")
        m = modseqs(c, "FETCH 3 (UID MODSEQ)")[3]
        assert r.untagged == [f"* 3 FETCH (MODSEQ ({m}))"], r
        r = c.cmd("UID STORE 4 FLAGS.SILENT (\\Draft)")
        m = modseqs(c, "FETCH 4 (UID MODSEQ)")[4]
        assert r.untagged == [f"* 4 FETCH (UID 4 MODSEQ ({m}))"], r
        # A plain FETCH of FLAGS now carries MODSEQ too.
        r = c.cmd("FETCH 4 FLAGS")
        assert r.untagged == [f"* 4 FETCH (FLAGS (\\Draft \\Recent) MODSEQ ({m}))"], r


def test_unchangedsince_stores_only_what_nobody_changed(sluice):
    with mailbox(sluice) as c:
        seen = modseqs(c)
        with sluice.login() as other:
            assert other.cmd("SELECT INBOX").status == "OK"
            assert other.cmd("STORE 2 +FLAGS (\\Flagged)").status == "OK"
        files = maildir_names(sluice)
        limit = max(seen.values())
        r = c.cmd(f"STORE 1:3 (UNCHANGEDSINCE {limit}) +FLAGS (\\Deleted)")
        assert r.status == "OK" and r.text.startswith("[MODIFIED 2] "), r
        changed = [line for line in r.untagged if "FETCH" in line]
        assert [line.split()[1] for line in changed] == ["1", "3"], r
        assert all("\\Deleted" in line and "MODSEQ (" in line for line in changed), r
        # Message 2 kept what the other session gave it and did not get \Deleted.
        after = maildir_names(sluice)
        assert after[1] == files[1] and after[1].endswith(":2,F"), after
        assert after[0].endswith(":2,T") and after[2].endswith(":2,T"), after


def test_unchangedsince_zero_fails_everywhere_and_uid_store_names_uids(sluice):
    with mailbox(sluice) as c:
        files = maildir_names(sluice)
        r = c.cmd("UID STORE 2:4 (UNCHANGEDSINCE 0) FLAGS (\\Seen)")
        assert r.status == "OK" and r.text.startswith("[MODIFIED 2:4] "), r
        assert r.untagged == [], r
        assert maildir_names(sluice) == files
        # The test reads the index, so a stale view does not let a stale STORE through.
        top = max(modseqs(c).values())
        with sluice.login() as other:
            assert other.cmd("SELECT INBOX").status == "OK"
            assert other.cmd("STORE 4 +FLAGS (\\Answered)").status == "OK"
        r = c.cmd(f"UID STORE 4 (UNCHANGEDSINCE {top}) +FLAGS (\\Seen)")
        assert r.text.startswith("[MODIFIED 4] "), r


def test_changedsince_fetches_only_the_changed_messages(sluice):
    with mailbox(sluice, count=6) as c:
        since = max(modseqs(c).values())
        assert c.cmd("STORE 2,5 +FLAGS (\\Answered)").status == "OK"
        r = c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {since})")
        assert r.status == "OK", r
        assert [line.split()[1] for line in r.untagged] == ["2", "5"], r
        assert all("MODSEQ (" in line for line in r.untagged), r
        r = c.cmd(f"UID FETCH 3:* (FLAGS) (CHANGEDSINCE {since})")
        assert len(r.untagged) == 1 and r.untagged[0].startswith("* 5 FETCH (UID 5 "), r
        r = c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {since + 1})")
        assert r.status == "OK" and r.untagged == [], r


def test_search_modseq_reports_the_highest_of_the_matches(sluice):
    with mailbox(sluice) as c:
        since = max(modseqs(c).values())
        assert c.cmd("STORE 3 +FLAGS (\\Flagged)").status == "OK"
        assert c.cmd("STORE 1 +FLAGS (\\Flagged)").status == "OK"
        top = modseqs(c)[1]
        r = c.cmd(f"SEARCH MODSEQ {since + 1}")
        assert r.untagged == [f"* SEARCH 1 3 (MODSEQ {top})"], r
        r = c.cmd(f'UID SEARCH MODSEQ "/flags/\\\\Flagged" all {since + 1} NOT 1')
        assert r.untagged == [f"* SEARCH 3 (MODSEQ {top - 1})"], r
        r = c.cmd(f"SEARCH MODSEQ {top + 1}")
        assert r.untagged == ["* SEARCH"], r


def test_other_sessions_changes_arrive_with_uid_and_modseq(sluice):
    with mailbox(sluice) as c:
        assert c.cmd("ENABLE CONDSTORE").status == "OK"
        with sluice.login() as other:
            assert other.cmd("SELECT INBOX").status == "OK"
            assert other.cmd("STORE 2 +FLAGS (\\Flagged)").status == "OK"
        r = c.cmd("NOOP")
        m = modseqs(c, "FETCH 2 (UID MODSEQ)")[2]
        assert r.untagged == [f"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ ({m}))",
                              f"* OK [HIGHESTMODSEQ {m}] Highest mailbox MODSEQ."], r


def test_expunge_tells_the_new_highestmodseq(sluice):
    with mailbox(sluice) as c:
        assert c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").status == "OK"
        r = c.cmd("EXPUNGE")
        assert r.text == "Expunge completed." and r.untagged == ["* 2 EXPUNGE"], r
        assert c.cmd("ENABLE CONDSTORE").status == "OK"
        r = c.cmd("STATUS INBOX (HIGHESTMODSEQ)")
        before = int(r.untagged[0].split()[-1].rstrip(")"))
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").status == "OK"
        r = c.cmd("EXPUNGE")
        assert r.untagged == ["* 1 EXPUNGE"], r
        assert code(r, "HIGHESTMODSEQ") == before + 2, r  # one for STORE, one for EXPUNGE
        r = c.cmd("STATUS INBOX (HIGHESTMODSEQ)")
        assert r.untagged == [f"* STATUS INBOX (HIGHESTMODSEQ {before + 2})"], r


def test_flags_changed_by_another_program_get_a_new_modseq(sluice):
    with mailbox(sluice, count=2) as c:
        before = modseqs(c)
        cur = sluice.mail_dir / "demo" / "cur"
        name = maildir_names(sluice)[1]
        (cur / name).rename(cur / (name.split(":2,")[0] + ":2,S"))  # what mutt does
        r = c.cmd("NOOP")
        assert r.untagged and r.untagged[0].startswith("* 2 FETCH (UID 2 FLAGS (\\Seen"), r
        after = modseqs(c)
        assert after[2] > max(before.values()) and after[1] == before[1], (before, after)


def test_bad_modifiers_and_values(sluice):
    with mailbox(sluice) as c:
        for bad in ("FETCH 1 (FLAGS) (CHANGEDSINCE 0)", "FETCH 1 (FLAGS) (CHANGEDSINCE x)",
                    "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
                    "FETCH 1 (FLAGS) (BOGUS 1)", "FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)",
                    "FETCH 1 (FLAGS) (VANISHED)", "UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
                    "STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)",
                    "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
                    "STORE 1 (CHANGEDSINCE 1) +FLAGS (\\Seen)",
                    "STORE 1 (UNCHANGEDSINCE 5)", "SELECT INBOX (BOGUS)",
                    "SELECT INBOX (CONDSTORE CONDSTORE)", "SELECT INBOX ()",
                    "STATUS INBOX (HIGHESTMODSEQ BOGUS)"):
            r = c.cmd(bad)
            assert r.status == "BAD" and r.untagged == [], (bad, r)
        # VANISHED without QRESYNC is a client bug, said so with RFC 5530's code.
        r = c.cmd("UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        assert r.text.startswith("[CLIENTBUG] "), r


def test_select_condstore_parameter_turns_it_on(sluice):
    with mailbox(sluice) as c:
        r = c.cmd("EXAMINE INBOX (CONDSTORE)")
        assert r.status == "OK" and code(r, "HIGHESTMODSEQ"), r
        r = c.cmd("FETCH 1 (FLAGS)")
        assert "MODSEQ (" in r.untagged[0], r
        # Already on: ENABLE has nothing left to turn on.
        assert c.cmd("ENABLE CONDSTORE").untagged == ["* ENABLED"]
