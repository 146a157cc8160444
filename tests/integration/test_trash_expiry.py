"""Trash expiry (trash_expiry = Trash:7d, Junk:30d): old messages leave the named folders
after a login, without making the login wait for it.
"""
import os
import re
import subprocess
import time

from sluice_testlib import build_dir

DAY = 86400


def put(folder, name, age_days, subject):
    """A message file in `folder`/cur whose mtime (its INTERNALDATE) is `age_days` old."""
    cur = folder / "cur"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    path = cur / f"{name}:2,S"
    path.write_bytes(f"Subject: {subject}\r\n\r\nbody\r\n".encode())
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def subjects(c, mailbox):
    assert c.cmd(f"EXAMINE {mailbox}").status == "OK"
    r = c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.cmd("UNSELECT")
    return sorted(re.findall(r"Subject: (\S+)", "\n".join(r.untagged)))


def test_old_messages_leave_after_login_and_the_login_does_not_wait(start_sluice):
    server = start_sluice(settings={"trash_expiry": "Trash:7d, Junk:30d"})
    root = server.mail_dir / "demo"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    many = 5000  # enough that removing them takes far longer than a login's answer
    for i in range(many):
        put(root / ".Trash", f"1500000000.M{i}P1.old", 365 * 3, f"old{i}")
    put(root / ".Trash", "1700000000.M1P1.new", 0, "fresh")
    put(root / ".Trash", "1700000000.M2P1.new", 6, "sixdays")
    put(root / ".Junk", "1700000000.M3P1.j", 10, "junk10")
    put(root / ".Junk", "1700000000.M4P1.j", 40, "junk40")
    put(root / ".Archive", "1500000000.M5P1.a", 3000, "ancient")
    put(root, "1500000000.M6P1.i", 3000, "inboxold")

    c = server.connect()
    try:
        started = time.monotonic()
        r = c.cmd("LOGIN demo demo")
        login_s = time.monotonic() - started
        assert r.status == "OK", r
        # Right after the answer the old messages are still there: the expiry runs on.
        left = len(os.listdir(root / ".Trash" / "cur"))
        assert left > 2, f"the login answered only after the expiry ({left} left)"
        print(f"{left} of {many + 2} messages were still in Trash when the answer came")
        line = server.wait_for_log("trash expiry removed", "from Trash", timeout=30)
        assert f"removed {many} of {many + 2} messages from Trash (older than 7d)" in line, line
        expiry_ms = int(re.search(r"in (\d+) ms", line).group(1))
        print(f"login answered in {login_s * 1000:.0f} ms; the expiry of {many} messages "
              f"took {expiry_ms} ms after it")
        server.wait_for_log("trash expiry removed", "from Junk", timeout=10)
        assert sorted(os.listdir(root / ".Trash" / "cur")) == [
            "1700000000.M1P1.new:2,S", "1700000000.M2P1.new:2,S"]
        assert subjects(c, "Trash") == ["fresh", "sixdays"]
        assert subjects(c, "Junk") == ["junk10"]
        assert subjects(c, "Archive") == ["ancient"]  # not configured: untouched
        assert subjects(c, "INBOX") == ["inboxold"]
    finally:
        c.close()


def test_a_session_with_trash_selected_hears_of_the_expunges(start_sluice):
    server = start_sluice(settings={"trash_expiry": "Trash:7d"})
    root = server.mail_dir / "demo"
    with server.login() as c:
        assert c.cmd("CREATE Trash").status == "OK"
        put(root / ".Trash", "1500000000.M1P1.old", 30, "old")
        put(root / ".Trash", "1700000000.M2P1.new", 1, "new")
        assert "* 2 EXISTS" in c.cmd("SELECT Trash").untagged
        server.login().close()  # another login of the same user runs the expiry
        server.wait_for_log("trash expiry removed 1 of 2 messages from Trash")
        r = c.cmd("NOOP")
        assert "* 1 EXPUNGE" in r.untagged, r
        assert c.cmd("FETCH 1 (UID)").status == "OK"


def test_trash_expiry_is_off_by_default(sluice):
    root = sluice.mail_dir / "demo"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    put(root / ".Trash", "1500000000.M1P1.old", 3000, "old")
    with sluice.login() as c:
        assert subjects(c, "Trash") == ["old"]
    assert "trash expiry" not in sluice.log()


def test_bad_trash_expiry_is_reported_with_its_line(make_config):
    for value, words in [("Trash:7", "needs a unit"), ("Trash", "colon"),
                         ("INBOX:7d", "INBOX"), ("Trash:30m", "at least")]:
        conf = make_config(settings={"trash_expiry": value})
        r = subprocess.run([str(build_dir() / "sluiced"), "-t", "-c", str(conf.conf_path)],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1, (value, r)
        lineno = next(n for n, l in enumerate(conf.conf_path.read_text().splitlines(), 1)
                      if l.startswith("trash_expiry"))
        assert f"{conf.conf_path}:{lineno}: 'trash_expiry'" in r.stderr, (value, r.stderr)
        assert words in r.stderr, (value, r.stderr)
