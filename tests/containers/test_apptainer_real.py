"""Apptainer or Singularity for real, when one is installed (there is none on these machines:
tests/containers/test_argv.py checks the exact commands against a stand-in instead)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from containers import get_runtime
from tests.containers.conftest import container_spec

pytestmark = pytest.mark.docker  # the image is one of the Docker tests' tars


@pytest.fixture(scope="module")
def apptainer():
    program = shutil.which("apptainer") or shutil.which("singularity")
    if program is None:
        pytest.skip("neither apptainer nor singularity is installed")
    return program


def test_docker_archive_converted_then_run(apptainer, images, tmp_path):
    image = images("apptainer")
    work = tmp_path / "work"
    work.mkdir()
    os.link(image.tar, work / "img.tar")
    env = {"PATH": os.environ["PATH"], "PEGASUS_IMAGE_CACHE": str(tmp_path / "cache")}
    container = container_spec(
        runtime="apptainer", image=image.tag, image_lfn="img.tar", sha256=image.sha256
    )
    runtime = get_runtime("apptainer", env)
    sif = runtime.prepare(container, str(work), lambda line: None)
    assert os.path.isfile(sif)
    cmd = runtime.command(
        sif, ["/bin/sh", "-c", "id -u; pwd; echo $JOB_VAR; echo x > f"], str(work),
        {"JOB_VAR": "a,b"}, container, "n",
    )  # fmt: skip
    proc = subprocess.run(
        cmd, env=runtime.host_env({"JOB_VAR": "a,b"}, dict(os.environ, PLITE_HOST_ONLY="x")),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    runtime.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(os.getuid()), str(work), "a,b"]
    assert (work / "f").stat().st_uid == os.getuid()
