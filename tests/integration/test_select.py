"""SELECT, EXAMINE, STATUS, CHECK, CLOSE and UNSELECT against the real sluiced.

Messages are put on disk the way a delivery agent or mutt would (a file in new/, a file
renamed in cur/), because APPEND and STORE are not there yet; the tests then check what
IMAP reports and, where it matters, what happened to the files.
"""
import imaplib
import re
import subprocess

from sluice_testlib import HOST, build_dir

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
MESSAGE = b"From: a@example.org\r\nTo: demo@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"


def maildir(server, user="demo"):
    root = server.mail_dir / user
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def deliver(server, name, where="new", user="demo"):
    path = maildir(server, user) / where / name
    path.write_bytes(MESSAGE)
    return path


def code_value(r, code):
    """The number in `* OK [CODE n]` or `* n CODE` among the untagged lines, else None."""
    for line in r.untagged:
        m = re.match(rf"\* OK \[{code} (\d+)\]", line) or re.match(rf"\* (\d+) {code}$", line)
        if m:
            return int(m.group(1))
    return None


def status(c, mailbox, items):
    r = c.cmd(f"STATUS {mailbox} ({items})")
    assert r.status == "OK", r
    lines = [l for l in r.untagged if l.startswith("* STATUS ")]
    assert len(lines) == 1, r
    return lines[0]


def test_select_empty_inbox_sends_exactly_the_rfc3501_lines(sluice):
    # RFC 3501's lines, plus the HIGHESTMODSEQ that RFC 7162 asks of a server that keeps
    # MODSEQs (a client that does not know the code ignores it).
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
    assert r.status == "OK" and r.text == "[READ-WRITE] Select completed.", r
    uidvalidity = code_value(r, "UIDVALIDITY")
    assert uidvalidity and uidvalidity > 1_600_000_000, r
    assert r.untagged == [
        f"* FLAGS ({SYSTEM})",
        f"* OK [PERMANENTFLAGS ({SYSTEM} \\*)] Flags permitted.",
        "* 0 EXISTS",
        "* 0 RECENT",
        f"* OK [UIDVALIDITY {uidvalidity}] UIDs valid.",
        "* OK [UIDNEXT 1] Predicted next UID.",
        "* OK [HIGHESTMODSEQ 1] Highest mailbox MODSEQ.",
    ]


