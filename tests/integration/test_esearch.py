"""ESEARCH (RFC 4731) and SEARCHRES (RFC 5182) against the real sluiced.

ESEARCH: `SEARCH RETURN (...)` answers one `* ESEARCH (TAG "t") [UID] ...` line with only
what was asked for. SEARCHRES: `RETURN (SAVE)` keeps the result for `$` in later
commands of the same selection, including commands pipelined right behind the SEARCH.
"""
import re

from sluice_testlib import append_message as append


def selected(server, flagged=(2, 4, 5, 6, 9), count=10):
    """INBOX with `count` messages (UIDs 1..count), \\Flagged on `flagged`, SELECTed."""
    c = server.login()
    for n in range(1, count + 1):
        append(c, n, "\\Flagged" if n in flagged else "", sender="bob" if n % 3 == 0 else "a")
    assert c.cmd("SELECT INBOX").status == "OK"
    return c


def esearch(c, text):
    r = c.cmd(text)
    assert r.status == "OK", r
    assert len(r.untagged) == 1 and r.untagged[0].startswith("* ESEARCH "), r
    return r.untagged[0]


def test_return_options_answer_one_esearch_line(sluice):
    with selected(sluice) as c:
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert c.cmd("EXPUNGE").status == "OK"  # sequence numbers now differ from UIDs
        r = c.cmd("SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") MIN 1 MAX 8 COUNT 5 ALL 1,3:5,8'], r
        r = c.cmd("UID SEARCH RETURN (ALL MIN) FLAGGED")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") UID MIN 2 ALL 2,4:6,9'], r
        r = c.cmd("SEARCH RETURN () FROM bob")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") ALL 2,5,8'], r
        r = c.cmd("SEARCH RETURN (COUNT) CHARSET UTF-8 FROM bob")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") COUNT 3'], r


def test_no_match_leaves_out_min_max_and_all(sluice):
    with selected(sluice) as c:
        r = c.cmd("SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nowhere")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") COUNT 0'], r
        r = c.cmd("UID SEARCH RETURN (MIN) SUBJECT nowhere")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") UID'], r


def test_esearch_with_modseq_reports_the_highest(sluice):
    with selected(sluice) as c:
        r = c.cmd("STATUS INBOX (HIGHESTMODSEQ)")
        since = int(re.search(r"HIGHESTMODSEQ (\d+)", r.untagged[0]).group(1))
        assert c.cmd("STORE 3 +FLAGS (\\Seen)").status == "OK"
        assert c.cmd("STORE 7 +FLAGS (\\Seen)").status == "OK"
        line = esearch(c, f"SEARCH RETURN (ALL) MODSEQ {since + 1}")
        assert line.endswith(f" ALL 3,7 MODSEQ {since + 2}"), line
        line = esearch(c, f"SEARCH RETURN (MIN) MODSEQ {since + 1}")
        assert line.endswith(f" MIN 3 MODSEQ {since + 1}"), line


def test_save_keeps_the_result_for_dollar(sluice):
    with selected(sluice) as c:
        r = c.cmd("SEARCH RETURN (SAVE) FLAGGED")
        assert r.status == "OK" and r.untagged == [], r
        r = c.cmd("FETCH $ (UID)")
        assert [line.split()[1] for line in r.untagged] == ["2", "4", "5", "6", "9"], r
        r = c.cmd("UID FETCH $ (FLAGS)")
        assert [line.split()[1] for line in r.untagged] == ["2", "4", "5", "6", "9"], r
        r = c.cmd("SEARCH $ FROM bob")
        assert r.untagged == ["* SEARCH 6 9"], r
        r = c.cmd("UID SEARCH NOT UID $")
        assert r.untagged == ["* SEARCH 1 3 7 8 10"], r
        assert c.cmd("CREATE Saved").status == "OK"
        r = c.cmd("COPY $ Saved")
        assert r.status == "OK" and "COPYUID" in r.text, r
        r = c.cmd("STATUS Saved (MESSAGES)")
        assert r.untagged == ["* STATUS Saved (MESSAGES 5)"], r


