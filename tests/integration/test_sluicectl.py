"""sluicectl and the control socket against a real sluiced.

Every test runs tools/sluicectl (or, for the wire protocol, a raw UNIX socket) against the
control socket of its own server, while real IMAP clients are connected from several
loopback addresses (127.0.0.2 and 127.0.0.3 reach the listener on 127.0.0.1 like any other
address), so the per-address and per-user counts have something to sort.
"""

import json
import os
import socket
import stat
import time

from sluice_testlib import HOST, build_dir, sluicectl, sluicectl_json

KICK_BYE = "* BYE [UNAVAILABLE] Disconnected by the administrator"


def connlimit_block(**settings):
    body = "".join(f"  {k} = {v}\n" for k, v in settings.items())
    return "policy connlimit {\n" + body + "}\n"


def status_when(server, predicate, timeout=5.0):
    """`sluicectl status --json` once predicate(status) holds (the start-up probes and
    closed clients leave the registry a moment after they close)."""
    deadline = time.monotonic() + timeout
    while True:
        st = sluicectl_json(server, "status")
        if predicate(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"status never matched within {timeout}s: {st}")
        time.sleep(0.05)


def open_count(n):
    return lambda st: st["connections"]["open"] == n


def raw_request(server, data):
    """Sends raw bytes to the control socket; returns the parsed answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(server.control_path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # the end of the stream also ends a request line
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.endswith(b"\n") and answer.count(b"\n") == 1, answer
    return json.loads(answer)


def closed_lines(c):
    return [line.rstrip("\r\n") for line in c.wait_closed()]


def test_control_socket_is_mode_0600_and_removed_at_exit(start_sluice):
    server = start_sluice()
    st = os.lstat(server.control_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    server.wait_for_log(f"control socket {server.control_path} (mode 0600)")
    server.stop()
    assert not server.control_path.exists()


def test_status_json_counts_connections_per_address_and_user_most_first(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_connections=50))
    status_when(server, open_count(0))
    conns = [server.login("demo", source="127.0.0.2"), server.login("demo2", source="127.0.0.2"),
             server.login("demo", source="127.0.0.2"), server.login("demo"),
             server.connect(), server.connect(source="127.0.0.3")]
    try:
        assert conns[3].cmd("SELECT INBOX").status == "OK"
        st = status_when(server, open_count(6))
        assert st["ok"] is True
        assert st["connections"] == {"open": 6, "max": 50}
        assert st["addresses"] == [{"address": "127.0.0.2", "connections": 3},
                                   {"address": "127.0.0.1", "connections": 2},
                                   {"address": "127.0.0.3", "connections": 1}]
        assert st["users"] == [{"user": "demo", "connections": 3},
                               {"user": "demo2", "connections": 1}]
        sessions = st["sessions"]
        assert [s["id"] for s in sessions] == sorted(s["id"] for s in sessions)
        assert [(s["address"], s["user"], s["state"]) for s in sessions] == [
            ("127.0.0.2", "demo", "authenticated"), ("127.0.0.2", "demo2", "authenticated"),
            ("127.0.0.2", "demo", "authenticated"), (HOST, "demo", "selected"),
            (HOST, None, "not_authenticated"), ("127.0.0.3", None, "not_authenticated")]
        for s in sessions:
            assert s["command"] is None and s["command_ms"] is None, s
            assert 0 <= s["idle_ms"] <= s["connected_ms"] < 60000, s
            assert s["listener"] == "imap"
        # The oldest has been connected longest.
        assert sessions[0]["connected_ms"] >= sessions[-1]["connected_ms"]
        (mod,) = st["modules"]
        assert mod["name"] == "connlimit" and mod["kind"] == "policy"
        assert mod["figures"]["max_connections"] == 50
        assert mod["figures"]["counted_connections"] == 6
        assert st["server"]["pid"] == server.proc.pid
    finally:
        for c in conns:
            c.close()


def test_status_human_shows_cap_sorted_counts_sessions_and_refusals(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_connections=50, max_per_ip=2))
    status_when(server, open_count(0))
    conns = [server.login("demo2", source="127.0.0.3"), server.login("demo", source="127.0.0.2"),
             server.login("demo", source="127.0.0.2")]
    try:
        with server.connect(source="127.0.0.2") as refused:
            assert refused.greeting.startswith("* BYE [UNAVAILABLE] Too many connections from")
        status_when(server, open_count(3))
        out = sluicectl(server, "status").stdout
        lines = out.splitlines()
        assert "connections: 3/50" in lines, out
        at = lines.index("connections per address")
        assert lines[at + 1].split() == ["COUNT", "ADDRESS"]
        assert lines[at + 2].split() == ["2", "127.0.0.2"]
        assert lines[at + 3].split() == ["1", "127.0.0.3"]
        at = lines.index("connections per user")
        assert lines[at + 2].split() == ["2", "demo"]
        assert lines[at + 3].split() == ["1", "demo2"]
        at = lines.index("sessions")
        assert lines[at + 1].split() == ["ID", "ADDRESS", "USER", "STATE", "COMMAND", "RUNNING",
                                         "CONNECTED", "IDLE"]
        rows = [line.split() for line in lines[at + 2:at + 5]]
        assert [(r[1], r[2], r[3]) for r in rows] == [("127.0.0.3", "demo2", "authenticated"),
                                                     ("127.0.0.2", "demo", "authenticated"),
                                                     ("127.0.0.2", "demo", "authenticated")]
        figures = dict(line.split() for line in lines[lines.index("policy connlimit") + 1:])
        assert figures["max_per_ip"] == "2"
        assert figures["refused_max_per_ip"] == "1"
        assert figures["refused_max_connections"] == "0"
    finally:
        for c in conns:
            c.close()


def test_status_without_a_cap_says_no_limit(start_sluice):
    server = start_sluice()
    status_when(server, open_count(0))
    with server.login():
        st = status_when(server, open_count(1))
        assert st["connections"] == {"open": 1, "max": None}
        assert st["modules"] == []
        assert "connections: 1 (no limit)" in sluicectl(server, "status").stdout.splitlines()


def test_a_command_in_progress_shows_with_its_running_time(start_sluice):
    server = start_sluice()
    with server.connect() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        assert c.readline() == "+ "
        time.sleep(1.0)
        st = status_when(server, lambda st: any(s["command"] for s in st["sessions"]))
        (s,) = [s for s in st["sessions"] if s["command"]]
        assert s["command"] == "AUTHENTICATE"
        assert 900 <= s["command_ms"] < 30000 and s["idle_ms"] is None, s
        row = [line.split() for line in sluicectl(server, "status").stdout.splitlines()
               if "AUTHENTICATE" in line]
        assert len(row) == 1 and row[0][3:5] == ["not", "authenticated"], row
        # Answered: the command is gone and the login shows.
        c.send("AGRlbW8AZGVtbw==\r\n")  # \0demo\0demo
        assert c.read_until_tagged("a1").status == "OK"
        st = sluicectl_json(server, "status")
        (s,) = [s for s in st["sessions"] if s["user"] == "demo"]
        assert s["command"] is None and s["state"] == "authenticated", s


def test_kick_user_closes_only_that_users_sessions(start_sluice):
    server = start_sluice()
    a, b, other = server.login("demo"), server.login("demo", source="127.0.0.2"), server.login("demo2")
    try:
        r = sluicectl(server, "kick", "demo")
        assert r.stdout.strip() == "closed 2 sessions of user demo"
        assert closed_lines(a) == [KICK_BYE]
        assert closed_lines(b) == [KICK_BYE]
        assert other.cmd("NOOP").status == "OK"
        server.wait_for_log('disconnect reason="disconnected by the administrator')
        server.wait_for_log("kick user demo: 2 sessions closed")
        # Nobody left to kick: said so, with exit status 1.
        status_when(server, lambda st: [u["user"] for u in st["users"]] == ["demo2"])
        r = sluicectl(server, "kick", "demo", check=False)
        assert r.returncode == 1 and r.stdout.strip() == "no session of user demo"
    finally:
        for c in (a, b, other):
            c.close()


def test_kick_address_closes_only_that_address(start_sluice):
    server = start_sluice()
    a = server.connect(source="127.0.0.2")
    b = server.login("demo", source="127.0.0.2")
    other = server.login("demo", source="127.0.0.3")
    try:
        r = sluicectl(server, "kick", "::ffff:127.0.0.2", "--json")
        assert json.loads(r.stdout) == {"ok": True, "closed": 2, "address": "127.0.0.2"}
        assert closed_lines(a) == [KICK_BYE]
        assert closed_lines(b) == [KICK_BYE]
        assert other.cmd("NOOP").status == "OK"
        # --user reads an address-like argument as a user name.
        r = sluicectl(server, "kick", "--user", "127.0.0.3", check=False)
        assert r.returncode == 1 and r.stdout.strip() == "no session of user 127.0.0.3"
        assert other.cmd("NOOP").status == "OK"
    finally:
        for c in (a, b, other):
            c.close()


def test_sluicectl_reload_applies_a_higher_limit_without_reconnecting_anyone(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=2))
    status_when(server, open_count(0))
    conns = [server.login(), server.login()]
    try:
        with server.connect() as over:
            assert over.greeting.startswith("* BYE [UNAVAILABLE]"), over.greeting
        status_when(server, open_count(2))
        ids = [s["id"] for s in sluicectl_json(server, "status")["sessions"]]
        server.modules_path.write_text(server.modules_path.read_text().replace(
            "max_per_ip = 2", "max_per_ip = 3"))
        r = sluicectl(server, "reload")
        assert r.stdout.strip() == "configuration reloaded; 2 connections kept"
        server.wait_for_log("reloaded:", "max_per_ip=3 (was 2)")
        with server.connect() as more:
            assert more.greeting.startswith("* OK"), more.greeting
            for c in conns:
                assert c.cmd("NOOP").status == "OK"
            st = status_when(server, open_count(3))
            assert [s["id"] for s in st["sessions"]][:2] == ids
        # Lowering keeps everyone too; only newcomers are refused.
        server.modules_path.write_text(server.modules_path.read_text().replace(
            "max_per_ip = 3", "max_per_ip = 1"))
        assert sluicectl_json(server, "reload")["ok"] is True
        with server.connect() as over:
            assert over.greeting.startswith("* BYE [UNAVAILABLE] Too many connections from your"
                                            " address (1 open)"), over.greeting
        for c in conns:
            assert c.cmd("NOOP").status == "OK"
        assert [s["id"] for s in status_when(server, open_count(2))["sessions"]] == ids
    finally:
        for c in conns:
            c.close()


def test_sluicectl_reload_of_a_broken_file_says_where_and_keeps_the_old(start_sluice):
    server = start_sluice(modules_extra=connlimit_block(max_per_ip=5))
    with server.login() as c:
        text = server.modules_path.read_text()
        server.modules_path.write_text(text.replace("max_per_ip = 5", "max_per_ip = lots"))
        r = sluicectl(server, "reload", check=False)
        assert r.returncode == 1
        assert "reload failed: the previous configuration stays in force" in r.stderr
        assert f"{server.modules_path}:" in r.stderr and "max_per_ip" in r.stderr, r.stderr
        assert c.cmd("NOOP").status == "OK"
        figures = sluicectl_json(server, "status")["modules"][0]["figures"]
        assert figures["max_per_ip"] == 5


def test_garbage_requests_get_a_clear_error(start_sluice):
    server = start_sluice()
    known = "requests are: status, kick user NAME, kick address ADDRESS, reload"
    r = raw_request(server, b"frobnicate\n")
    assert r == {"ok": False, "error": f"unknown request 'frobnicate'; {known}"}
    r = raw_request(server, b"\xff\xfe\x00junk\n")
    assert r["ok"] is False and r["error"].startswith("the request is not a line of UTF-8 text")
    r = raw_request(server, b"s" * 2000)
    assert r == {"ok": False, "error": "the request is longer than 1024 bytes"}
    r = raw_request(server, b"kick address 300.1.2.3\n")
    assert r == {"ok": False, "error": "'300.1.2.3' is not an IPv4 or IPv6 address"}
    # A request ended by the end of the stream instead of a newline is still one line;
    # CRLF is fine too.
    assert raw_request(server, b"status")["ok"] is True
    assert raw_request(server, b"status\r\n")["ok"] is True
    # The server is unharmed.
    with server.login() as c:
        assert c.cmd("NOOP").status == "OK"


def test_sluicectl_without_a_server_says_so(tmp_path):
    import subprocess
    import sys
    from sluice_testlib import SLUICECTL
    r = subprocess.run([sys.executable, str(SLUICECTL), "--socket", str(tmp_path / "nothing"),
                        "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith(f"sluicectl: no control socket at {tmp_path / 'nothing'}")


def test_stale_socket_is_replaced_and_a_live_one_is_left_alone(start_sluice, tmp_path):
    path = tmp_path / "ctl"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, as after a crash
    first = start_sluice(settings={"control_socket": str(path)})
    first.control_path = path
    assert sluicectl_json(first, "status")["server"]["pid"] == first.proc.pid
    # A second server on the same path must not steal it from the first.
    second = start_sluice(settings={"control_socket": str(path)})
    second.wait_for_log(f"control socket {path} not created: another server answers on it")
    assert sluicectl_json(first, "status")["server"]["pid"] == first.proc.pid
    second.stop()
    assert path.exists()  # not the second server's to remove
    first.stop()
    assert not path.exists()


def test_empty_control_socket_turns_it_off(start_sluice):
    server = start_sluice(settings={"control_socket": '""'})
    server.wait_for_log("no control socket (control_socket is empty)")
    assert not server.control_path.exists()


def test_policy_module_of_abi_1_0_is_listed_without_figures(start_sluice):
    fixture = build_dir() / "tests" / "fixtures" / "oldminor.so"
    server = start_sluice(modules_extra=f"policy oldminor {{\n  file = {fixture}\n}}\n")
    st = sluicectl_json(server, "status")
    # Its ops table ends before report: the server must not call past it.
    assert st["modules"] == [{"name": "oldminor", "kind": "policy", "figures": {}}]
    assert "(reports no figures)" in sluicectl(server, "status").stdout


def test_kicked_session_in_the_middle_of_a_login_delay_still_gets_its_bye(start_sluice):
    server = start_sluice(settings={"auth_failure_delay": "3s"})
    status_when(server, open_count(0))
    with server.connect() as c:
        c.send("a1 LOGIN demo wrong\r\n")
        time.sleep(0.2)  # the NO is now held for 3 s
        started = time.monotonic()
        assert sluicectl_json(server, "kick", "127.0.0.1")["closed"] == 1
        lines = closed_lines(c)
        assert lines[-1] == KICK_BYE, lines
        assert time.monotonic() - started < 2.0
