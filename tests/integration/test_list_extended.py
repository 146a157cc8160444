"""Listing mailboxes the way modern clients ask: LIST-EXTENDED (RFC 5258), CHILDREN
(RFC 3348), SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819), and the
default folders a new account gets (default_mailboxes).

Every test talks to the real sluiced over a socket and checks the lines a client parses.
"""
import imaplib

from sluice_testlib import HOST

DEFAULTS = ["Sent", "Drafts", "Trash", "Junk", "Archive"]


def lines(c, command, verb="LIST"):
    r = c.cmd(command)
    assert r.status == "OK", r
    return [l for l in r.untagged if l.startswith(f"* {verb} ")]


def names(list_lines):
    return [l.rsplit(" ", 1)[1] for l in list_lines]


def defaults_server(start_sluice, value=None, **settings):
    """A server with default_mailboxes at its shipped default (None) or at `value`."""
    settings["default_mailboxes"] = value
    return start_sluice(settings=settings)


# ---- default folders ---------------------------------------------------------------------

def test_new_account_gets_subscribed_default_folders_with_special_uses(start_sluice):
    server = defaults_server(start_sluice)
    with server.login() as c:
        assert lines(c, 'LIST "" *') == [
            '* LIST (\\HasNoChildren) "." INBOX',
            '* LIST (\\HasNoChildren \\Archive) "." Archive',
            '* LIST (\\HasNoChildren \\Drafts) "." Drafts',
            '* LIST (\\HasNoChildren \\Junk) "." Junk',
            '* LIST (\\HasNoChildren \\Sent) "." Sent',
            '* LIST (\\HasNoChildren \\Trash) "." Trash',
        ]
        assert names(lines(c, 'LSUB "" *', "LSUB")) == sorted(DEFAULTS)
    root = server.mail_dir / "demo"
    for name in DEFAULTS:
        assert (root / f".{name}" / "cur").is_dir(), name
    # The uses are recorded with the folders, so they follow a rename.
    with server.login() as c:
        assert c.cmd("RENAME Sent Outbox").status == "OK"
        assert '* LIST (\\HasNoChildren \\Sent) "." Outbox' in lines(c, 'LIST "" Outbox')


def test_account_with_a_folder_of_its_own_gets_no_defaults(start_sluice):
    server = defaults_server(start_sluice)
    (server.mail_dir / "demo" / ".Work" / "cur").mkdir(parents=True)
    with server.login() as c:
        assert names(lines(c, 'LIST "" *')) == ["INBOX", "Work"]
    assert not (server.mail_dir / "demo" / ".Sent").exists()


def test_folders_deleted_by_their_owner_do_not_come_back(start_sluice):
    server = defaults_server(start_sluice)
    with server.login() as c:
        for name in DEFAULTS:
            assert c.cmd(f"DELETE {name}").status == "OK"
    with server.login() as c:
        assert names(lines(c, 'LIST "" *')) == ["INBOX"]


def test_existing_folder_named_like_a_default_shows_its_special_use(start_sluice):
    # An account moved from another server: its Sent is \Sent although nothing recorded it.
    server = defaults_server(start_sluice)
    (server.mail_dir / "demo" / ".Sent" / "cur").mkdir(parents=True)
    with server.login() as c:
        assert lines(c, 'LIST "" Sent') == ['* LIST (\\HasNoChildren \\Sent) "." Sent']
        assert names(lines(c, 'LIST "" *')) == ["INBOX", "Sent"]


def test_default_folders_are_configurable_and_can_be_turned_off(start_sluice):
    server = defaults_server(start_sluice, "Sent Messages \\Sent, Deleted Items \\Trash, Notes")
    with server.login() as c:
        assert lines(c, 'LIST "" *') == [
            '* LIST (\\HasNoChildren) "." INBOX',
            '* LIST (\\HasNoChildren \\Trash) "." "Deleted Items"',
            '* LIST (\\HasNoChildren) "." Notes',
            '* LIST (\\HasNoChildren \\Sent) "." "Sent Messages"',
        ]
    server = defaults_server(start_sluice, "none")
    with server.login() as c:
        assert names(lines(c, 'LIST "" *')) == ["INBOX"]
        assert "SPECIAL-USE" in c.capabilities()  # the storage still keeps CREATE's uses