def test_dollar_follows_expunges_and_renumbering(sluice):
    with selected(sluice) as c:
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        assert c.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert c.cmd("EXPUNGE").status == "OK"
        # UID 2 is gone; UIDs 4, 5, 6 and 9 are now messages 2, 3, 4 and 7.
        r = c.cmd("FETCH $ (UID)")
        assert [l.split()[1] + ":" + l.split()[4].rstrip(")") for l in r.untagged] == \
            ["2:4", "3:5", "4:6", "7:9"], r
        r = c.cmd("STORE $ +FLAGS.SILENT (\\Deleted)")
        assert r.status == "OK", r
        r = c.cmd("UID EXPUNGE $")
        assert r.untagged == ["* 7 EXPUNGE", "* 4 EXPUNGE", "* 3 EXPUNGE", "* 2 EXPUNGE"], r
        # Nothing of the saved result is left: `$` names no message, and that is no error.
        r = c.cmd("FETCH $ (UID)")
        assert r.status == "OK" and r.untagged == [], r


def test_save_with_min_or_max_keeps_only_those(sluice):
    with selected(sluice) as c:
        r = c.cmd("SEARCH RETURN (SAVE MIN) FLAGGED")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") MIN 2'], r
        assert c.cmd("UID SEARCH UID $").untagged == ["* SEARCH 2"]
        r = c.cmd("UID SEARCH RETURN (MAX SAVE MIN) FLAGGED")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") UID MIN 2 MAX 9'], r
        assert c.cmd("SEARCH $").untagged == ["* SEARCH 2 9"]
        r = c.cmd("SEARCH RETURN (SAVE MIN COUNT) FLAGGED")
        assert r.untagged == [f'* ESEARCH (TAG "{r.tag}") MIN 2 COUNT 5'], r
        assert c.cmd("SEARCH $").untagged == ["* SEARCH 2 4 5 6 9"]


def test_dollar_is_empty_until_saved_and_after_reselect_or_failure(sluice):
    with selected(sluice) as c:
        r = c.cmd("FETCH $ (UID)")
        assert r.status == "OK" and r.untagged == [], r
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        assert len(c.cmd("FETCH $ (UID)").untagged) == 5
        # A SEARCH that was to save and fails leaves `$` empty (RFC 5182).
        r = c.cmd("SEARCH RETURN (SAVE) BOGUS")
        assert r.status == "BAD", r
        assert c.cmd("FETCH $ (UID)").untagged == []
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        assert c.cmd("SEARCH RETURN (SAVE FIRST) FLAGGED").status == "BAD"
        assert c.cmd("FETCH $ (UID)").untagged == []
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        r = c.cmd("SEARCH RETURN (SAVE) CHARSET KOI8-R FROM x")
        assert r.status == "NO" and r.text.startswith("[BADCHARSET"), r
        assert c.cmd("FETCH $ (UID)").untagged == []
        # Selecting again forgets the saved result.
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("FETCH $ (UID)").untagged == []
        assert c.cmd("SEARCH RETURN (SAVE) FLAGGED").status == "OK"
        assert c.cmd("UNSELECT").status == "OK"
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("SEARCH $").untagged == ["* SEARCH"]


def test_pipelined_commands_see_the_result_saved_before_them(sluice):
    with selected(sluice) as c:
        # One write: the SEARCH that saves, then commands using `$`, then one that
        # saves anew (which must use the old `$`) and one that reads the new result.
        c.send("p1 SEARCH RETURN (SAVE) FLAGGED\r\n"
               "p2 STORE $ +FLAGS (\\Answered)\r\n"
               "p3 UID SEARCH RETURN (SAVE) $ FROM bob\r\n"
               "p4 UID FETCH $ (FLAGS)\r\n"
               "p5 SEARCH ANSWERED\r\n")
        r1 = c.read_until_tagged("p1")
        assert r1.status == "OK" and r1.untagged == [], r1
        r2 = c.read_until_tagged("p2")
        assert r2.status == "OK" and len(r2.untagged) == 5, r2
        r3 = c.read_until_tagged("p3")
        assert r3.status == "OK" and r3.untagged == [], r3
        r4 = c.read_until_tagged("p4")
        assert [l.split()[4] for l in r4.untagged] == ["6", "9"], r4
        assert all("\\Answered" in l for l in r4.untagged), r4
        r5 = c.read_until_tagged("p5")
        assert r5.untagged == ["* SEARCH 2 4 5 6 9"], r5


def test_bad_return_options(sluice):
    with selected(sluice) as c:
        for bad in ("SEARCH RETURN (MIN", "SEARCH RETURN (FIRST) ALL", "SEARCH RETURN (ALL)",
                    "SEARCH RETURN (MIN) CHARSET", "SEARCH RETURN ALL ALL", "FETCH 1,$ (UID)",
                    "FETCH $:3 (UID)"):
            r = c.cmd(bad)
            assert r.status == "BAD" and r.untagged == [], (bad, r)
