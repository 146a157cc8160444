"""The benchmark's load client (build/tools/bench/sluice-bench) against a real sluiced.

tools/bench/compare trusts this client to do what the table says and to fail when a
scenario cannot run; these tests check both on small sizes: the bigbox steps answer for
every message, find what the corpus generator planted and leave the mailbox with the
expected count; mixed completes imaptest-profile sessions; idle measures the server
process; a refused login makes the client exit 1.
"""
import subprocess
import sys

from sluice_testlib import REPO, build_dir

GEN = REPO / "tools/bench/gen-maildir"


def bench_bin():
    return build_dir() / "tools/bench/sluice-bench"


def gen(maildir, count, seed=1):
    subprocess.run([sys.executable, str(GEN), "--maildir", str(maildir), "--count", str(count),
                    "--seed", str(seed)], check=True, capture_output=True, timeout=60)


def bench(*args, timeout=60):
    p = subprocess.run([str(bench_bin()), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    results = {}
    for line in p.stdout.splitlines():
        tag, key, value, unit, note = line.split("\t")
        assert tag == "RESULT", line
        results[key] = (float(value), unit, note)
    return p, results


def test_bigbox_steps_answer_for_every_message_and_change_the_mailbox(start_sluice, hashed):
    server = start_sluice(passwd_lines=[hashed("big", "pw")])
    gen(server.mail_dir / "big", 1000)
    p, r = bench("bigbox", "--port", server.plain_port, "--user-prefix", "big", "--users", 0,
                 "--password", "pw", "--steps",
                 "select:first,fetch-flags,fetch-envelope,search-body,search-text,copy,move,"
                 "store,expunge,append,select:after",
                 "--copy", 100, "--move", 100, "--expunge", 100, "--append", 10,
                 "--append-dir", server.mail_dir / "big")
    assert p.returncode == 0, p.stderr
    assert r["bigbox.messages_first"][0] == 1000
    # gen-maildir plants the rare word in every 1000th message: exactly one here.
    assert r["bigbox.search_body_hits"][0] == 1
    assert r["bigbox.search_text_hits"][0] > 0
    for key in ("select_first", "fetch_flags", "fetch_envelope", "copy_100", "move_100",
                "store_flagged", "expunge_100", "append_10"):
        assert r[f"bigbox.{key}"][1] == "s" and r[f"bigbox.{key}"][2] == "", key
    assert r["bigbox.append_one.count"][0] == 10
    # 1000 - 100 moved - 100 expunged + 10 appended, as a new SELECT sees it.
    assert r["bigbox.messages_after"][0] == 810
    with server.login("big", "pw") as c:
        status = c.cmd("STATUS BenchCopy (MESSAGES)")
        assert "MESSAGES 100" in status.untagged[0], status
        status = c.cmd("STATUS BenchMove (MESSAGES)")
        assert "MESSAGES 100" in status.untagged[0], status


def test_mixed_runs_whole_sessions_in_the_imaptest_order(start_sluice, hashed):
    users = [f"mix{i}" for i in (1, 2, 3)]
    server = start_sluice(passwd_lines=[hashed(u, "pw") for u in users])
    for u in users:
        gen(server.mail_dir / u, 30)
    p, r = bench("mixed", "--port", server.plain_port, "--user-prefix", "mix", "--users", 3,
                 "--password", "pw", "--clients", 3, "--seconds", 1, "--threshold", 30,
                 "--append-dir", server.mail_dir / "mix1")
    assert p.returncode == 0, p.stderr
    assert r["mixed.3.commands_per_s"][0] > 0
    assert r["mixed.3.sessions_per_s"][0] > 0
    for cmd in ("LOGIN", "SELECT", "FETCH", "FETCH_BODY", "LOGOUT"):
        assert r[f"mixed.3.{cmd}.count"][0] > 0, cmd
        assert r[f"mixed.3.{cmd}.p99"][0] >= r[f"mixed.3.{cmd}.p50"][0], cmd
    assert r["mixed.3.tolerated_no"][0] == 0


def test_idle_measures_the_server_process(start_sluice, hashed):
    server = start_sluice(passwd_lines=[hashed("idle1", "pw"), hashed("idle2", "pw")])
    for u in ("idle1", "idle2"):
        gen(server.mail_dir / u, 5)
    p, r = bench("idle", "--port", server.tls_port, "--tls", "--pid", server.proc.pid,
                 "--count", 20, "--user-prefix", "idle", "--users", 2, "--password", "pw",
                 "--settle", 0.2, "--sources", 2)
    assert p.returncode == 0, p.stderr
    assert r["idle.tls.20.processes"][0] == 1
    assert r["idle.tls.20.rss_total"][0] > 1  # MiB: a running sluiced is never this small
    assert r["idle.tls.20.rss_per_conn"][1] == "KiB"
    assert server.wait_for_log("user=idle2", "login ok")


def test_client_exits_1_when_the_server_refuses_the_login(start_sluice, hashed):
    server = start_sluice(passwd_lines=[hashed("big", "pw")], settings={"auth_failure_delay": "0s"})
    p, r = bench("bigbox", "--port", server.plain_port, "--user-prefix", "big", "--users", 0,
                 "--password", "wrong", "--steps", "select")
    assert p.returncode == 1
    assert "LOGIN" in p.stderr and "AUTHENTICATIONFAILED" in p.stderr, p.stderr
    assert r == {}


def test_client_exits_2_on_a_usage_error():
    p, _ = bench("bigbox", "--steps", "select")  # no --port
    assert p.returncode == 2 and "usage" in p.stderr
