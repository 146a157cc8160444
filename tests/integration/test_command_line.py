"""The sluiced command line: -V, and -t checking a configuration the way `nginx -t` does."""

import subprocess

from sluice_testlib import build_dir


def run(*args, timeout=20):
    return subprocess.run([str(build_dir() / "sluiced"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def insert_line(path, lineno, text):
    """Insert `text` so that it becomes line `lineno` (1-based) of the file."""
    lines = path.read_text().splitlines()
    lines.insert(lineno - 1, text)
    path.write_text("\n".join(lines) + "\n")


def line_of(path, needle):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def test_version_flag_prints_version(binaries):
    r = run("-V")
    assert r.returncode == 0, r
    assert "sluiced 0.1.0" in r.stdout + r.stderr


def test_config_check_accepts_the_test_configuration(make_config):
    conf = make_config()
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 0, r.stderr
    assert f"{conf.conf_path}: configuration is valid" in r.stdout + r.stderr


def test_config_check_reports_unknown_key_with_file_and_line(make_config):
    conf = make_config()
    insert_line(conf.conf_path, 3, "no_such_setting = 1")
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    assert f"{conf.conf_path}:3:" in r.stderr, r.stderr
    assert "no_such_setting" in r.stderr


def test_config_check_reports_out_of_range_port_with_file_and_line(make_config):
    conf = make_config()
    text = conf.conf_path.read_text().replace(f"port = {conf.plain_port}\n", "port = 99999\n")
    conf.conf_path.write_text(text)
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    assert f"{conf.conf_path}:{line_of(conf.conf_path, 'port = 99999')}:" in r.stderr, r.stderr


def test_config_check_reports_bad_duration_with_file_and_line(make_config):
    conf = make_config(settings={"preauth_timeout": "soon"})
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    n = line_of(conf.conf_path, "preauth_timeout = soon")
    assert f"{conf.conf_path}:{n}:" in r.stderr, r.stderr


def test_config_check_reports_missing_module_in_modules_conf(make_config):
    conf = make_config(modules_extra="policy no-such-module {\n}\n")
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    n = line_of(conf.modules_path, "no-such-module")
    assert f"{conf.modules_path}:{n}:" in r.stderr, r.stderr
    assert "no-such-module" in r.stderr


def test_config_check_reports_every_error_not_only_the_first(make_config):
    conf = make_config()
    insert_line(conf.conf_path, 2, "no_such_setting = 1")
    text = conf.conf_path.read_text().replace(f"port = {conf.tls_port}\n", "port = 99999\n")
    conf.conf_path.write_text(text)
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    assert f"{conf.conf_path}:2:" in r.stderr, r.stderr
    assert f"{conf.conf_path}:{line_of(conf.conf_path, 'port = 99999')}:" in r.stderr, r.stderr


def test_config_check_reports_duplicate_listener(make_config):
    conf = make_config(listeners=[("imap", None, "starttls"), ("imap", None, "starttls")])
    # Same name and same port twice: an error however duplicates are defined.
    text = conf.conf_path.read_text()
    ports = [int(l.split("=")[1]) for l in text.splitlines() if l.strip().startswith("port =")]
    conf.conf_path.write_text(text.replace(f"port = {ports[1]}\n", f"port = {ports[0]}\n"))
    r = run("-t", "-c", conf.conf_path)
    assert r.returncode == 1, r
    assert f"{conf.conf_path}:" in r.stderr, r.stderr


def test_server_refuses_to_start_with_an_invalid_configuration(make_config):
    conf = make_config()
    insert_line(conf.conf_path, 1, "no_such_setting = 1")
    r = run("-c", conf.conf_path)
    assert r.returncode != 0, r
    assert f"{conf.conf_path}:1:" in r.stderr, r.stderr
