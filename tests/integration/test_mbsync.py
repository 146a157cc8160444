"""Interoperability with mbsync (Debian's isync), a real two-way IMAP <-> Maildir syncer.

mbsync pulls a whole account into a local Maildir, a second run transfers nothing, and
changes made locally (a flag, a new message) are pushed back and seen over IMAP. Then the
Maildir mbsync wrote is served by Sluice itself, as mail written by another program. A
last round changes both sides at once (new mail, a flag and a deletion on the server, a
deletion locally), syncs, and checks each change arrived and a further run changes nothing.
"""
import hashlib
import imaplib
import subprocess

import pytest

from sluice_testlib import HOST


def mbsync_config(path, port, cert, local):
    path.write_text(f"""IMAPAccount test
Host localhost
Port {port}
User demo
Pass demo
SSLType STARTTLS
CertificateFile {cert}

IMAPStore remote
Account test

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
""")


def run_mbsync(tool, rc):
    r = subprocess.run([tool("mbsync"), "-c", str(rc), "-a"], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_mbsync_two_way_sync_and_serving_its_maildir(start_sluice, tool, tls_files, tmp_path,
                                                     hashed):
    local = tmp_path / "local"
    local.mkdir()
    copy_line = hashed("copy", "copy") + f"::::::mail={local}/INBOX"
    server = start_sluice(passwd_lines=[hashed("demo", "demo"), copy_line])
    c = imaplib.IMAP4(HOST, server.plain_port)
    c.login("demo", "demo")
    c.create("Lists.debian")
    for i in range(3):
        c.append("INBOX", "(\\Seen)" if i == 0 else None, None,
                 f"Subject: msg {i}\r\nFrom: a@example.org\r\n\r\nhello {i}\r\n".encode())
    c.append("Lists.debian", None, None, b"Subject: list\r\n\r\nlist mail\r\n")
    c.logout()

    rc = tmp_path / "mbsyncrc"
    mbsync_config(rc, server.plain_port, tls_files[0], local)
    run_mbsync(tool, rc)
    inbox = sorted(p.name for p in (local / "INBOX").glob("*/*"))
    assert len(inbox) == 3, inbox
    assert sum(1 for p in inbox if p.endswith(":2,S")) == 1, inbox
    assert len(list((local / "Lists" / "debian").glob("*/*"))) == 1

    before = snapshot(local)
    run_mbsync(tool, rc)
    assert snapshot(local) == before, "a second run changed the local copy"

    # Flag one message locally as mutt would (rename), and write a new one.
    victim = next(p for p in (local / "INBOX").glob("*/*") if ",U=2" in p.name)
    victim.rename(local / "INBOX" / "cur" / (victim.name.split(":2,")[0] + ":2,F"))
    (local / "INBOX" / "new" / "1700000000.local_1.host").write_bytes(
        b"Subject: written offline\r\n\r\nbody\r\n")
    run_mbsync(tool, rc)

    c = imaplib.IMAP4(HOST, server.plain_port)
    c.login("demo", "demo")
    c.select("INBOX")
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    text = b" ".join(part[0] + part[1] if isinstance(part, tuple) else part for part in data)
    assert b"UID 2 FLAGS (\\Flagged)" in text, text
    assert b"Subject: written offline" in text, text

    # The Maildir mbsync wrote, served as another user's INBOX.
    c = imaplib.IMAP4(HOST, server.plain_port)
    c.login("copy", "copy")
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"4"], data
    typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    text = b" ".join(part[0] + part[1] if isinstance(part, tuple) else part for part in data)
    for subject in (b"msg 0", b"msg 1", b"msg 2", b"written offline"):
        assert subject in text, text
    assert text.count(b"\\Seen") == 1 and text.count(b"\\Flagged") == 1, text

    # Round two, changes on both sides at once: on the server a new message, a flag and a
    # deletion; locally a deletion.
    c = imaplib.IMAP4(HOST, server.plain_port)
    c.login("demo", "demo")
    c.select("INBOX")
    c.append("INBOX", None, None, b"Subject: arrived later\r\nFrom: b@example.org\r\n\r\nnew\r\n")
    c.uid("STORE", "1", "+FLAGS", "(\\Answered)")
    c.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    local_victim = next(p for p in (local / "INBOX").glob("*/*") if ",U=2" in p.name)
    local_victim.unlink()
    run_mbsync(tool, rc)

    names = [p.name for p in (local / "INBOX").glob("*/*")]
    assert not any(",U=3" in n for n in names), names  # the server's deletion came down
    answered = next(n for n in names if ",U=1" in n)
    assert answered.split(":2,")[1] == "RS", answered  # \Answered came down, \Seen kept
    bodies = b"".join(p.read_bytes() for p in (local / "INBOX").glob("*/*"))
    assert b"Subject: arrived later" in bodies  # the server's new mail came down

    c = imaplib.IMAP4(HOST, server.plain_port)
    c.login("demo", "demo")
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "ALL")
    uids = data[0].split()
    c.logout()
    assert b"2" not in uids and b"3" not in uids, uids  # the local deletion went up
    assert len(uids) == 3, uids  # 1, "written offline" and "arrived later"

    before = snapshot(local)
    run_mbsync(tool, rc)
    assert snapshot(local) == before, "a run after the two-sided changes changed the copy again"
