"""A client that behaves like Thunderbird, against the default limits.

Thunderbird keeps up to five connections per account cached, people have several accounts,
and all of them come from one address (one computer, or an office behind NAT). It idles on
INBOX, opens other folders on its other connections, and when it comes back after a
disconnect it resynchronises each folder with CONDSTORE instead of fetching every flag
again. This test does exactly that for three accounts from 127.0.0.1 with `connlimit` and
`throttle` enabled at their defaults, and checks that everything succeeds: no connection
refused, new mail pushed to the idling connection, and the resync after reconnecting
returning only what changed meanwhile.
"""

import re
import time

from sluice_testlib import append_message

ACCOUNTS = {"tb1": "pw-one", "tb2": "pw-two", "tb3": "pw-three"}
FOLDERS = ["Archive", "Sent", "Drafts", "Trash"]


def defaults_block():
    return "policy connlimit {\n}\npolicy throttle {\n}\n"


def highestmodseq(resp):
    for line in resp.untagged + [resp.tagged]:
        m = re.search(r"[\[(]HIGHESTMODSEQ (\d+)[\])]", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no HIGHESTMODSEQ in {resp}")


def open_account(server, user, password):
    """Five connections as Thunderbird opens them: INBOX idling, four others on folders."""
    conns = []
    for i in range(5):
        c = server.connect()
        assert c.greeting.startswith("* OK"), c.greeting
        r = c.cmd(f"LOGIN {user} {password}")
        assert r.status == "OK", r
        assert c.cmd("ENABLE CONDSTORE").status == "OK"
        conns.append(c)
    first = conns[0]
    for folder in FOLDERS:
        first.cmd(f"CREATE {folder}")
    assert first.cmd('LIST "" "*"').status == "OK"
    for c, folder in zip(conns[1:], FOLDERS):
        r = c.cmd(f"SELECT {folder} (CONDSTORE)")
        assert r.status == "OK", r
    return conns


def start_idle(c):
    r = c.cmd("SELECT INBOX (CONDSTORE)")
    assert r.status == "OK", r
    c.send("idle1 IDLE\r\n")
    assert c.readline().startswith("+ "), "IDLE was not accepted"
    return highestmodseq(r)


def test_three_accounts_of_five_connections_idle_and_resync(start_sluice, hashed):
    server = start_sluice(passwd_lines=[hashed(u, p) for u, p in ACCOUNTS.items()],
                          modules_extra=defaults_block())
    accounts = {}
    try:
        for user, password in ACCOUNTS.items():
            accounts[user] = open_account(server, user, password)
        # 15 connections from one address, all admitted under the defaults.
        assert sum(len(c) for c in accounts.values()) == 15

        # INBOX idles on each account's first connection, with two messages in it.
        modseqs = {}
        for user, conns in accounts.items():
            append_message(conns[1], 1, sender=user)
            append_message(conns[1], 2, sender=user)
            modseqs[user] = start_idle(conns[0])

        # New mail arrives through another connection of the same account: pushed at once.
        for user, conns in accounts.items():
            append_message(conns[2], 3, sender=user)
            started = time.monotonic()
            line = conns[0].readline(timeout=2)
            assert re.match(r"\* \d+ EXISTS", line), line
            assert time.monotonic() - started < 1.0

        # The client leaves IDLE, remembers what it knows and disconnects everything.
        known = {}
        for user, conns in accounts.items():
            idler = conns[0]
            idler.send("DONE\r\n")
            r = idler.read_until_tagged("idle1")
            assert r.status == "OK", r
            r = idler.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
            assert r.status == "OK", r
            assert len([l for l in r.untagged if " FETCH " in l]) == 3, r
            known[user] = highestmodseq(idler.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
            for c in conns:
                c.cmd("LOGOUT")
                c.close()

        # While it is away, one flag changes on each account.
        for user, password in ACCOUNTS.items():
            with server.connect() as other:
                assert other.cmd(f"LOGIN {user} {password}").status == "OK"
                assert other.cmd("SELECT INBOX").status == "OK"
                assert other.cmd("UID STORE 2 +FLAGS (\\Flagged)").status == "OK"

        # Reconnecting: five connections again per account, and a CONDSTORE resync of INBOX
        # that returns the one changed message, not the whole folder.
        for user, password in ACCOUNTS.items():
            conns = open_account(server, user, password)
            accounts[user] = conns
            r = conns[0].cmd("SELECT INBOX (CONDSTORE)")
            assert r.status == "OK", r
            assert highestmodseq(r) > known[user]
            r = conns[0].cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known[user]})")
            assert r.status == "OK", r
            changed = [l for l in r.untagged if " FETCH " in l]
            assert len(changed) == 1 and "UID 2" in changed[0] and "\\Flagged" in changed[0], r
        for conns in accounts.values():
            for c in conns:
                assert c.cmd("NOOP").status == "OK"
    finally:
        for conns in accounts.values():
            for c in conns:
                c.close()
