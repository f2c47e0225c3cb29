"""gsiftp:// and root:// (transfer/handlers/gfal.py) against real servers on loopback.

XRootD and a GSI GridFTP server from Debian (tests/servers/grid.py).  The project's virtual
environment cannot import Debian's gfal2 bindings, so the installed CLI drives the gfal2-util
programs (``gfal-copy`` ...); one test runs our CLI under /usr/bin/python3, where the bindings
import, so that path meets the same XRootD server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.grid import SYSTEM_PYTHON, gfal_python

from .conftest import transfer

REPO = Path(__file__).resolve().parents[2]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attempts_by_lfn(report) -> dict:
    found: dict[str, list] = {}
    for attempt in report["attempts"]:
        found.setdefault(attempt["lfn"], []).append(attempt)
    return found


@pytest.fixture
def xrd(xrootd_server, tmp_path):
    """The server, a per-test directory name under its export, and the client environment."""
    name = tmp_path.name
    return xrootd_server, name, xrootd_server.client_env({})


@pytest.mark.server
def test_root_put_get_copy_remove(pegasus_transfer, xrd, tmp_path):
    server, name, env = xrd
    src = tmp_path / "src"
    src.mkdir()
    payloads = {"small": b"hello xrootd\n", "big": os.urandom((5 << 20) + 11)}
    for lfn, data in payloads.items():
        (src / lfn).write_bytes(data)

    put = pegasus_transfer(
        [
            transfer("file://%s/%s" % (src, lfn), server.url_for("%s/in/%s" % (name, lfn)), lfn=lfn)
            for lfn in payloads
        ],
        env=env,
    )
    assert put.rc == 0, put.stderr
    for lfn, data in payloads.items():
        assert (server.export / name / "in" / lfn).read_bytes() == data
    assert {a["lfn"]: a["sha256"] for a in put.report["attempts"]} == {
        lfn: sha256(data) for lfn, data in payloads.items()
    }

    out = tmp_path / "out"
    get = pegasus_transfer(
        [
            transfer(server.url_for("%s/in/%s" % (name, lfn)), "file://%s/%s" % (out, lfn), lfn=lfn)
            for lfn in payloads
        ],
        env=env,
    )
    assert get.rc == 0, get.stderr
    for lfn, data in payloads.items():
        assert (out / lfn).read_bytes() == data
    assert sorted(os.listdir(out)) == sorted(payloads)  # no temporary files left beside them

    # root -> root: this xrootd has no third-party copy, so the handler goes through a file
    copy = pegasus_transfer(
        [transfer(server.url_for("%s/in/big" % name), server.url_for("%s/copy/big" % name))],
        env=env,
    )
    assert copy.rc == 0, copy.stderr
    assert (server.export / name / "copy" / "big").read_bytes() == payloads["big"]

    mkdir = pegasus_transfer(
        [{"type": "mkdir", "target": {"site_label": "x", "url": server.url_for(name + "/a/b/c")}}],
        env=env,
    )
    assert mkdir.rc == 0, mkdir.stderr
    assert (server.export / name / "a" / "b" / "c").is_dir()

    def remove(rel, recursive=False):
        return {
            "type": "remove",
            "target": {"site_label": "x", "url": server.url_for(rel), "recursive": recursive},
        }

    rm = pegasus_transfer(
        [remove(name + "/in/small"), remove(name + "/in/never-there"), remove(name + "/a", True)],
        env=env,
    )
    assert rm.rc == 0, rm.stderr
    assert not (server.export / name / "in" / "small").exists()
    assert not (server.export / name / "a").exists()

    rm_dir = pegasus_transfer([remove(name + "/copy")], "-m", "1", env=env)
    assert rm_dir.rc == 1
    assert (server.export / name / "copy" / "big").exists()
    assert "Is a directory" in rm_dir.stderr


@pytest.mark.server
def test_root_missing_source(pegasus_transfer, xrd, tmp_path):
    server, name, env = xrd
    out = tmp_path / "out"
    run = pegasus_transfer(
        [transfer(server.url_for(name + "/nope"), "file://%s/nope" % out, lfn="nope")], env=env
    )
    assert run.rc == 1
    (attempt,) = attempts_by_lfn(run.report)["nope"]  # not found: no retry
    assert "No such file or directory" in attempt["error"]
    assert not out.exists() or os.listdir(out) == []


@pytest.mark.server
def test_root_with_the_gfal2_bindings(xrd, tmp_path):
    """Our CLI under /usr/bin/python3, where ``import gfal2`` works: the bindings path."""
    if gfal_python() is None:
        pytest.skip("/usr/bin/python3 cannot import gfal2 (python3-gfal2 not installed)")
    server, name, env = xrd
    data = os.urandom((3 << 20) + 5)
    (tmp_path / "f").write_bytes(data)
    entries = [
        transfer("file://%s/f" % tmp_path, server.url_for(name + "/b/f"), lfn="put"),
        transfer(server.url_for(name + "/b/missing"), "file://%s/out/m" % tmp_path, lfn="miss"),
    ]
    report = tmp_path / "report.json"
    env = dict(os.environ, **env, PYTHONPATH=str(REPO))
    env.pop("GFAL_PYTHONBIN", None)
    code = "import sys; from transfer.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", code, "--json-report", str(report), "-m", "1"],
        input=json.dumps(entries),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1  # the missing one
    assert (server.export / name / "b" / "f").read_bytes() == data
    by_lfn = attempts_by_lfn(json.loads(report.read_text()))
    assert by_lfn["put"][0]["success"] and by_lfn["put"][0]["sha256"] == sha256(data)
    error = by_lfn["miss"][0]["error"]
    assert "no such file" in error.lower()
    assert "gfal-copy failed" not in error  # the bindings' GError, not the program's exit

    back = [transfer(server.url_for(name + "/b/f"), "file://%s/out/f" % tmp_path, lfn="get")]
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", code, "-m", "1"],
        input=json.dumps(back),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "f").read_bytes() == data


@pytest.mark.server
def test_gsiftp_with_a_site_proxy(pegasus_transfer, gridftp_server, tmp_path):
    """GSI GridFTP: the proxy comes from X509_USER_PROXY_<site> only (Pegasus's gfal mkdir
    needed exactly that); put, mkdir, get, remove."""
    server = gridftp_server
    env = server.client_env({})
    env["X509_USER_PROXY_gftp"] = env.pop("X509_USER_PROXY")
    env["X509_USER_PROXY"] = ""
    name = tmp_path.name
    data = os.urandom(200_000)
    (tmp_path / "g").write_bytes(data)
    entry = transfer("file://%s/g" % tmp_path, server.url_for(name + "/up/g"), lfn="g")
    entry["dest_urls"][0]["site_label"] = "gftp"
    put = pegasus_transfer([entry], env=env)
    assert put.rc == 0, put.stderr
    assert (server.root / name / "up" / "g").read_bytes() == data

    target = {"site_label": "gftp", "url": server.url_for(name + "/made/here")}
    made = pegasus_transfer([{"type": "mkdir", "target": target}], env=env)
    assert made.rc == 0, made.stderr
    assert (server.root / name / "made" / "here").is_dir()

    entry = transfer(server.url_for(name + "/up/g"), "file://%s/back/g" % tmp_path, lfn="g")
    entry["src_urls"][0]["site_label"] = "gftp"
    get = pegasus_transfer([entry], env=env)
    assert get.rc == 0, get.stderr
    assert (tmp_path / "back" / "g").read_bytes() == data

    target = {"site_label": "gftp", "url": server.url_for(name + "/up/g")}
    rm = pegasus_transfer([{"type": "remove", "target": target}], env=env)
    assert rm.rc == 0, rm.stderr
    assert not (server.root / name / "up" / "g").exists()


def test_missing_gfal_is_one_clear_line(pegasus_transfer, tmp_path):
    (tmp_path / "f").write_text("x")
    run = pegasus_transfer(
        [transfer("file://%s/f" % tmp_path, "root://127.0.0.1:1//tmp/f")],
        env={"PATH": str(tmp_path / "empty-bin")},
    )
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("pegasus-transfer:")]
    assert len(lines) == 1
    assert "gfal2-util programs (gfal-copy)" in lines[0] and "apt-get install" in lines[0]


def test_module_imports_without_the_bindings():
    """The venv has no gfal2: the module must still import (the registry would otherwise
    blame the bindings although gfal-copy is installed)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import transfer.handlers.gfal as g; print(g.gfal2 is None)"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
