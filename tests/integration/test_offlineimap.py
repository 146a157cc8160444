"""Interoperability with OfflineIMAP (Debian's offlineimap3), a two-way IMAP <-> Maildir syncer.

A full sync over implicit TLS (certificate verified) brings every folder and flag down; an
incremental sync then carries changes both ways: on the server a new message, a flag and an
expunge; locally a new message and a flag mutt-style. A last run finds nothing to do.
"""
import imaplib
import subprocess

from sluice_testlib import HOST, client_tls_context

MSG = "From: a@example.org\r\nSubject: {}\r\n\r\nbody of {}\r\n"


def offlineimap_config(path, port, cert, local, meta):
    path.write_text(f"""[general]
accounts = test
metadata = {meta}
ui = quiet

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}
sep = .

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {port}
remoteuser = demo
remotepass = demo
ssl = yes
sslcacertfile = {cert}
maxconnections = 2
""")


def run_offlineimap(tool, rc):
    r = subprocess.run([tool("offlineimap"), "-c", str(rc), "-o", "-u", "basic"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def local_messages(folder):
    """{subject: flags letters} of a local Maildir folder, as offlineimap wrote it."""
    out = {}
    for p in sorted(folder.glob("*/*")):
        # offlineimap stores messages with LF line ends.
        subject = next(line for line in p.read_bytes().splitlines()
                       if line.startswith(b"Subject: "))[9:].decode()
        out[subject] = p.name.split(":2,")[1] if ":2," in p.name else ""
    return out


def server_messages(port, mailbox):
    """{subject: set of flags} as the server reports them."""
    c = imaplib.IMAP4_SSL(HOST, port, ssl_context=client_tls_context(), timeout=10)
    try:
        c.login("demo", "demo")
        typ, data = c.select(mailbox, readonly=True)
        assert typ == "OK", data
        if data == [b"0"]:
            return {}
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        out = {}
        for part in data:
            if not isinstance(part, tuple):
                continue
            subject = part[1].strip().decode()[len("Subject: "):]
            flags = part[0].decode().split("FLAGS (")[1].split(")")[0]
            out[subject] = set(flags.split()) - {"\\Recent"}
        return out
    finally:
        c.logout()


def test_offlineimap_full_then_incremental_sync(start_sluice, tool, tls_files, tmp_path):
    server = start_sluice()
    c = imaplib.IMAP4(HOST, server.plain_port, timeout=10)
    c.login("demo", "demo")
    c.create("Lists.debian")
    for i in range(3):
        c.append("INBOX", "(\\Seen)" if i == 0 else None, None, MSG.format(f"m{i}", i).encode())
    c.append("Lists.debian", "(\\Flagged)", None, MSG.format("list", "list").encode())
    c.logout()

    local, meta, rc = tmp_path / "local", tmp_path / "meta", tmp_path / "offlineimaprc"
    offlineimap_config(rc, server.tls_port, tls_files[0], local, meta)

    # Full sync: every folder, message and flag comes down.
    run_offlineimap(tool, rc)
    assert local_messages(local / "INBOX") == {"m0": "S", "m1": "", "m2": ""}
    assert local_messages(local / "Lists.debian") == {"list": "F"}

    # Changes on the server: a new message, a flag, an expunge.
    c = imaplib.IMAP4(HOST, server.plain_port, timeout=10)
    c.login("demo", "demo")
    c.append("INBOX", None, None, MSG.format("m3", 3).encode())
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Answered)")
    c.store("3", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    # Changes in the local Maildir: a new message, and m0 flagged as mutt does it (rename).
    (local / "INBOX" / "new" / "1700000000.local_1.host").write_bytes(
        MSG.format("written offline", "offline").encode())
    m0 = next(p for p in (local / "INBOX" / "cur").iterdir() if b"m0" in p.read_bytes())
    m0.rename(m0.with_name(m0.name.split(":2,")[0] + ":2,FS"))

    run_offlineimap(tool, rc)
    assert local_messages(local / "INBOX") == {
        "m0": "FS", "m1": "R", "m3": "", "written offline": ""}
    assert server_messages(server.tls_port, "INBOX") == {
        "m0": {"\\Seen", "\\Flagged"}, "m1": {"\\Answered"}, "m3": set(),
        "written offline": set()}
    assert server_messages(server.tls_port, "Lists.debian") == {"list": {"\\Flagged"}}

    # Nothing changed since: a third run leaves both sides as they are.
    before = (local_messages(local / "INBOX"), server_messages(server.tls_port, "INBOX"))
    run_offlineimap(tool, rc)
    after = (local_messages(local / "INBOX"), server_messages(server.tls_port, "INBOX"))
    assert after == before
