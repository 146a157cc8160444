"""Fixtures: a fresh sluiced per test, with its own folder, ports, certificate and log.

`sluice` is a running server with the default test configuration (users demo and demo2,
password demo; short timeouts so the suite stays fast). `start_sluice(**kw)` starts one
with other settings, listeners or extra modules (see sluice_testlib.Server). Every server
is stopped with SIGTERM at teardown and the test fails if it did not exit 0 within 10 s.
SLUICE_BUILD_DIR names the build folder (default build/).
"""

import shutil

import pytest

from sluice_testlib import USERS, Server, build_dir, hash_password, make_cert


@pytest.fixture(scope="session")
def binaries():
    b = build_dir()
    for name in ("sluiced", "sluice-passwd"):
        if not (b / name).exists():
            pytest.fail(f"{b / name} not found: build first (tools/test does)")
    return b


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def passwd_lines(binaries):
    return [hash_password(user, password) for user, password in USERS.items()]


@pytest.fixture(scope="session")
def hashed(binaries):
    """hashed(user, password) -> a passwd-file line, computed once per pair."""
    cache = {}

    def get(user, password):
        if (user, password) not in cache:
            cache[(user, password)] = hash_password(user, password)
        return cache[(user, password)]
    return get


@pytest.fixture
def start_sluice(tmp_path, tls_files, passwd_lines, request):
    servers = []

    def start(**kw):
        kw.setdefault("passwd_lines", passwd_lines)
        folder = tmp_path / f"sluice{len(servers)}"
        cert, key = kw.pop("cert", tls_files[0]), kw.pop("key", tls_files[1])
        server = Server(folder, cert, key, **kw)
        servers.append(server)
        return server.start()

    yield start
    errors = []
    for server in servers:
        try:
            server.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def sluice(start_sluice):
    return start_sluice()


@pytest.fixture(scope="session")
def tool():
    """Path of an external client program, failing clearly when it is not installed."""
    def get(name):
        path = shutil.which(name)
        if path is None:
            pytest.fail(f"{name} is not installed (tools/lib/deps.sh installs it)")
        return path
    return get


@pytest.fixture
def make_config(tmp_path, tls_files, passwd_lines, binaries):
    """make_config(**kw) -> a Server whose configuration is written but not started."""
    made = []

    def make(**kw):
        kw.setdefault("passwd_lines", passwd_lines)
        server = Server(tmp_path / f"conf{len(made)}", *tls_files, **kw)
        server.write_config()
        made.append(server)
        return server
    return make
