"""docker:// through a real Docker engine and registry; shub/library/oras through apptainer.

No apptainer or singularity binary can be had on these machines: those schemes run our
handler for real against a stand-in ``apptainer`` program on PATH that records its
arguments and writes an image file, and the missing-binary case is checked.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile

import pytest

from tests.transfer.conftest import transfer

FAKE_APPTAINER = """#!/bin/sh
# stand-in for apptainer: "pull [options] --name FILE URI" writes FILE; records argv
echo "$@" >> "$FAKE_APPTAINER_LOG"
case "$1" in
  --version|version) echo "apptainer version 1.3.0"; exit 0 ;;
  pull) ;;
  *) exit 2 ;;
esac
shift
name=""
while [ $# -gt 1 ]; do
  case "$1" in --name) name="$2"; shift 2 ;; *) shift ;; esac
done
case "$1" in *missing*) echo "FATAL: image not found" >&2; exit 255 ;; esac
printf 'SIF image of %s\\n' "$1" > "$name"
"""


@pytest.fixture
def fake_apptainer(tmp_path):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    script = bindir / "apptainer"
    script.write_text(FAKE_APPTAINER)
    script.chmod(0o755)
    log = tmp_path / "apptainer.log"
    env = {"PATH": "%s:%s" % (bindir, os.environ["PATH"]), "FAKE_APPTAINER_LOG": str(log)}
    return env, log


@pytest.mark.parametrize("url", ["library://sylabs/default/alpine:3.19", "oras://127.0.0.1/img:1"])
def test_apptainer_pull(pegasus_transfer, fake_apptainer, tmp_path, url):
    env, log = fake_apptainer
    run = pegasus_transfer([transfer(url, "file://%s/images/img.sif" % tmp_path)], env=env)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "images" / "img.sif").read_text() == "SIF image of %s\n" % url
    pulls = [line for line in log.read_text().splitlines() if line.startswith("pull")]
    assert len(pulls) == 1
    assert "--allow-unauthenticated" in pulls[0] and pulls[0].endswith(url)


def test_apptainer_failed_pull_leaves_nothing(pegasus_transfer, fake_apptainer, tmp_path):
    env, _ = fake_apptainer
    run = pegasus_transfer(
        [transfer("library://x/missing:1", "file://%s/img.sif" % tmp_path)], env=env
    )
    assert run.rc == 1
    assert not (tmp_path / "img.sif").exists()
    assert [p for p in tmp_path.iterdir() if ".part-" in p.name] == []


def test_apptainer_missing_binary_is_one_clear_line(pegasus_transfer, tmp_path):
    run = pegasus_transfer(
        [transfer("library://x/y:1", "file://%s/img.sif" % tmp_path)], env={"PATH": "/usr/bin:/bin"}
    )
    assert run.rc == 1
    assert "apptainer or singularity binary" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.docker
def test_docker_pull_and_save(pegasus_transfer, test_image, docker_engine, tmp_path):
    subprocess.run(
        ["docker", "-H", docker_engine.host, "rmi", "-f", test_image], capture_output=True
    )
    dest = tmp_path / "images" / "test.tar"
    run = pegasus_transfer(
        [transfer("docker://" + test_image, "file://%s" % dest, "test.tar")],
        env={"DOCKER_HOST": docker_engine.host},
    )
    assert run.rc == 0, run.stderr
    with tarfile.open(dest) as tar:
        names = tar.getnames()
        assert "manifest.json" in names
    attempt = run.report["attempts"][0]
    assert attempt["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    loaded = subprocess.run(
        ["docker", "-H", docker_engine.host, "load", "-i", str(dest)],
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0 and test_image in loaded.stdout


@pytest.mark.docker
def test_docker_missing_image(pegasus_transfer, docker_registry, docker_engine, tmp_path):
    missing = "docker://%s/pegasus-lite/nope:1" % docker_registry.address
    run = pegasus_transfer(
        [transfer(missing, "file://%s/nope.tar" % tmp_path)], "-m", "3",
        env={"DOCKER_HOST": docker_engine.host},
    )  # fmt: skip
    assert run.rc == 1
    assert len(run.report["attempts"]) == 1
    assert "not found" in run.stderr
    assert not (tmp_path / "nope.tar").exists()
