"""A plugin author's path: install Sluice, build a module out of tree, load it.

DESIGN.md promises that `include/sluice/` plus a pkg-config file are all a module needs:
this installs the build into a scratch root, compiles the example denylist module from
its source with nothing but `cc $(pkg-config --cflags sluice) -shared -fPIC` (also under
strict -std=c11), and loads the result into a running sluiced with `file =`.
"""
import os
import pathlib
import subprocess

from sluice_testlib import build_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]


def install_tree(dest):
    subprocess.run(["cmake", "--install", str(build_dir())], check=True, capture_output=True,
                   env={**os.environ, "DESTDIR": str(dest)}, timeout=120, stdin=subprocess.DEVNULL)
    pcs = list(dest.rglob("sluice.pc"))
    assert len(pcs) == 1, pcs
    return pcs[0].parent


def build_module(dest, pcdir, out, std_flag):
    env = {**os.environ, "PKG_CONFIG_PATH": str(pcdir), "PKG_CONFIG_SYSROOT_DIR": str(dest)}
    cflags = subprocess.run(["pkg-config", "--cflags", "sluice"], env=env, check=True,
                            capture_output=True, text=True).stdout.split()
    cmd = ["cc", *std_flag, "-Wall", "-Wextra", "-Werror", *cflags, "-shared", "-fPIC", "-o",
           str(out), str(ROOT / "modules/policy/denylist/denylist.c")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_installed_headers_and_pkg_config_build_a_working_module(tmp_path, start_sluice):
    dest = tmp_path / "root"
    pcdir = install_tree(dest)
    headers = {p.name for p in dest.rglob("include/sluice/*.h")}
    assert {"sluice.h", "module.h", "passdb.h", "sasl.h", "policy.h", "storage.h",
            "index.h"} <= headers
    module = tmp_path / "denylist-oot.so"
    build_module(dest, pcdir, module, [])
    build_module(dest, pcdir, tmp_path / "strict.so", ["-std=c11"])

    server = start_sluice(modules_extra=f'policy denylist {{\n  file = {module}\n'
                                        '  users = "demo2"\n}\n')
    with server.connect() as c:
        r = c.cmd("LOGIN demo2 demo")
        assert r.status == "NO" and r.code() == "UNAVAILABLE", r
    with server.login("demo", "demo") as c:
        assert c.cmd("NOOP").status == "OK"
