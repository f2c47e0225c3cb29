"""The docker runtime against a real Docker engine and registry (tests/servers).

Each image here is the test image plus a label (one ``docker commit``), saved as a tar once
per session, so a test can take it out of the engine and see it loaded again.  Loads are
counted from the engine's own event stream, not from our log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from containers import ContainerError, get_runtime
from tests.containers.conftest import container_spec
from tests.containers.images import LocalImage

pytestmark = pytest.mark.docker


@pytest.fixture
def env(docker_engine, tmp_path):
    """The job's environment: this engine, a private node cache."""
    return docker_engine.env(
        {"PATH": os.environ["PATH"], "PEGASUS_IMAGE_CACHE": str(tmp_path / "image-cache")}
    )


def events(engine, since: float, action: str) -> list[str]:
    """Image IDs of the engine's ``action`` events (load, pull, delete) since ``since``."""
    out = engine.docker(
        "events", "--since", "%.3f" % since, "--until", "%.3f" % (time.time() + 0.5),
        "--filter", "type=image", "--filter", "event=" + action, "--format", "{{.ID}}",
    ).stdout  # fmt: skip
    return out.split()


def prepare(env, container, workdir, fetch=None):
    lines: list[str] = []
    runtime = get_runtime("docker", env)
    image = runtime.prepare(container, str(workdir), lines.append, fetch=fetch)
    return runtime, image, lines


def staged(image: LocalImage, workdir: Path, name: str = "img.tar") -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / name
    os.link(image.tar, target) if not target.exists() else None
    return target


def containers_named(engine, name: str) -> list[str]:
    return engine.docker("ps", "--all", "--quiet", "--filter", "name=" + name).stdout.split()


# ------------------------------------------------------------------ images


def test_load_from_tar_then_cache_hit(docker_engine, images, env, tmp_path):
    image = images("load")
    image.remove()
    container = container_spec(image="docker://" + image.tag, image_lfn="img.tar")
    container.sha256 = image.sha256
    since = time.time()
    fetched = []

    def fetch():
        fetched.append(1)
        staged(image, tmp_path / "w1")

    runtime, ref, lines = prepare(env, container, tmp_path / "w1", fetch)
    runtime.close()
    assert ref == image.id
    assert fetched == [1]
    assert runtime.image_facts["source"] == "tar"
    assert runtime.image_facts["image_id"] == image.id
    assert "Loaded docker image %s" % image.tag in lines
    assert events(docker_engine, since, "load") == [image.id]

    # the next job on the node: nothing staged, nothing loaded
    runtime, ref, lines = prepare(env, container, tmp_path / "w2", fetch)
    runtime.close()
    assert ref == image.id and fetched == [1]
    assert runtime.image_facts["source"] == "cache"
    assert lines == ["Using cached docker image %s" % image.tag]
    assert events(docker_engine, since, "load") == [image.id]


def test_a_cached_image_removed_from_the_engine_is_loaded_again(images, env, tmp_path):
    image = images("reload")
    container = container_spec(image=image.tag, image_lfn="img.tar", sha256=image.sha256)
    staged(image, tmp_path)
    runtime, _, _ = prepare(env, container, tmp_path)
    runtime.close()
    image.remove()
    runtime, ref, lines = prepare(env, container, tmp_path)
    runtime.close()
    assert ref == image.id and image.present()
    assert any("no longer in the engine" in line for line in lines)
    assert runtime.image_facts["source"] == "tar"


def test_an_image_already_in_the_engine_is_not_loaded(docker_engine, images, env, tmp_path):
    image = images("present")
    assert image.present()
    staged(image, tmp_path)
    since = time.time()
    container = container_spec(image=image.tag, image_lfn="img.tar")  # no sha256: manifest ID
    runtime, ref, _ = prepare(env, container, tmp_path)
    runtime.close()
    assert ref == image.id
    assert runtime.image_facts["source"] == "present"
    assert events(docker_engine, since, "load") == []


