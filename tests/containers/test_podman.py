"""The podman runtime for real (Debian's podman and catatonit), when podman runs here.

The image is one of the Docker tests' tars (tests/containers/images.py), loaded into
podman's own storage by the runtime.  On machines where root lacks CAP_SYS_RESOURCE podman
cannot apply its default rlimits (nofile/nproc 1048576), so every run here passes lower
ones through the job spec's ``options``, as a site would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from containers import get_runtime
from containers.podman import CATATONIT
from tests.containers.conftest import container_spec

pytestmark = pytest.mark.docker  # the image tar comes from the Docker engine

ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


@pytest.fixture(scope="module")
def podman():
    program = shutil.which("podman")
    if program is None:
        pytest.skip("podman is not installed (Debian package podman)")
    if not any(os.access(p, os.X_OK) for p in CATATONIT) and not shutil.which("catatonit"):
        pytest.skip("catatonit is not installed (Debian package catatonit)")
    probe = subprocess.run([program, "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("podman does not work here: %s" % probe.stderr.strip()[-300:])
    return program


@pytest.fixture
def env(tmp_path):
    return {"PATH": os.environ["PATH"], "PEGASUS_IMAGE_CACHE": str(tmp_path / "cache")}


def podman_has(program: str, image_id: str) -> bool:
    return subprocess.run([program, "image", "exists", image_id]).returncode == 0


def test_podman_loads_caches_runs_and_removes(podman, images, env, tmp_path):
    image = images("podman")
    subprocess.run([podman, "rmi", "--force", image.id], capture_output=True)
    assert not podman_has(podman, image.id)
    work = tmp_path / "work"
    work.mkdir()
    os.link(image.tar, work / "img.tar")
    container = container_spec(
        runtime="podman", image=image.tag, image_lfn="img.tar", sha256=image.sha256,
        options=ULIMITS,
    )  # fmt: skip
    lines: list[str] = []
    try:
        runtime = get_runtime("podman", env)
        ref = runtime.prepare(container, str(work), lines.append)
        assert ref == image.id and podman_has(podman, image.id)
        assert "Loaded podman image localhost/%s" % image.tag in lines
        again = get_runtime("podman", env)
        assert again.prepare(container, str(work), lines.append) == image.id
        assert again.image_facts["source"] == "cache"
        again.close()

        name = runtime.new_name("podman-test")
        script = "id -u; pwd; echo $JOB_VAR; env > env.txt; echo data > f"
        cmd = runtime.command(ref, ["/bin/sh", "-c", script], str(work), {"JOB_VAR": "j"},
                              container, name)  # fmt: skip
        proc = subprocess.run(
            cmd, env=dict(os.environ, PLITE_HOST_ONLY="x"), capture_output=True, text=True
        )
        usage = runtime.usage(name)
        runtime.cleanup(name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [str(os.getuid()), str(work), "j"]
        assert (work / "f").stat().st_uid == os.getuid()
        env_text = (work / "env.txt").read_text()
        assert "JOB_VAR=j" in env_text and "PLITE_HOST_ONLY" not in env_text
        assert "HOME=%s" % work in env_text
        if runtime.use_parent:
            assert usage is not None and usage["memory_peak_bytes"] > 0
        listed = subprocess.run(
            [podman, "ps", "--all", "--quiet", "--filter", "name=" + name],
            capture_output=True, text=True,
        )  # fmt: skip
        assert listed.stdout.strip() == ""

        # TERM to the run process group reaches the task through catatonit
        name = runtime.new_name("podman-term")
        cmd = runtime.command(ref, ["/bin/sh", "-c", "touch started; sleep 60"], str(work), {},
                              container, name)  # fmt: skip
        proc = subprocess.Popen(cmd, start_new_session=True)
        deadline = time.monotonic() + 60
        while not (work / "started").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(1)  # podman 4.3 sets up its signal relay only once the container started
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        runtime.cleanup(name)
        runtime.close()
        listed = subprocess.run(
            [podman, "ps", "--all", "--quiet", "--filter", "name=" + name],
            capture_output=True, text=True,
        )  # fmt: skip
        assert listed.stdout.strip() == ""
    finally:
        subprocess.run([podman, "rmi", "--force", image.id], capture_output=True)
