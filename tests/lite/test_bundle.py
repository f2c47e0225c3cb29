"""The worker bundle runs a job where nothing of ours is installed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import console_script


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "pegasus-lite.pyz"
    subprocess.run([*console_script("pegasus-lite"), "bundle", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A virtual environment with nothing in it: no pip, no packages of ours or others'."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def run_bundle(python: str, bundle, workdir) -> subprocess.CompletedProcess:
    """``python -I bundle.pyz job.json`` in ``workdir`` with a bare environment."""
    env = {"PATH": "/usr/bin:/bin", "PEGASUS_WN_TMP": str(workdir), "PEGASUS_WN_TMP_MIN_SPACE": "1"}
    return subprocess.run(
        [python, "-I", str(bundle), "job.json"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_bundle_holds_our_packages_and_no_compiled_code(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    assert "__main__.py" in names
    for package in ("kickstart", "transfer", "containers", "lite", "requests", "urllib3"):
        assert any(n.startswith(package + "/") for n in names), package
    assert not [n for n in names if n.endswith((".so", ".pyc"))]


@pytest.mark.server
def test_bundle_runs_a_job_with_http_staging_in_a_bare_environment(
    bundle,
    bare_python,
    nginx_server,
    tmp_path,
):
    payload = b"input over http\n" * 1000
    (nginx_server.root / "bundle-input.txt").write_bytes(payload)
    spec = {
        "version": 1,
        "job": {"id": "ID1", "name": "bundled_ID1"},
        "tasks": [{"executable": {"path": "/bin/sh"},
                   "arguments": ["-c", "sha256sum in.txt | cut -c1-64 > digest.txt"]}],
        "inputs": [{"lfn": "in.txt", "sha256": hashlib.sha256(payload).hexdigest(),
                    "sources": [{"url": nginx_server.url + "/bundle-input.txt", "site": "web"}]}],
        "outputs": [{"lfn": "digest.txt",
                     "destinations": [{"url": "file://%s/out/digest.txt" % tmp_path}]}],
    }  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(spec))
    done = run_bundle(bare_python, bundle, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("PegasusLite: exitcode 0")
    digest = (tmp_path / "out" / "digest.txt").read_text().strip()
    assert digest == hashlib.sha256(payload).hexdigest()


def test_bundle_says_clearly_when_a_scheme_needs_a_missing_library(bundle, bare_python, tmp_path):
    spec = {
        "version": 1,
        "tasks": [{"executable": {"path": "/bin/true"}}],
        "inputs": [{"lfn": "x", "sources": [{"url": "s3://user@site/bucket/x"}]}],
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    done = run_bundle(bare_python, bundle, tmp_path)
    assert done.returncode == 71
    assert (
        "s3:// URLs need boto3, which is not installed: pip install 'pegasus-lite[s3]'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_bundle_runs_inside_the_base_image(bundle, docker_engine, test_image, tmp_path):
    """The Debian minbase image has python3 and nothing else of ours or anyone's."""
    work = tmp_path / "mnt"
    work.mkdir()
    (work / "in.txt").write_text("data inside the image\n")
    spec = {
        "version": 1,
        "tasks": [{"executable": {"path": "/bin/sh"}, "arguments": ["-c", "wc -c < in.txt > n"]}],
        "inputs": [{"lfn": "in.txt", "sources": [{"url": "file://%s/in.txt" % work}]}],
        "outputs": [{"lfn": "n", "destinations": [{"url": "file://%s/out/n" % work}]}],
    }
    (work / "job.json").write_text(json.dumps(spec))
    shutil.copy(bundle, work / "bundle.pyz")
    done = docker_engine.docker(
        "run", "--rm", "--network", "none", "-v", "%s:%s" % (work, work), "-w", str(work),
        "-e", "PEGASUS_WN_TMP=%s" % work, "-e", "PEGASUS_WN_TMP_MIN_SPACE=1",
        test_image, "python3", "bundle.pyz", "job.json", check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("PegasusLite: exitcode 0")
    assert (work / "out" / "n").read_text().strip() == "22"


def run_bundle_command(python: str, bundle, workdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-I", str(bundle), *args], cwd=workdir, env={"PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_bundle_is_the_whole_job_lifecycle_in_a_bare_environment(bundle, bare_python, tmp_path):
    """The compute job, its POST script (exitcode) and an auxiliary stage-out job (transfer),
    all from the one bundle, as a DAG on a node with nothing of ours installed runs them."""
    spec = {
        "version": 1,
        "job": {"id": "ID1", "name": "sum_ID1"},
        "tasks": [{"executable": {"path": "/bin/sh"}, "arguments": ["-c", "echo 42 > sum.txt"]}],
        "outputs": [{"lfn": "sum.txt",
                     "destinations": [{"url": "file://%s/scratch/sum.txt" % tmp_path}]}],
    }  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(spec))
    job = run_bundle(bare_python, bundle, tmp_path)
    assert job.returncode == 0, job.stderr
    (tmp_path / "sum_ID1.out").write_text(job.stdout)
    (tmp_path / "sum_ID1.err").write_text(job.stderr)

    post = run_bundle_command(
        bare_python, bundle, tmp_path, "exitcode", "-r", "0", "-s", "PegasusLite:+exitcode+0",
        "-M", "wf-0.cache.meta", "sum_ID1.out",
    )  # fmt: skip
    assert post.returncode == 0, post.stderr
    (entry,) = json.loads((tmp_path / "sum_ID1.meta").read_text())
    assert entry["_attributes"]["checksum.value"] == hashlib.sha256(b"42\n").hexdigest()
    assert (tmp_path / "sum_ID1.out.000").exists()

    transfers = [{"type": "transfer", "linkage": "output", "lfn": "sum.txt",
                  "src_urls": [{"site_label": "local",
                                "url": "file://%s/scratch/sum.txt" % tmp_path}],
                  "dest_urls": [{"site_label": "local",
                                 "url": "file://%s/outputs/sum.txt" % tmp_path}]}]  # fmt: skip
    (tmp_path / "stage_out.in").write_text(json.dumps(transfers))
    aux = run_bundle_command(bare_python, bundle, tmp_path, "transfer", "--file", "stage_out.in")
    assert aux.returncode == 0, aux.stderr
    assert (tmp_path / "outputs" / "sum.txt").read_text() == "42\n"