def test_delivered_message_is_recent_to_exactly_one_session(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert r.status == "OK", r
        assert (code_value(r, "EXISTS"), code_value(r, "RECENT")) == (1, 1), r
        assert code_value(r, "UNSEEN") == 1 and code_value(r, "UIDNEXT") == 2, r
        # Claimed: moved out of new/ with an empty info part.
        assert not any((sluice.mail_dir / "demo" / "new").iterdir())
        assert [p.name for p in (sluice.mail_dir / "demo" / "cur").iterdir()] == ["1700000000.M1P1.test:2,"]
        with sluice.login() as c2:
            r2 = c2.cmd("SELECT INBOX")
            assert (code_value(r2, "EXISTS"), code_value(r2, "RECENT")) == (1, 0), r2
            assert code_value(r2, "UIDNEXT") == 2, r2


def test_uids_and_uidvalidity_survive_reconnects_and_restarts(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    with sluice.login() as c:
        first = c.cmd("SELECT INBOX")
    validity = code_value(first, "UIDVALIDITY")
    with sluice.login() as c:
        again = c.cmd("EXAMINE INBOX")
    assert (code_value(again, "UIDVALIDITY"), code_value(again, "UIDNEXT")) == (validity, 2), again
    sluice.stop()
    sluice.start()
    deliver(sluice, "1700000001.M2P1.test")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
    assert code_value(r, "UIDVALIDITY") == validity, r
    assert (code_value(r, "EXISTS"), code_value(r, "RECENT"), code_value(r, "UIDNEXT")) == (2, 1, 3), r


def test_file_removed_outside_disappears_and_its_uid_is_not_reused(sluice):
    path = deliver(sluice, "1700000000.M1P1.test:2,S", where="cur")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert code_value(r, "EXISTS") == 1 and code_value(r, "UNSEEN") is None, r
        path.unlink()
        r = c.cmd("SELECT INBOX")
        assert (code_value(r, "EXISTS"), code_value(r, "UIDNEXT")) == (0, 2), r
        deliver(sluice, "1700000002.M3P1.test")
        r = c.cmd("SELECT INBOX")
        assert (code_value(r, "EXISTS"), code_value(r, "UIDNEXT")) == (1, 3), r


def test_flags_renamed_outside_are_picked_up(sluice):
    path = deliver(sluice, "1700000000.M1P1.test:2,", where="cur")
    with sluice.login() as c:
        assert code_value(c.cmd("SELECT INBOX"), "UNSEEN") == 1
        path.rename(path.with_name("1700000000.M1P1.test:2,S"))
        r = c.cmd("SELECT INBOX")
        assert code_value(r, "EXISTS") == 1 and code_value(r, "UNSEEN") is None, r


def test_examine_is_read_only_and_does_not_claim_recent(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    with sluice.login() as c:
        r = c.cmd("EXAMINE INBOX")
        assert r.status == "OK" and r.text == "[READ-ONLY] Examine completed.", r
        assert "* OK [PERMANENTFLAGS ()] No permanent flags permitted." in r.untagged, r
        assert (code_value(r, "EXISTS"), code_value(r, "RECENT")) == (1, 0), r
        assert [p.name for p in (sluice.mail_dir / "demo" / "new").iterdir()] == ["1700000000.M1P1.test"]
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert (code_value(r, "EXISTS"), code_value(r, "RECENT")) == (1, 1), r


def test_status_reports_requested_items_in_order(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    deliver(sluice, "1700000001.M2P1.test:2,S", where="cur")
    with sluice.login() as c:
        line = status(c, "INBOX", "MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN")
        m = re.fullmatch(r"\* STATUS INBOX \(MESSAGES 2 RECENT 1 UIDNEXT 3 UIDVALIDITY (\d+) UNSEEN 1\)", line)
        assert m, line
        assert status(c, "inbox", "UNSEEN MESSAGES") == "* STATUS INBOX (UNSEEN 1 MESSAGES 2)"
        # STATUS claims nothing: the message is still in new/, and SELECT then has it as recent.
        assert status(c, "INBOX", "RECENT") == "* STATUS INBOX (RECENT 1)"
        r = c.cmd("SELECT INBOX")
        assert code_value(r, "RECENT") == 1 and code_value(r, "UIDVALIDITY") == int(m.group(1)), r
    with sluice.login() as c:
        assert status(c, "INBOX", "RECENT MESSAGES") == "* STATUS INBOX (RECENT 0 MESSAGES 2)"


def test_status_of_the_selected_mailbox_agrees_with_the_session(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    with sluice.login() as c:
        assert code_value(c.cmd("SELECT INBOX"), "EXISTS") == 1
        deliver(sluice, "1700000001.M2P1.test")
        # The session has not been told of the second message; STATUS must not contradict it.
        assert status(c, "INBOX", "MESSAGES RECENT UIDNEXT") == "* STATUS INBOX (MESSAGES 1 RECENT 1 UIDNEXT 2)"


def test_status_of_other_mailbox_and_errors(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Sent").status == "OK"
        deliver(sluice, "1700000000.M1P1.test:2,S", where=".Sent/cur")
        assert status(c, "Sent", "MESSAGES UNSEEN") == "* STATUS Sent (MESSAGES 1 UNSEEN 0)"
        r = c.cmd("STATUS INBOX (MESSAGES X-BOGUS)")
        assert r.status == "BAD" and "X-BOGUS" in r.text and "MESSAGES" in r.text, r
        r = c.cmd("STATUS INBOX ()")
        assert r.status == "BAD", r
        r = c.cmd("STATUS Nowhere (MESSAGES)")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r


def test_close_expunges_only_deleted_messages(sluice):
    deliver(sluice, "1700000000.M1P1.test:2,T", where="cur")
    deliver(sluice, "1700000001.M2P1.test:2,S", where="cur")
    deliver(sluice, "1700000002.M3P1.test:2,ST", where="cur")
    with sluice.login() as c:
        assert code_value(c.cmd("SELECT INBOX"), "EXISTS") == 3
        r = c.cmd("CLOSE")
        assert r.status == "OK" and r.untagged == [], r
        assert [p.name for p in (sluice.mail_dir / "demo" / "cur").iterdir()] == ["1700000001.M2P1.test:2,S"]
        r = c.cmd("SELECT INBOX")
        assert (code_value(r, "EXISTS"), code_value(r, "UIDNEXT")) == (1, 4), r
        # CLOSE returned to the authenticated state.
        assert c.cmd("CLOSE").status == "OK"
        assert c.cmd("CLOSE").status == "BAD"


def test_unselect_and_close_after_examine_keep_deleted_messages(sluice):
    path = deliver(sluice, "1700000000.M1P1.test:2,T", where="cur")
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("UNSELECT")
        assert r.status == "OK" and r.untagged == [], r
        assert path.exists()
        assert c.cmd("EXAMINE INBOX").status == "OK"
        assert c.cmd("CLOSE").status == "OK"
        assert path.exists()
        assert code_value(c.cmd("SELECT INBOX"), "EXISTS") == 1


def test_select_of_missing_mailbox_is_nonexistent_and_leaves_session_unselected(sluice):
    with sluice.login() as c:
        r = c.cmd("SELECT Nowhere")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("SELECT Nowhere")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r
        r = c.cmd("CHECK")
        assert r.status == "BAD" and "selected" in r.text, r


def test_noselect_parent_cannot_be_selected(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Lists").status == "OK"
        assert c.cmd("CREATE Lists.debian").status == "OK"
        assert c.cmd("DELETE Lists").status == "OK"  # kept as a \\Noselect parent
        assert '* LIST (\\Noselect \\HasChildren) "." Lists' in c.cmd('LIST "" Lists').untagged
        r = c.cmd("SELECT Lists")
        assert r.status == "NO" and r.code() == "CANNOT", r
        assert c.cmd("SELECT Lists.debian").status == "OK"


def test_commands_that_need_a_selected_mailbox_are_bad_before_select(sluice):
    with sluice.login() as c:
        for command in ("CLOSE", "UNSELECT", "CHECK"):
            r = c.cmd(command)
            assert r.status == "BAD" and "only with a mailbox selected" in r.text, r


def test_check_and_unselect_are_ok_when_selected_and_unselect_is_advertised(sluice):
    with sluice.login() as c:
        assert "UNSELECT" in c.capabilities()
        assert c.cmd("SELECT INBOX").status == "OK"
        assert c.cmd("CHECK").status == "OK"
        assert c.cmd("UNSELECT").status == "OK"
        assert c.cmd("UNSELECT").status == "BAD"


def test_keywords_in_use_are_listed_in_flags(sluice):
    # The maildir module keeps keywords in dovecot-keywords; letters a, b... name them.
    root = maildir(sluice)
    (root / "dovecot-keywords").write_text("0 $Forwarded\n1 Junk\n")
    deliver(sluice, "1700000000.M1P1.test:2,Sb", where="cur")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
    assert r.untagged[0] == f"* FLAGS ({SYSTEM} Junk)", r
    assert r.untagged[1] == f"* OK [PERMANENTFLAGS ({SYSTEM} Junk \\*)] Flags permitted.", r


def test_python_imaplib_selects_and_closes(sluice):
    deliver(sluice, "1700000000.M1P1.test")
    m = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        m.login("demo", "demo")
        typ, data = m.select("INBOX")
        assert (typ, data) == ("OK", [b"1"])
        assert m.response("UIDNEXT") == ("UIDNEXT", [b"2"])
        assert m.status("INBOX", "(MESSAGES UNSEEN)") == ("OK", [b"INBOX (MESSAGES 1 UNSEEN 1)"])
        assert m.close()[0] == "OK"
        assert m.select("INBOX", readonly=True) == ("OK", [b"1"])
        assert m.unselect()[0] == "OK"
    finally:
        m.logout()


def test_storage_without_index_is_a_config_error_with_file_and_line(make_config):
    conf = make_config()
    text = conf.modules_path.read_text()
    text = re.sub(r"index lmdb \{\n[^}]*\}\n", "", text)
    conf.modules_path.write_text(text)
    line = next(n for n, l in enumerate(text.splitlines(), 1) if l.startswith("storage maildir"))
    r = subprocess.run([str(build_dir() / "sluiced"), "-t", "-c", str(conf.conf_path)], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert f"{conf.modules_path}:{line}: storage maildir needs an index module" in r.stderr, r.stderr
    assert "index lmdb { }" in r.stderr


def test_delivery_into_new_reaches_a_selected_session_at_noop(sluice):
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert "* 0 EXISTS" in r.untagged, r
        new = sluice.mail_dir / "demo" / "new"
        (new / "1700000100.M1P1Q1.mda").write_bytes(b"Subject: late\r\n\r\nbody\r\n")
        r = c.cmd("NOOP")
        assert r.status == "OK"
        assert "* 1 EXISTS" in r.untagged and "* 1 RECENT" in r.untagged, r
        r = c.cmd("FETCH 1 (UID FLAGS)")
        assert r.status == "OK" and "UID 1" in r.untagged[0] and "\\Recent" in r.untagged[0], r


def test_expunge_by_another_session_reaches_this_one_at_noop(sluice):
    cur = sluice.mail_dir / "demo" / "cur"
    with sluice.login() as a, sluice.login() as b:
        a.cmd("SELECT INBOX")  # creates the Maildir
        for i in range(3):
            (cur / f"1700000200.M{i}P1Q1.mda:2,").write_bytes(b"Subject: x\r\n\r\nx\r\n")
        assert "* 3 EXISTS" in a.cmd("NOOP").untagged
        assert "* 3 EXISTS" in b.cmd("SELECT INBOX").untagged
        assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").status == "OK"
        r = b.cmd("EXPUNGE")
        assert "* 2 EXPUNGE" in r.untagged, r
        r = a.cmd("NOOP")
        assert "* 2 EXPUNGE" in r.untagged, r
        r = a.cmd("FETCH 1:* (UID)")
        assert [l.split()[1] for l in r.untagged] == ["1", "2"], r


def test_flags_stored_by_another_session_reach_this_one_at_noop(sluice):
    cur = sluice.mail_dir / "demo" / "cur"
    with sluice.login() as a, sluice.login() as b:
        a.cmd("SELECT INBOX")  # creates the Maildir
        for i in range(2):
            (cur / f"1700000300.M{i}P1Q1.mda:2,").write_bytes(b"Subject: x\r\n\r\nx\r\n")
        assert "* 2 EXISTS" in a.cmd("NOOP").untagged
        assert b.cmd("SELECT INBOX").status == "OK"
        assert b.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").status == "OK"
        r = a.cmd("NOOP")
        assert r.status == "OK" and r.untagged == ["* 1 FETCH (UID 1 FLAGS (\\Flagged))"], r
        assert a.cmd("NOOP").untagged == [], "a change is announced once"
        # Keywords too; CHECK announces like NOOP.
        assert b.cmd("STORE 2 +FLAGS.SILENT ($Junk)").status == "OK"
        r = a.cmd("CHECK")
        assert r.untagged == ["* 2 FETCH (UID 2 FLAGS ($Junk))"], r
        # FETCH, STORE and SEARCH never carry them; the next NOOP does.
        assert b.cmd("STORE 1 -FLAGS.SILENT (\\Flagged)").status == "OK"
        r = a.cmd("FETCH 2 (UID)")
        assert r.untagged == ["* 2 FETCH (UID 2)"], r
        r = a.cmd("SEARCH ALL")
        assert r.untagged == ["* SEARCH 1 2"], r
        r = a.cmd("NOOP")
        assert r.untagged == ["* 1 FETCH (UID 1 FLAGS ())"], r


def test_flag_update_follows_expunge_with_new_numbers_and_keeps_recent(sluice):
    new = sluice.mail_dir / "demo" / "new"
    with sluice.login() as a, sluice.login() as b:
        a.cmd("SELECT INBOX")
        for i in range(3):
            (new / f"1700000400.M{i}P1Q1.mda").write_bytes(b"Subject: x\r\n\r\nx\r\n")
        r = a.cmd("NOOP")  # a claims the three as \Recent
        assert "* 3 EXISTS" in r.untagged and "* 3 RECENT" in r.untagged, r
        assert b.cmd("SELECT INBOX").status == "OK"
        assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert b.cmd("EXPUNGE").status == "OK"
        assert b.cmd("UID STORE 3 +FLAGS.SILENT (\\Seen)").status == "OK"
        r = a.cmd("NOOP")
        assert r.untagged[0] == "* 1 EXPUNGE", r
        assert r.untagged[-1] == "* 2 FETCH (UID 3 FLAGS (\\Seen \\Recent))", r
        assert not any(" FETCH " in l for l in r.untagged[1:-1]), r


def test_flags_renamed_on_disk_reach_a_selected_session_at_noop(sluice):
    path = deliver(sluice, "1700000500.M1P1.test:2,", where="cur")
    with sluice.login() as c:
        r = c.cmd("SELECT INBOX")
        assert code_value(r, "EXISTS") == 1, r
        path.rename(path.with_name("1700000500.M1P1.test:2,S"))
        r = c.cmd("NOOP")
        assert r.untagged == ["* 1 FETCH (UID 1 FLAGS (\\Seen))"], r


def test_own_store_is_not_announced_again_at_noop(sluice):
    deliver(sluice, "1700000600.M1P1.test:2,", where="cur")
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("STORE 1 +FLAGS (\\Answered NonJunk $Label1)")
        assert r.untagged == ["* 1 FETCH (FLAGS (\\Answered NonJunk $Label1))"], r
        assert c.cmd("NOOP").untagged == [], "the session's own change is not echoed"
        r = c.cmd("FETCH 1 BODY[]")  # sets \Seen
        assert r.status == "OK" and "\\Seen" in r.untagged[-1], r
        assert c.cmd("NOOP").untagged == []
        assert c.cmd("CHECK").untagged == []
