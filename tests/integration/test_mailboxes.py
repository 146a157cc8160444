"""Mailbox management over the wire: LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE.

Each test drives the real sluiced with the maildir storage module and checks both the
IMAP answer a client relies on and, where it matters, what landed on disk.
"""
import imaplib

from sluice_testlib import HOST


def listing(c, ref='""', pattern="*", verb="LIST"):
    r = c.cmd(f"{verb} {ref} {pattern}")
    assert r.status == "OK", r
    return [line for line in r.untagged if line.startswith(f"* {verb} ")]


def test_new_user_lists_only_inbox(sluice):
    with sluice.login() as c:
        assert listing(c) == ['* LIST (\\HasNoChildren) "." INBOX']


def test_create_makes_maildir_folder_on_disk_and_lists_children(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Lists.debian").status == "OK"
        assert c.cmd("CREATE Sent").status == "OK"
        assert listing(c) == [
            '* LIST (\\HasNoChildren) "." INBOX',
            '* LIST (\\HasChildren) "." Lists',
            '* LIST (\\HasNoChildren) "." Lists.debian',
            '* LIST (\\HasNoChildren) "." Sent',
        ]
    folder = sluice.mail_dir / "demo" / ".Lists.debian"
    assert (folder / "cur").is_dir() and (folder / "new").is_dir() and (folder / "tmp").is_dir()


def test_percent_matches_one_level_and_star_all(sluice):
    with sluice.login() as c:
        c.cmd("CREATE a.b.c")
        assert [l.split()[-1] for l in listing(c, pattern="%")] == ["INBOX", "a"]
        assert [l.split()[-1] for l in listing(c, pattern="a.%")] == ["a.b"]
        assert [l.split()[-1] for l in listing(c, pattern="a*")] == ["a", "a.b", "a.b.c"]
        assert [l.split()[-1] for l in listing(c, ref="a.", pattern="%")] == ["a.b"]


def test_empty_pattern_returns_the_delimiter(sluice):
    with sluice.login() as c:
        assert listing(c, pattern='""') == ['* LIST (\\Noselect) "." ""']


def test_international_names_travel_as_modified_utf7(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Entw&APw-rfe").status == "OK"
        assert '* LIST (\\HasNoChildren) "." Entw&APw-rfe' in listing(c)
    assert (sluice.mail_dir / "demo" / ".Entw&APw-rfe").is_dir()


def test_names_that_would_escape_the_mail_root_are_refused(sluice):
    with sluice.login() as c:
        for name in ['"../etc"', '"a..b"', '".hidden"', '"x/y"', '"a.b.."', "&Jjo"]:
            r = c.cmd(f"CREATE {name}")
            assert r.status == "NO" and r.code() == "CANNOT", (name, r)
        assert listing(c) == ['* LIST (\\HasNoChildren) "." INBOX']
    assert not (sluice.dir / "etc").exists()


def test_create_existing_and_inbox_get_alreadyexists(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Sent").status == "OK"
        for name in ["Sent", "INBOX", "inbox"]:
            r = c.cmd(f"CREATE {name}")
            assert r.status == "NO" and r.code() == "ALREADYEXISTS", r


def test_create_with_trailing_delimiter_creates_the_parent(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Projects.").status == "OK"
        assert '* LIST (\\HasNoChildren) "." Projects' in listing(c)


def test_delete_missing_is_nonexistent_and_inbox_cannot_be_deleted(sluice):
    with sluice.login() as c:
        r = c.cmd("DELETE Nope")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r
        r = c.cmd("DELETE INBOX")
        assert r.status == "NO" and r.code() == "CANNOT", r


def test_delete_parent_keeps_children_under_a_noselect_parent(sluice):
    with sluice.login() as c:
        c.cmd("CREATE Lists.debian")
        assert c.cmd("DELETE Lists").status == "OK"
        assert listing(c, pattern="Lists*") == [
            '* LIST (\\Noselect \\HasChildren) "." Lists',
            '* LIST (\\HasNoChildren) "." Lists.debian',
        ]


def test_rename_moves_children(sluice):
    with sluice.login() as c:
        c.cmd("CREATE Old.child")
        assert c.cmd("RENAME Old New").status == "OK"
        names = [l.split()[-1] for l in listing(c)]
        assert names == ["INBOX", "New", "New.child"]
        r = c.cmd("RENAME Missing Other")
        assert r.status == "NO" and r.code() == "NONEXISTENT", r
        c.cmd("CREATE Taken")
        r = c.cmd("RENAME New Taken")
        assert r.status == "NO" and r.code() == "ALREADYEXISTS", r


def test_subscriptions_list_with_lsub_even_after_delete(sluice):
    with sluice.login() as c:
        c.cmd("CREATE Sent")
        c.cmd("CREATE Lists.debian")
        assert c.cmd("SUBSCRIBE Sent").status == "OK"
        assert c.cmd("SUBSCRIBE Lists.debian").status == "OK"
        assert listing(c, verb="LSUB") == ['* LSUB () "." Lists.debian', '* LSUB () "." Sent']
        # RFC 3501: '%' shows the unsubscribed parent of a subscribed child as \Noselect.
        assert listing(c, verb="LSUB", pattern="%") == ['* LSUB (\\Noselect) "." Lists',
                                                       '* LSUB () "." Sent']
        c.cmd("DELETE Sent")
        assert '* LSUB (\\Noselect) "." Sent' in listing(c, verb="LSUB")
        assert c.cmd("UNSUBSCRIBE Sent").status == "OK"
        assert listing(c, verb="LSUB") == ['* LSUB () "." Lists.debian']


def test_mailbox_commands_need_login(sluice):
    with sluice.connect() as c:
        for cmd in ["LIST \"\" *", "CREATE x", "DELETE x", "RENAME a b", "SUBSCRIBE x", "LSUB \"\" *"]:
            r = c.cmd(cmd)
            assert r.status == "BAD" and "login" in r.text, (cmd, r)


def test_bad_arguments_get_bad_with_usage(sluice):
    with sluice.login() as c:
        r = c.cmd("LIST onlyone")
        assert r.status == "BAD" and "usage" in r.text, r
        r = c.cmd("RENAME x")
        assert r.status == "BAD", r


def test_imaplib_client_manages_folders(sluice):
    c = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        c.login("demo", "demo")
        assert c.create("Archive.2024")[0] == "OK"
        typ, data = c.list('""', "*")
        assert typ == "OK"
        assert b'(\\HasNoChildren) "." Archive.2024' in data
        assert c.rename("Archive.2024", "Archive.old")[0] == "OK"
        assert c.delete("Archive.old")[0] == "OK"
        assert c.delete("Archive")[0] == "OK"
        typ, data = c.list('""', "*")
        assert data == [b'(\\HasNoChildren) "." INBOX']
    finally:
        c.logout()


def test_delimiter_slash_when_configured(start_sluice):
    server = start_sluice(settings={"mailbox_delimiter": "/"})
    with server.login() as c:
        assert c.cmd("CREATE Lists/debian").status == "OK"
        assert '* LIST (\\HasNoChildren) "/" Lists/debian' in listing(c)
        r = c.cmd("CREATE v1.2")
        assert r.status == "NO", r  # a dot inside a Maildir++ folder name cannot be stored
    assert (server.mail_dir / "demo" / ".Lists.debian").is_dir()


def _deliver(folder, name, body=b"Subject: hi\r\n\r\nhello\r\n"):
    (folder / "cur").mkdir(parents=True, exist_ok=True)
    (folder / "cur" / name).write_bytes(body)


def _select_codes(c, mailbox):
    r = c.cmd(f"SELECT {mailbox}")
    assert r.status == "OK", r
    codes = {}
    for line in r.untagged:
        if line.startswith("* OK [UIDVALIDITY ") or line.startswith("* OK [UIDNEXT "):
            word, value = line[len("* OK ["):].split("]")[0].split()
            codes[word] = int(value)
    return codes


def test_rename_keeps_uidvalidity_and_uids_of_the_mailbox_and_its_children(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Old.child").status == "OK"
        root = sluice.mail_dir / "demo"
        _deliver(root / ".Old", "1700000000.M1P1Q1.test:2,S")
        _deliver(root / ".Old.child", "1700000000.M2P1Q1.test:2,")
        before = _select_codes(c, "Old")
        child_before = _select_codes(c, "Old.child")
        assert before["UIDNEXT"] == 2 and child_before["UIDNEXT"] == 2
        c.cmd("UNSELECT")
        assert c.cmd("RENAME Old New").status == "OK"
        assert _select_codes(c, "New") == before
        assert _select_codes(c, "New.child") == child_before


def test_deleted_and_recreated_mailbox_gets_a_new_uidvalidity(sluice):
    with sluice.login() as c:
        assert c.cmd("CREATE Box").status == "OK"
        first = _select_codes(c, "Box")
        c.cmd("UNSELECT")
        assert c.cmd("DELETE Box").status == "OK"
        assert c.cmd("CREATE Box").status == "OK"
        second = _select_codes(c, "Box")
        # RFC 3501: a new mailbox with an old name must not reuse the old UIDVALIDITY.
        assert second["UIDVALIDITY"] != first["UIDVALIDITY"], (first, second)


def test_namespace_reports_one_personal_namespace_with_the_delimiter(sluice):
    with sluice.login() as c:
        assert "NAMESPACE" in c.capabilities()
        r = c.cmd("NAMESPACE")
        assert r.status == "OK" and r.untagged == ['* NAMESPACE (("" ".")) NIL NIL'], r
        assert c.cmd("NAMESPACE extra").status == "BAD"
    with sluice.connect() as c:
        assert c.cmd("NAMESPACE").status == "BAD"


def test_rename_inbox_moves_its_messages_and_leaves_inbox_empty(sluice):
    with sluice.login() as c:
        for i in range(2):
            msg = f"Subject: m{i}\r\n\r\nx\r\n"
            c.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n{msg}\r\n")
            assert c.read_until_tagged("a").status == "OK"
        assert c.cmd("RENAME INBOX Old-Inbox").status == "OK"
        assert "* 0 EXISTS" in c.cmd("SELECT INBOX").untagged
        assert "* 2 EXISTS" in c.cmd("SELECT Old-Inbox").untagged