def test_several_first_logins_at_once_create_each_folder_once(start_sluice):
    server = defaults_server(start_sluice)
    clients = [server.connect() for _ in range(4)]
    try:
        for i, c in enumerate(clients):
            c.send(f"x{i} LOGIN demo demo\r\n")
        for i, c in enumerate(clients):
            assert c.read_until_tagged(f"x{i}").status == "OK"
        assert names(lines(clients[0], 'LIST "" *')) == ["INBOX"] + sorted(DEFAULTS)
    finally:
        for c in clients:
            c.close()


# ---- LIST-EXTENDED -----------------------------------------------------------------------

def make_tree(c):
    for name in ["Fruit.Apple", "Fruit.Banana", "Tofu", "Vegetable.Broccoli"]:
        assert c.cmd(f"CREATE {name}").status == "OK"
    for name in ["Fruit.Banana", "Tofu", "Gone.Away"]:
        assert c.cmd(f"SUBSCRIBE {name}").status == "OK"


def test_list_with_empty_options_is_plain_list(sluice):
    with sluice.login() as c:
        make_tree(c)
        assert lines(c, 'LIST () "" *') == lines(c, 'LIST "" *')
        assert lines(c, 'LIST (REMOTE) "" %') == lines(c, 'LIST "" %')


def test_subscribed_selection_lists_subscriptions_with_nonexistent(sluice):
    with sluice.login() as c:
        make_tree(c)
        assert lines(c, 'LIST (SUBSCRIBED) "" *') == [
            '* LIST (\\HasNoChildren \\Subscribed) "." Fruit.Banana',
            '* LIST (\\NonExistent \\Subscribed) "." Gone.Away',
            '* LIST (\\HasNoChildren \\Subscribed) "." Tofu',
        ]
        # Without RECURSIVEMATCH, '%' does not reach Fruit.Banana (unlike LSUB).
        assert names(lines(c, 'LIST (SUBSCRIBED) "" %')) == ["Tofu"]


