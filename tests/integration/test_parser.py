"""The command parser's answers to odd, hostile and oversized input."""

import pytest


def test_unknown_command_is_bad_with_a_sentence(sluice):
    with sluice.connect() as c:
        r = c.cmd("FROBNICATE now")
        assert r.status == "BAD" and len(r.text) > 5, r
        assert c.cmd("NOOP").status == "OK"


def test_select_before_login_is_refused(sluice):
    with sluice.connect() as c:
        r = c.cmd("SELECT INBOX")
        assert r.status in ("BAD", "NO") and len(r.text) > 5, r
        assert c.cmd("NOOP").status == "OK"


def test_garbage_line_without_valid_tag_gets_untagged_bad(sluice):
    with sluice.connect() as c:
        c.send("(garbage)\r\n")
        line = c.readline()
        assert line.startswith("* BAD"), line
        assert c.cmd("NOOP").status == "OK"


def test_tag_without_command_is_bad(sluice):
    with sluice.connect() as c:
        c.send("a1\r\n")
        line = c.readline()
        assert line.startswith("a1 BAD") or line.startswith("* BAD"), line
        assert c.cmd("NOOP").status == "OK"


def test_noop_with_arguments_is_bad(sluice):
    with sluice.connect() as c:
        assert c.cmd("NOOP extra").status == "BAD"


def test_pipelined_commands_are_answered_in_order(sluice):
    with sluice.connect() as c:
        c.send("p1 NOOP\r\np2 CAPABILITY\r\np3 NOOP\r\n")
        tags = [c.read_until_tagged(t).tag for t in ("p1", "p2", "p3")]
    assert tags == ["p1", "p2", "p3"]


def test_command_split_across_packets_is_assembled(sluice):
    import time
    with sluice.connect() as c:
        for part in ("a1 NO", "OP", "\r", "\n"):
            c.send(part)
            time.sleep(0.05)
        assert c.read_until_tagged("a1").status == "OK"


def test_line_over_64k_is_bad_and_connection_stays_usable(sluice):
    with sluice.connect() as c:
        c.send("a1 NOOP " + "x" * 70000 + "\r\n")
        r = c.read_until_tagged("a1")
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_big_literal_before_login_is_toobig_without_continuation(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {100000}\r\n")
        line = c.readline()
        assert not line.startswith("+"), "the server invited 100000 bytes before login"
        assert line.startswith("a1 BAD [TOOBIG]"), line


def test_big_non_synchronizing_literal_before_login_is_bad(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {100000+}\r\n")
        line = c.readline()
        assert line.startswith("a1 BAD") or line.startswith("* BYE"), line


def test_small_literal_before_login_gets_continuation(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {5}\r\n")
        cont = c.readline()
        assert cont.startswith("+ "), cont
        c.send("demo2 demo\r\n")
        r = c.read_until_tagged("a1")
    assert r.status == "OK", r


def test_literal_size_overflow_is_bad(sluice):
    with sluice.connect() as c:
        c.send("a1 LOGIN {99999999999999999999999}\r\n")
        line = c.readline()
        assert line.startswith("a1 BAD") or line.startswith("* BYE"), line


@pytest.mark.parametrize("depth", [65, 1000])
def test_deep_parenthesis_nesting_is_bad_and_connection_stays_usable(sluice, depth):
    with sluice.connect() as c:
        r = c.cmd("ID " + "(" * depth + ")" * depth)
        assert r.status == "BAD", r
        assert c.cmd("NOOP").status == "OK"


def test_id_command_answers_with_server_id(sluice):
    with sluice.connect() as c:
        r = c.cmd('ID ("name" "pytest")')
    assert r.status == "OK", r
    assert len(r.untagged) == 1 and r.untagged[0].startswith('* ID ("name" "Sluice" "version" "'), r


def test_id_can_be_switched_off_and_then_says_nothing(start_sluice):
    server = start_sluice(settings={"imap_id": "no"})
    with server.connect() as c:
        r = c.cmd('ID ("name" "pytest")')
        assert r.status == "OK", r
        assert r.untagged == ["* ID NIL"], r
        assert "ID" in c.capabilities()  # the command stays; only the answer is empty


def test_nul_byte_in_command_is_bad(sluice):
    with sluice.connect() as c:
        c.send(b"a1 LOGIN demo\x00 demo\r\n")
        line = c.readline()
        assert line.startswith("a1 BAD") or line.startswith("* BAD"), line
        assert c.cmd("NOOP").status == "OK"