def test_many_jobs_at_once_load_the_image_once(docker_engine, images, env, tmp_path):
    image = images("concurrent")
    image.remove()
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from containers import get_runtime\n"
        "from tests.containers.conftest import container_spec\n"
        "c = container_spec(image=%r, image_lfn='img.tar', sha256=%r)\n"
        "r = get_runtime('docker')\n"
        "print(r.prepare(c, sys.argv[1], lambda line: None)); r.close()\n"
    ) % (os.getcwd(), image.tag, image.sha256)
    since = time.time()
    procs = []
    for number in range(16):
        workdir = tmp_path / ("job%d" % number)
        staged(image, workdir)
        command = [sys.executable, "-c", code, str(workdir)]
        procs.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 16, results
    assert {out.decode().strip() for out, _ in results} == {image.id}
    assert events(docker_engine, since, "load") == [image.id]


def test_pull_from_registry(docker_engine, docker_registry, images, env, tmp_path):
    image = images("pull")
    remote = "%s/pegasus-lite/containers-test:%s" % (
        docker_registry.address,
        image.tag.rsplit(":", 1)[1],
    )
    docker_engine.docker("tag", image.tag, remote)
    docker_engine.docker("push", remote)
    image.remove()
    since = time.time()
    container = container_spec(image="docker://" + remote)
    runtime, ref, lines = prepare(env, container, tmp_path)
    runtime.close()
    assert ref == image.id
    assert "Pulling docker image %s" % remote in lines
    assert runtime.image_facts["source"] == "pull"
    assert runtime.image_facts["digest"].startswith("sha256:")
    assert len(events(docker_engine, since, "pull")) == 1
    # pinned by digest, and checked against it
    pinned = container_spec(
        image="%s@%s" % (remote.rsplit(":", 1)[0], runtime.image_facts["digest"]),
        sha256=image.id.split(":", 1)[1],
    )
    runtime, ref, _ = prepare(env, pinned, tmp_path)
    runtime.close()
    assert ref == image.id


def test_an_image_that_does_not_exist(docker_registry, env, tmp_path):
    missing = "%s/pegasus-lite/no-such-image:1" % docker_registry.address
    with pytest.raises(ContainerError) as info:
        prepare(env, container_spec(image="docker://" + missing), tmp_path)
    message = str(info.value)
    assert message.startswith("image %s could not be pulled: " % missing)
    assert "\n" not in message


def test_a_pulled_image_with_the_wrong_sha256(images, env, tmp_path):
    image = images("present")
    container = container_spec(image=image.tag, sha256="0" * 64)
    with pytest.raises(ContainerError, match="not the sha256 0000"):
        prepare(env, container, tmp_path)


def test_a_corrupt_unverified_tar_is_refused(images, env, tmp_path):
    image = images("present")
    staged(image, tmp_path)
    container = container_spec(image=image.tag, image_lfn="img.tar", sha256="1" * 64)
    with pytest.raises(ContainerError, match=r"container file img.tar: sha256 .*, expected 1+"):
        prepare(env, container, tmp_path)


def test_an_unreachable_engine(tmp_path):
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": "unix://%s/none.sock" % tmp_path}
    with pytest.raises(ContainerError, match="cannot reach the Docker engine at unix://"):
        prepare(env, container_spec(), tmp_path)


def test_eviction_removes_least_recently_used_images_we_loaded(images, env, tmp_path):
    first, second = images("evict-a"), images("evict-b")
    first.remove()
    second.remove()
    env = dict(env, PEGASUS_IMAGE_CACHE_MAX="1")  # any second image is one too many
    for number, image in enumerate((first, second)):
        staged(image, tmp_path / str(number))
    container_a = container_spec(image=first.tag, image_lfn="img.tar", sha256=first.sha256)
    container_b = container_spec(image=second.tag, image_lfn="img.tar", sha256=second.sha256)
    holder, _, _ = prepare(env, container_a, tmp_path / "0")  # still running: in use
    runtime, _, lines = prepare(env, container_b, tmp_path / "1")
    runtime.close()
    assert first.present() and second.present()  # a was in use; b is the one just loaded
    holder.close()
    runtime, _, lines = prepare(env, container_b, tmp_path / "1")  # a hit; a is evictable now
    runtime.close()
    assert not first.present() and second.present()
    assert any("removed %s" % first.tag in line for line in lines)


