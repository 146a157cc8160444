"""IDLE (RFC 2177) against the real sluiced: changes pushed within a second, DONE, BAD,
the IDLE timeout apart from autologout, and the imap_idle switch.

Changes come from both places a user's mail changes: another Sluice session (APPEND,
STORE, EXPUNGE) and another program writing the Maildir (a delivery through tmp/ into
new/, mutt renaming a file in cur/, a file unlinked). Each latency is measured from the
moment the change is complete (the other session's tagged OK, or the rename/unlink
returning) to the moment the idling client has read the untagged line, and must stay under
one second: a bound a person notices, not a benchmark.
"""
import os
import re
import time

import pytest

from sluice_testlib import Closed

LATENCY = 1.0  # seconds: the promise
MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"


def idle(c, tag="i1"):
    """Sends IDLE and reads up to its continuation; returns the untagged lines before it."""
    c.send(f"{tag} IDLE\r\n")
    before = []
    while True:
        line = c.readline()
        if line.startswith("+ "):
            return before
        assert not line.startswith(tag + " "), f"IDLE refused: {line}"
        before.append(line)


def select_idle(c, mailbox="INBOX"):
    """SELECTs @mailbox and enters IDLE with tag i1."""
    assert c.cmd(f"SELECT {mailbox}").status == "OK"
    assert idle(c) == []


def done(c, tag="i1"):
    c.send("DONE\r\n")
    r = c.read_until_tagged(tag)
    assert r.status == "OK", r
    return r


def wait_line(c, pattern, start, timeout=LATENCY):
    """Reads lines until one matches @pattern; returns (line, seconds since @start)."""
    seen = []
    deadline = start + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line matching {pattern!r} within {timeout}s; saw {seen}")
        try:
            line = c.readline(timeout=remaining)
        except TimeoutError:
            raise AssertionError(f"no line matching {pattern!r} within {timeout}s; saw {seen}")
        seen.append(line)
        if re.fullmatch(pattern, line):
            return line, time.monotonic() - start


def append(c, mailbox="INBOX", flags=""):
    r = c.cmd(f"APPEND {mailbox} {flags}{{{len(MESSAGE)}+}}\r\n{MESSAGE.decode()}")
    assert r.status == "OK", r
    return r


def maildir(server, folder="", user="demo"):
    """The Maildir of @folder ('' for INBOX, '.Lists.debian' for a folder)."""
    return server.mail_dir / user / folder if folder else server.mail_dir / user


def deliver_outside(box, name):
    """What a delivery agent does: write into tmp/, then rename into new/."""
    tmp = box / "tmp" / name
    tmp.write_bytes(MESSAGE)
    os.rename(tmp, box / "new" / name)


def test_idle_is_advertised_and_done_ends_it(sluice):
    with sluice.login() as c:
        assert "IDLE" in c.capabilities()
        assert c.cmd("SELECT INBOX").status == "OK"
        assert idle(c) == []
        r = done(c)
        assert r.tagged == "i1 OK IDLE terminated.", r
        assert c.cmd("NOOP").status == "OK"
        # Lower case works too (IMAP keywords ignore case), and so does IDLE before SELECT.
        assert c.cmd("UNSELECT").status == "OK"
        idle(c, "i2")
        c.send("done\r\n")
        assert c.read_until_tagged("i2").status == "OK"


def test_idle_before_login_and_with_arguments_is_bad(sluice):
    with sluice.connect() as c:
        r = c.cmd("IDLE")
        assert r.status == "BAD" and "after login" in r.text, r
    with sluice.login() as c:
        r = c.cmd("IDLE now")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_anything_but_done_is_bad_and_ends_idle(sluice):
    with sluice.login() as c:
        select_idle(c)
        c.send("a9 NOOP\r\n")
        r = c.read_until_tagged("i1")
        assert r.status == "BAD" and "DONE" in r.text, r
        # The session reads commands again, and nothing answers the swallowed a9.
        r = c.cmd("NOOP")
        assert r.status == "OK" and r.untagged == [], r


