"""Smoke tests of the Docker engine, the local registry, the test image and the grid servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import urllib.request

import pytest

from tests.servers import unavailable
from tests.servers.docker_engine import local_image_tag
from tests.servers.grid import SYSTEM_PYTHON, gfal_python

pytest_plugins = ["tests.servers.fixtures_docker"]


def _tool(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in ("/usr/bin/" + name, "/usr/sbin/" + name) if os.access(p, os.X_OK)), None
    )
    if path is None:
        unavailable("%s is not installed" % name)
    return path


def _run(cmd: list[str], env: dict | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, "%s: %s%s" % (cmd, proc.stdout, proc.stderr)
    return proc.stdout


def _require_gfal() -> None:
    _tool("gfal-copy")
    if gfal_python() is None:
        unavailable(
            "gfal2 bindings (python3-gfal2, python3-gfal2-util) missing for %s" % SYSTEM_PYTHON
        )


# --------------------------------------------------------------------------------------------
# Docker


@pytest.mark.docker
def test_registry_lists_the_pushed_image(docker_registry, test_image):
    assert test_image == "%s/pegasus-lite/test:1" % docker_registry.address
    with urllib.request.urlopen("http://%s/v2/_catalog" % docker_registry.address, timeout=10) as r:
        assert "pegasus-lite/test" in json.load(r)["repositories"]


@pytest.mark.docker
def test_pull_from_local_registry_then_run_python(docker_engine, test_image):
    # Untag only: the image store is kept between sessions and other tests' images may be
    # built on this one, so removing it by ID can be refused ("has dependent child images").
    docker_engine.docker("rmi", test_image)
    gone = docker_engine.docker("image", "inspect", test_image, check=False)
    assert gone.returncode != 0, "image still present locally"

    docker_engine.docker("pull", test_image, timeout=300)
    docker_engine.docker("tag", test_image, local_image_tag())  # the cached base, as before
    run = docker_engine.docker(
        "run", "--rm", "--network", "none", test_image, "python3", "-c", "print(42)", timeout=120
    )
    assert run.stdout == "42\n"


@pytest.mark.docker
def test_docker_cli_finds_engine_through_environment(docker_engine, test_image):
    # the code under test runs plain `docker ...`: DOCKER_HOST is exported for the session
    assert os.environ["DOCKER_HOST"] == docker_engine.host
    code = "import sys; print(sys.version_info[0])"
    out = _run([_tool("docker"), "run", "--rm", test_image, "python3", "-c", code])
    assert out == "3\n"


@pytest.mark.docker
def test_docker_save_writes_an_image_archive(docker_engine, test_image, tmp_path):
    target = tmp_path / "image.tar"
    docker_engine.docker("save", "-o", str(target), test_image, timeout=300)
    assert target.stat().st_size > 10_000_000
    with tarfile.open(target) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [test_image]


# --------------------------------------------------------------------------------------------
# XRootD


@pytest.mark.server
def test_xrootd_round_trip_with_xrdcp(xrootd_server, tmp_path):
    xrdcp = _tool("xrdcp")
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    url = xrootd_server.url_for("xrdcp/sub/blob.bin")

    _run([xrdcp, "--force", "--path", "--nopbar", str(src), url])
    assert (xrootd_server.export / "xrdcp/sub/blob.bin").read_bytes() == payload
    _run([xrdcp, "--force", "--nopbar", url, str(tmp_path / "out.bin")])
    assert (tmp_path / "out.bin").read_bytes() == payload


@pytest.mark.server
def test_xrootd_round_trip_with_gfal(xrootd_server, tmp_path):
    _require_gfal()
    env = xrootd_server.client_env()
    payload = os.urandom(1024 * 1024 + 3)
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    url = xrootd_server.url_for("gfal/a/b/blob.bin")

    _run(["gfal-copy", "-f", "-p", "file://%s" % src, url], env=env)
    _run(["gfal-copy", "-f", url, "file://%s" % (tmp_path / "out.bin")], env=env)
    assert (tmp_path / "out.bin").read_bytes() == payload
    size = _run([SYSTEM_PYTHON, "-c", _GFAL_STAT, url], env=env)
    assert int(size) == len(payload)
    _run(["gfal-rm", url], env=env)
    assert not (xrootd_server.export / "gfal/a/b/blob.bin").exists()


# os._exit: Debian's gfal2 bindings sometimes abort in their teardown ("free(): invalid
# pointer") after the answer is out; the interpreter's exit is not what is tested
_GFAL_STAT = (
    "import os, sys, gfal2; print(gfal2.creat_context().stat(sys.argv[1]).st_size, flush=True);"
    " os._exit(0)"
)


# --------------------------------------------------------------------------------------------
# GridFTP


@pytest.mark.server
def test_gridftp_round_trip_with_globus_url_copy(gridftp_server, tmp_path):
    guc = _tool("globus-url-copy")
    env = gridftp_server.client_env()
    payload = os.urandom(2 * 1024 * 1024 + 5)
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    url = gridftp_server.url_for("guc/sub/blob.bin")

    _run([guc, "-create-dest", "file://%s" % src, url], env=env)
    stored = gridftp_server.root / "guc/sub/blob.bin"
    assert stored.read_bytes() == payload
    assert stored.stat().st_uid != 0  # the DN is mapped to an unprivileged account (as root)
    _run([guc, url, "file://%s" % (tmp_path / "out.bin")], env=env)
    assert (tmp_path / "out.bin").read_bytes() == payload


@pytest.mark.server
def test_gridftp_round_trip_with_gfal(gridftp_server, tmp_path):
    _require_gfal()
    env = gridftp_server.client_env()
    payload = os.urandom(1024 * 1024 + 1)
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    url = gridftp_server.url_for("gfal/x/blob.bin")

    _run(["gfal-copy", "-f", "-p", "file://%s" % src, url], env=env)
    _run(["gfal-copy", "-f", url, "file://%s" % (tmp_path / "out.bin")], env=env)
    assert (tmp_path / "out.bin").read_bytes() == payload
    size = _run([SYSTEM_PYTHON, "-c", _GFAL_STAT, url], env=env)
    assert int(size) == len(payload)
    _run(["gfal-rm", url], env=env)
    assert not (gridftp_server.root / "gfal/x/blob.bin").exists()


@pytest.mark.server
def test_gridftp_refuses_a_client_without_a_proxy(gridftp_server, tmp_path):
    (gridftp_server.root / "public.txt").write_text("hello\n")
    url = gridftp_server.url_for("public.txt")
    guc = _tool("globus-url-copy")
    env = gridftp_server.client_env()
    _run([guc, url, "file://%s" % (tmp_path / "ok.txt")], env=env)
    assert (tmp_path / "ok.txt").read_text() == "hello\n"

    env["X509_USER_PROXY"] = str(tmp_path / "no-such-proxy")
    env["HOME"] = str(tmp_path)  # no ~/.globus fallback
    proc = subprocess.run(
        [guc, url, "file://%s" % (tmp_path / "denied.txt")],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    denied = tmp_path / "denied.txt"  # globus-url-copy may create it empty
    assert not denied.exists() or denied.stat().st_size == 0
