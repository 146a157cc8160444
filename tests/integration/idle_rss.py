#!/usr/bin/env python3
"""Resident memory of sluiced holding many idle, logged-in connections (plain and TLS).

Not a pytest test (it takes a while and measures rather than asserts). Run it as
    python3 tests/integration/idle_rss.py [--build-dir build] [-n 1000]
It starts sluiced from the build folder on free loopback ports, reads VmRSS from
/proc/PID/status after start, after N logged-in plain connections, and after N more
logged-in TLS connections, then prints the figures and the per-connection cost.
"""

import argparse
import os
import pathlib
import resource
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sluice_testlib as lib  # noqa: E402


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_logged_in(server, n, tls):
    conns = []
    for i in range(n):
        c = server.connect(tls=tls, timeout=60)
        c.send(f"l{i} LOGIN demo demo\r\n")
        conns.append(c)
    for i, c in enumerate(conns):
        r = c.read_until_tagged(f"l{i}", timeout=120)
        if r.status != "OK":
            raise RuntimeError(f"login {i} failed: {r}")
    return conns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("-n", type=int, default=1000, help="connections of each kind")
    args = ap.parse_args()
    os.environ["SLUICE_BUILD_DIR"] = str(pathlib.Path(args.build_dir).resolve())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        cert, key = lib.make_cert(tmp / "tls")
        server = lib.Server(tmp / "sluice", cert, key, [lib.hash_password("demo", "demo")],
                            settings={"preauth_timeout": "5m", "autologout": "30m"})
        server.start()
        try:
            time.sleep(0.5)
            pid = server.proc.pid
            base = rss_kib(pid)
            plain = open_logged_in(server, args.n, tls=False)
            time.sleep(1)
            after_plain = rss_kib(pid)
            tls = open_logged_in(server, args.n, tls=True)
            time.sleep(1)
            after_tls = rss_kib(pid)
            for c in plain + tls:
                assert c.cmd("NOOP", timeout=30).status == "OK"
            time.sleep(1)
            after_noop = rss_kib(pid)
            for c in plain + tls:
                c.close()
        finally:
            server.stop()

    n = args.n
    print(f"sluiced {server.proc.args[0]}, {n} plain + {n} TLS idle logged-in connections")
    print(f"  started:                 {base / 1024:8.1f} MiB")
    print(f"  + {n} plain:           {after_plain / 1024:8.1f} MiB"
          f"  ({(after_plain - base) * 1024 / n / 1024:.1f} KiB each)")
    print(f"  + {n} TLS:             {after_tls / 1024:8.1f} MiB"
          f"  ({(after_tls - after_plain) * 1024 / n / 1024:.1f} KiB each)")
    print(f"  after a NOOP on each:    {after_noop / 1024:8.1f} MiB")


if __name__ == "__main__":
    main()