# ------------------------------------------------------------------ running


def run(runtime, image, workdir: Path, argv, env=None, container=None, **popen):
    name = runtime.new_name("test")
    cmd = runtime.command(image, argv, str(workdir), env or {}, container or container_spec(), name)
    host = runtime.host_env(env or {}, dict(os.environ, PLITE_HOST_ONLY="leak"))
    return name, subprocess.Popen(cmd, env=host, **popen)


def test_run_maps_user_env_workdir_and_is_removed(docker_engine, images, env, tmp_path):
    image = images("present")
    runtime, ref, _ = prepare(env, container_spec(image=image.tag), tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    script = "id -u; id -g; pwd; echo $HOME; env | sort > env.txt; head -c 3000000 /dev/zero > f"
    name, proc = run(
        runtime, ref, work, ["/bin/sh", "-c", script], {"JOB_VAR": "a b"},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    usage = runtime.usage(name)
    runtime.cleanup(name)
    runtime.close()
    assert proc.returncode == 0
    assert out.split() == [str(os.getuid()), str(os.getgid()), str(work), str(work)]
    assert (work / "f").stat().st_uid == os.getuid()
    env_lines = (work / "env.txt").read_text().splitlines()
    assert "JOB_VAR=a b" in env_lines
    assert not any(line.startswith("PLITE_HOST_ONLY=") for line in env_lines)
    assert containers_named(docker_engine, name) == []
    assert usage is not None and usage["memory_peak_bytes"] > 0 and usage["cpu_seconds"] > 0
    assert usage.get("io_write_bytes", 0) >= 0


def test_exit_code_passes_through(docker_engine, images, env, tmp_path):
    image = images("present")
    runtime, ref, _ = prepare(env, container_spec(image=image.tag), tmp_path)
    name, proc = run(runtime, ref, tmp_path, ["/bin/sh", "-c", "exit 3"])
    assert proc.wait(timeout=60) == 3
    runtime.cleanup(name)
    runtime.cleanup(name)  # idempotent
    assert containers_named(docker_engine, name) == []


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)


def test_term_to_the_run_process_group_stops_the_container(docker_engine, images, env, tmp_path):
    image = images("present")
    runtime, ref, _ = prepare(env, container_spec(image=image.tag), tmp_path)
    script = "touch started; sleep 60"
    name, proc = run(runtime, ref, tmp_path, ["/bin/sh", "-c", script], start_new_session=True)
    _wait_for(tmp_path / "started")
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    code = proc.wait(timeout=30)
    assert time.monotonic() - started < 15
    assert code == 128 + signal.SIGTERM  # the task got the TERM, through docker-init
    assert containers_named(docker_engine, name) == []  # --rm
    runtime.cleanup(name)


def test_kill_of_the_run_process_leaves_cleanup_to_remove_it(docker_engine, images, env, tmp_path):
    image = images("present")
    runtime, ref, _ = prepare(env, container_spec(image=image.tag), tmp_path)
    name, proc = run(
        runtime, ref, tmp_path, ["/bin/sh", "-c", "touch started; sleep 60"],
        start_new_session=True,
    )  # fmt: skip
    _wait_for(tmp_path / "started")
    os.killpg(proc.pid, signal.SIGKILL)  # what kickstart's timeout does in the end
    proc.wait(timeout=30)
    assert containers_named(docker_engine, name) != []  # the container lives on...
    runtime.cleanup(name)
    assert containers_named(docker_engine, name) == []  # ...until cleanup
    runtime.close()
