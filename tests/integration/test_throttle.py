"""The throttle policy module against a real sluiced: queued commands hold no thread.

The server runs with two workers and `fetch_per_user = 1`. Fifty connections of one user
each send a FETCH that reads every message of a 3,000-message mailbox, so they queue
behind one another; meanwhile another user must be able to connect, log in, SELECT and
NOOP within a second, which is impossible if waiting commands held the workers. Every
queued FETCH must then end either with its full answer or with the LIMIT sentence at its
deadline, and each connection must still answer correctly afterwards.
"""

import re
import time

from sluice_testlib import Imap, sluicectl_json

MESSAGES = 3000
FETCHERS = 50
LIMIT_ANSWER = "NO [LIMIT] Too many FETCH commands are running for this user; try again later"
FETCH = "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Absent)])"


def throttle_block(**settings):
    body = "".join(f"  {k} = {v}\n" for k, v in settings.items())
    return "policy throttle {\n" + body + "}\n"


def fill_inbox(server, user="demo", count=MESSAGES):
    root = server.mail_dir / user
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    filler = "".join(f"line {i} of a message body that makes the file a little longer\r\n"
                     for i in range(20))
    for i in range(count):
        text = (f"From: sender{i}@example.org\r\nTo: demo@example.org\r\nSubject: message {i}\r\n"
                f"Message-ID: <{i}@example.org>\r\n\r\n{filler}")
        (root / "cur" / f"17000{i:05d}.M{i}P1.test:2,S").write_text(text)


def read_tagged(c, tag, timeout):
    """Read to the tagged line of @tag; returns (number of FETCH lines, tagged line)."""
    fetches = 0
    deadline = time.monotonic() + timeout
    while True:
        line = c.readline(timeout=max(0.1, deadline - time.monotonic()))
        if line.startswith(tag + " "):
            return fetches, line.rstrip("\r\n")
        if re.match(r"\* \d+ FETCH ", line):
            fetches += 1


def test_fifty_queued_fetches_hold_no_thread(start_sluice):
    server = start_sluice(
        settings={"workers": "2", "log_level": "debug"},
        modules_extra=throttle_block(fetch_per_user=1, fetch_wait="500ms"))
    fill_inbox(server)
    conns = []
    try:
        for _ in range(FETCHERS):
            c = server.login()
            r = c.cmd("SELECT INBOX", timeout=30)
            assert r.status == "OK", r
            conns.append(c)

        for i, c in enumerate(conns):
            c.send(f"f{i} {FETCH}\r\n")

        # Another user gets every answer within a second while the FETCHes queue.
        started = time.monotonic()
        with Imap(server.plain_port) as other:
            assert other.cmd("LOGIN demo2 demo").status == "OK"
            assert other.cmd("SELECT INBOX").status == "OK"
            assert other.cmd("NOOP").status == "OK"
        took = time.monotonic() - started
        assert took < 1.0, f"another user waited {took:.2f}s behind queued FETCHes"

        outcomes = {"ok": 0, "limit": 0}
        for i, c in enumerate(conns):
            fetches, tagged = read_tagged(c, f"f{i}", timeout=60)
            if tagged == f"f{i} {LIMIT_ANSWER}":
                assert fetches == 0, "a refused FETCH sent data"
                outcomes["limit"] += 1
            else:
                assert tagged.startswith(f"f{i} OK"), tagged
                assert fetches == MESSAGES
                outcomes["ok"] += 1
            # The session kept its state: it still answers, with the mailbox selected.
            r = c.cmd("UID FETCH 1 (UID)", timeout=30)
            assert r.status == "OK", r
        print("throttle outcomes", outcomes)
        assert outcomes["ok"] + outcomes["limit"] == FETCHERS
        # The FETCHes really queued (a parked command is logged at debug level), and the
        # administrator's view agrees: nothing runs or waits now, and how many waited.
        assert "waits for policy throttle" in server.log()
        (mod,) = [m for m in sluicectl_json(server, "status")["modules"] if m["name"] == "throttle"]
        fig = mod["figures"]
        assert fig["fetch_per_user"] == 1 and fig["running_fetch"] == 0 and fig["queue_fetch"] == 0
        assert fig["waited_fetch"] >= 1
        assert fig["refused_fetch_wait"] == outcomes["limit"]
    finally:
        for c in conns:
            c.close()


def test_queued_fetch_runs_when_the_slot_frees_and_a_hangup_leaves_the_queue(start_sluice):
    server = start_sluice(modules_extra=throttle_block(fetch_per_user=1, fetch_wait="30s"),
                          settings={"log_level": "debug"})
    fill_inbox(server, count=1500)
    a, b, c = server.login(), server.login(), server.login()
    try:
        for x in (a, b, c):
            assert x.cmd("SELECT INBOX").status == "OK"
        # b and c queue behind a; c gives up and hangs up; b still gets its answer.
        a.send(f"a1 {FETCH}\r\n")
        b.send(f"b1 {FETCH}\r\n")
        c.send(f"c1 {FETCH}\r\n")
        c.close()
        fa, ta = read_tagged(a, "a1", timeout=30)
        fb, tb = read_tagged(b, "b1", timeout=30)
        assert ta.startswith("a1 OK") and fa == 1500, ta
        assert tb.startswith("b1 OK") and fb == 1500, tb
        assert b.cmd("NOOP").status == "OK"
    finally:
        a.close()
        b.close()