def test_recursivematch_reports_parents_with_childinfo(sluice):
    with sluice.login() as c:
        make_tree(c)
        assert lines(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)') == [
            '* LIST (\\HasChildren) "." Fruit ("CHILDINFO" ("SUBSCRIBED"))',
            '* LIST (\\NonExistent) "." Gone ("CHILDINFO" ("SUBSCRIBED"))',
            '* LIST (\\HasNoChildren \\Subscribed) "." Tofu',
        ]
        # Vegetable has children, none subscribed: it is not listed.
        assert c.cmd("SUBSCRIBE Fruit").status == "OK"
        assert ('* LIST (\\HasChildren \\Subscribed) "." Fruit ("CHILDINFO" ("SUBSCRIBED"))'
                in lines(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" %'))


def test_return_subscribed_marks_subscriptions_among_all_mailboxes(sluice):
    with sluice.login() as c:
        make_tree(c)
        assert lines(c, 'LIST "" Fruit* RETURN (SUBSCRIBED CHILDREN)') == [
            '* LIST (\\HasChildren) "." Fruit',
            '* LIST (\\HasNoChildren) "." Fruit.Apple',
            '* LIST (\\HasNoChildren \\Subscribed) "." Fruit.Banana',
        ]


def test_several_patterns_in_one_list(sluice):
    with sluice.login() as c:
        make_tree(c)
        assert names(lines(c, 'LIST "" (INBOX "Vegetable.%" Tofu)')) == [
            "INBOX", "Tofu", "Vegetable.Broccoli"]
        assert names(lines(c, 'LIST "Fruit." (Apple "Ban*")')) == ["Fruit.Apple", "Fruit.Banana"]


def test_list_extended_syntax_errors_are_bad(sluice):
    with sluice.login() as c:
        for command in ['LIST (RECURSIVEMATCH) "" *',          # needs a base option
                        'LIST (SPECIAL-USE RECURSIVEMATCH SUBSCRIBED) "" *',
                        'LIST (BOGUS) "" *',
                        'LIST "" * RETURN (BOGUS)',
                        'LIST "" * RETURN (STATUS)',
                        'LIST "" * RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
                        'LIST "" ()',
                        'LIST "" * EXTRA',
                        'LSUB (SUBSCRIBED) "" *']:
            assert c.cmd(command).status == "BAD", command
        assert c.cmd("NOOP").status == "OK"


def test_imaplib_lists_with_list_extended_syntax(sluice):
    c = imaplib.IMAP4(HOST, sluice.plain_port)
    try:
        c.login("demo", "demo")
        assert c.create("Projects.Alpha")[0] == "OK"
        assert c.subscribe("Projects.Alpha")[0] == "OK"
        typ, data = c._simple_command("LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', "%")
        assert typ == "OK"
        _, data = c._untagged_response(typ, data, "LIST")
        assert data == [b'(\\HasChildren) "." Projects ("CHILDINFO" ("SUBSCRIBED"))']
    finally:
        c.logout()


# ---- SPECIAL-USE and CREATE-SPECIAL-USE ----------------------------------------------------

def test_create_special_use_records_the_use(sluice):
    with sluice.login() as c:
        assert {"SPECIAL-USE", "CREATE-SPECIAL-USE"} <= c.capabilities()
        assert c.cmd("CREATE MySent (USE (\\Sent))").status == "OK"
        assert c.cmd("CREATE Bin (USE (\\Trash \\Junk))").status == "OK"
        assert c.cmd("CREATE Plain (USE ())").status == "OK"
        assert lines(c, 'LIST (SPECIAL-USE) "" *') == [
            '* LIST (\\HasNoChildren \\Junk \\Trash) "." Bin',
            '* LIST (\\HasNoChildren \\Sent) "." MySent',
        ]
        assert lines(c, 'LIST "" Plain RETURN (SPECIAL-USE)') == [
            '* LIST (\\HasNoChildren) "." Plain']
        # DELETE forgets the use: a new mailbox of that name starts without it.
        assert c.cmd("DELETE MySent").status == "OK"
        assert c.cmd("CREATE MySent").status == "OK"
        assert lines(c, 'LIST "" MySent') == ['* LIST (\\HasNoChildren) "." MySent']
    assert "Bin\t\\Junk \\Trash" in (sluice.mail_dir / "demo" / "sluice-special-use").read_text()


def test_create_special_use_refusals_carry_rfc_codes(sluice):
    with sluice.login() as c:
        for use in ["\\All", "\\Flagged", "\\Important", "\\Bogus"]:
            r = c.cmd(f"CREATE Virtual (USE ({use}))")
            assert r.status == "NO" and r.code() == "USEATTR", (use, r)
        assert names(lines(c, 'LIST "" *')) == ["INBOX"], "a refused CREATE created nothing"
        assert c.cmd("CREATE Box (USE (Sent))").status == "BAD"
        assert c.cmd("CREATE Box (COLOR (red))").status == "BAD"
        assert c.cmd("CREATE Box (USE (\\Sent))").status == "OK"
        r = c.cmd("CREATE Box (USE (\\Sent))")
        assert r.status == "NO" and r.code() == "ALREADYEXISTS", r
        r = c.cmd("CREATE INBOX (USE (\\Archive))")
        assert r.status == "NO" and r.code() == "ALREADYEXISTS", r


# ---- LIST-STATUS -----------------------------------------------------------------------------

def append(c, mailbox, text):
    c.send(f"ap APPEND {mailbox} {{{len(text)}+}}\r\n{text}\r\n")
    assert c.read_until_tagged("ap").status == "OK"


def test_list_status_follows_each_selectable_mailbox(sluice):
    with sluice.login() as c:
        make_tree(c)
        append(c, "Tofu", "Subject: a\r\n\r\nx\r\n")
        append(c, "Tofu", "Subject: b\r\n\r\ny\r\n")
        r = c.cmd('LIST "" (Fruit Tofu) RETURN (STATUS (MESSAGES UNSEEN))')
        assert r.status == "OK", r
        # Fruit was created as a real parent; it has its own (empty) status.
        assert r.untagged == [
            '* LIST (\\HasChildren) "." Fruit',
            '* STATUS Fruit (MESSAGES 0 UNSEEN 0)',
            '* LIST (\\HasNoChildren) "." Tofu',
            '* STATUS Tofu (MESSAGES 2 UNSEEN 2)',
        ], r
        assert c.cmd("DELETE Fruit").status == "OK"
        r = c.cmd('LIST (SUBSCRIBED) "" * RETURN (STATUS (MESSAGES))')
        # \Noselect and \NonExistent names get no STATUS.
        assert [l for l in r.untagged if l.startswith("* STATUS")] == [
            "* STATUS Fruit.Banana (MESSAGES 0)", "* STATUS Tofu (MESSAGES 2)"], r


def test_list_status_of_the_selected_mailbox_agrees_with_exists(sluice):
    with sluice.login() as c:
        append(c, "INBOX", "Subject: a\r\n\r\nx\r\n")
        assert "* 1 EXISTS" in c.cmd("SELECT INBOX").untagged
        r = c.cmd('LIST "" INBOX RETURN (STATUS (MESSAGES UIDNEXT))')
        assert "* STATUS INBOX (MESSAGES 1 UIDNEXT 2)" in r.untagged, r