def test_changes_by_another_session_reach_an_idler_within_a_second(sluice):
    with sluice.login() as idler, sluice.login() as other:
        assert idler.cmd("SELECT INBOX").status == "OK"
        assert other.cmd("SELECT INBOX").status == "OK"
        idle(idler)

        append(other)
        _, took = wait_line(idler, r"\* 1 EXISTS", time.monotonic())
        print(f"APPEND -> EXISTS {took * 1000:.0f} ms")

        t0 = time.monotonic()
        assert other.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").status == "OK"
        line, took = wait_line(idler, r"\* 1 FETCH \(UID 1 FLAGS \(.*\)\)", t0)
        assert "\\Flagged" in line, line
        print(f"STORE -> FETCH {took * 1000:.0f} ms")

        t0 = time.monotonic()
        assert other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").status == "OK"
        assert other.cmd("EXPUNGE").status == "OK"
        _, took = wait_line(idler, r"\* 1 EXPUNGE", t0)
        print(f"EXPUNGE -> EXPUNGE {took * 1000:.0f} ms")

        done(idler)
        r = idler.cmd("NOOP")
        assert r.untagged == [], f"announced twice: {r}"


def test_changes_by_other_programs_reach_an_idler_within_a_second(sluice):
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        box = maildir(sluice)
        idle(c)

        t0 = time.monotonic()
        deliver_outside(box, "1700000000.P1Q1.mda")
        _, took = wait_line(c, r"\* 1 EXISTS", t0)
        print(f"delivery -> EXISTS {took * 1000:.0f} ms")

        # The idling session claimed it into cur/; mutt marks it seen by renaming it.
        wait_line(c, r"\* 1 RECENT", t0)
        [path] = list((box / "cur").iterdir())
        t0 = time.monotonic()
        os.rename(path, box / "cur" / (path.name.split(":2,")[0] + ":2,S"))
        line, took = wait_line(c, r"\* 1 FETCH \(UID 1 FLAGS \(.*\)\)", t0)
        assert "\\Seen" in line, line
        print(f"rename -> FETCH {took * 1000:.0f} ms")

        t0 = time.monotonic()
        os.unlink(next((box / "cur").iterdir()))
        _, took = wait_line(c, r"\* 1 EXPUNGE", t0)
        print(f"unlink -> EXPUNGE {took * 1000:.0f} ms")
        done(c)


def test_outside_delivery_into_a_folder_reaches_its_idler(sluice):
    with sluice.login() as c, sluice.login() as inbox_idler:
        assert c.cmd("CREATE Lists.debian").status == "OK"
        assert c.cmd("SELECT Lists.debian").status == "OK"
        assert inbox_idler.cmd("SELECT INBOX").status == "OK"
        idle(c)
        idle(inbox_idler)
        t0 = time.monotonic()
        deliver_outside(maildir(sluice, ".Lists.debian"), "1700000001.P1Q1.mda")
        wait_line(c, r"\* 1 EXISTS", t0)
        # The INBOX idler hears nothing of another folder's mail.
        with pytest.raises(TimeoutError):
            inbox_idler.readline(timeout=0.3)
        done(c)
        done(inbox_idler)


def test_a_burst_of_deliveries_is_announced_in_few_lines(sluice):
    with sluice.login() as c:
        assert c.cmd("SELECT INBOX").status == "OK"
        box = maildir(sluice)
        idle(c)
        t0 = time.monotonic()
        for i in range(200):
            deliver_outside(box, f"1700000100.P1Q{i}.mda")
        lines = []
        while True:
            line, _ = wait_line(c, r"\* \d+ (EXISTS|RECENT)", t0, timeout=10)
            lines.append(line)
            if line == "* 200 RECENT":
                break
        took = time.monotonic() - t0
        exists = [l for l in lines if l.endswith("EXISTS")]
        assert exists[-1] == "* 200 EXISTS", lines
        # Coalesced: far fewer announcements than deliveries.
        assert len(exists) <= 20, lines
        print(f"200 deliveries: {len(exists)} EXISTS lines, last after {took * 1000:.0f} ms")
        done(c)


def test_many_idlers_of_one_mailbox_all_hear_one_append(sluice):
    idlers = [sluice.login() for _ in range(10)]
    try:
        for c in idlers:
            select_idle(c)
        with sluice.login() as other:
            append(other)
            t0 = time.monotonic()
        for c in idlers:
            wait_line(c, r"\* 1 EXISTS", t0, timeout=LATENCY)
        for c in idlers:
            done(c)
    finally:
        for c in idlers:
            c.close()


def test_idle_timeout_is_not_autologout(start_sluice):
    server = start_sluice(settings={"autologout": "1s", "imap_idle_timeout": "30m"})
    with server.login() as idler, server.login() as quiet:
        select_idle(idler)
        lines = quiet.wait_closed(timeout=5)
        assert lines and lines[0].startswith("* BYE"), lines
        time.sleep(0.5)  # well past autologout
        done(idler)
        # After DONE the ordinary limit applies again.
        lines = idler.wait_closed(timeout=5)
        assert lines and lines[0].startswith("* BYE"), lines


def test_idler_is_disconnected_after_imap_idle_timeout(start_sluice):
    server = start_sluice(settings={"autologout": "30m", "imap_idle_timeout": "2s"})
    with server.login() as c:
        select_idle(c)
        t0 = time.monotonic()
        lines = c.wait_closed(timeout=10)
        took = time.monotonic() - t0
    assert lines and lines[0].startswith("* BYE"), lines
    assert 1.5 <= took <= 5, f"closed after {took:.2f}s with imap_idle_timeout = 2s"


def test_idle_switched_off_leaves_capability_and_is_bad(start_sluice):
    server = start_sluice(settings={"imap_idle": "no"})
    with server.login() as c:
        assert "IDLE" not in c.capabilities()
        assert c.cmd("SELECT INBOX").status == "OK"
        r = c.cmd("IDLE")
        assert r.status == "BAD" and "NOOP" in r.text, r
        assert c.cmd("NOOP").status == "OK"


def test_shutdown_says_bye_to_an_idler(start_sluice):
    server = start_sluice()
    c = server.login()
    try:
        select_idle(c)
        server.stop()
        lines = c.wait_closed(timeout=5)
        assert "* BYE Server shutting down." in lines, lines
    finally:
        c.close()


def test_client_that_vanishes_during_idle_leaves_no_watch(sluice):
    c = sluice.login()
    select_idle(c)
    c.close()
    sluice.wait_for_log("disconnect", "client closed")
    # The server goes on serving idlers, and the first idler of the box watches it anew.
    with sluice.login() as d:
        select_idle(d)
        t0 = time.monotonic()
        deliver_outside(maildir(sluice), "1700000200.P1Q1.mda")
        wait_line(d, r"\* 1 EXISTS", t0)
        done(d)
    with pytest.raises((Closed, OSError)):
        c.cmd("NOOP")


def open_descriptors(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def test_idlers_hold_no_descriptor_but_their_socket(sluice):
    # A selected Maildir costs four directory descriptors and a login one more for the mail
    # root (shared by the user's sessions); an idler gives the four back while it waits.
    with sluice.login() as first:
        select_idle(first)
        before = open_descriptors(sluice)
        idlers = [sluice.login() for _ in range(20)]
        try:
            for c in idlers:
                select_idle(c)
            grown = open_descriptors(sluice) - before
            assert grown <= 22, f"20 idlers hold {grown} more descriptors"
            # And they still hear of new mail, and work normally after DONE.
            deliver_outside(maildir(sluice), "1700000300.P1Q1.mda")
            t0 = time.monotonic()
            for c in idlers:
                wait_line(c, r"\* 1 EXISTS", t0)
            done(idlers[0])
            r = idlers[0].cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert r.status == "OK" and "Subject: hi" in "\n".join(r.untagged), r
        finally:
            for c in idlers:
                c.close()
        done(first)


def test_done_after_the_mailbox_was_deleted_says_bye(sluice):
    with sluice.login() as c, sluice.login() as other:
        assert c.cmd("CREATE Gone").status == "OK"
        assert c.cmd("SELECT Gone").status == "OK"
        idle(c)
        assert other.cmd("DELETE Gone").status == "OK"
        time.sleep(0.2)  # the idler is woken and finds nothing it can read
        c.send("DONE\r\n")
        lines = c.wait_closed(timeout=5)
        assert "i1 OK IDLE terminated." in lines, lines
        assert "* BYE The selected mailbox no longer exists." in lines, lines
