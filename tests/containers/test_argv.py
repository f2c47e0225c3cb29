"""The exact command each runtime builds, and what happens when its program is missing.

Apptainer and Singularity have no binary on these machines: their argument vectors are
checked here, and a stand-in ``apptainer`` (tests/containers/conftest.py) pulls, converts
and executes so that the image handling and the node cache run for real around it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from containers import ContainerError, get_runtime
from containers.apptainer import ApptainerRuntime
from tests.containers.conftest import container_spec, fake_env, write_program
from tests.containers.images import sha256_of

WORK = "/scratch/pegasus.abc"
ENV = {"FOO": "bar baz", "MULTI": "a,b\nc"}
USER = "%d:%d" % (os.getuid(), os.getgid())


@pytest.fixture
def bindir(tmp_path):
    """A PATH directory with stand-in docker, podman and catatonit programs."""
    path = tmp_path / "bin"
    path.mkdir()
    for name in ("docker", "podman", "catatonit"):
        write_program(path / name, "#!/bin/sh\nexit 0\n")
    return path


def test_docker_run_vector(bindir):
    runtime = get_runtime("docker", fake_env(bindir))
    container = container_spec(mounts=["/data:/data:ro"], gpus=True, options=["--shm-size", "1g"])
    argv = runtime.command(
        "sha256:0123", ["/bin/sh", "-c", "echo $FOO"], WORK, ENV, container, "pegasus-lite-x"
    )
    assert argv == [
        str(bindir / "docker"), "run", "--name", "pegasus-lite-x", "--rm", "--init",
        "--pull", "never", "--user", USER,
        "--volume", "%s:%s" % (WORK, WORK), "--workdir", WORK,
        "--env", "HOME=%s" % WORK, "--env", "FOO=bar baz", "--env", "MULTI=a,b\nc",
        "--volume", "/data:/data:ro", "--gpus", "all",
        "--entrypoint", "/bin/sh", "--shm-size", "1g",
        "sha256:0123", "-c", "echo $FOO",
    ]  # fmt: skip
    runtime.cleanup("pegasus-lite-x")  # nothing to remove, no engine: never raises


def test_docker_with_its_own_cgroup_parent(bindir):
    runtime = get_runtime("docker", fake_env(bindir))
    runtime.use_parent = True
    argv = runtime.command("img", ["true"], WORK, {}, container_spec(), "n1")
    at = argv.index("--cgroup-parent")
    assert argv[at + 1] == "/pegasus-lite/n1"
    assert argv[-3:] == ["--entrypoint", "true", "img"]


def test_job_env_overrides_home(bindir):
    runtime = get_runtime("docker", fake_env(bindir))
    argv = runtime.command("img", ["true"], WORK, {"HOME": "/elsewhere"}, container_spec(), "n")
    assert [a for a in argv if a.startswith("HOME=")] == ["HOME=/elsewhere"]


def test_podman_run_vector(bindir):
    runtime = get_runtime("podman", fake_env(bindir))
    container = container_spec(runtime="podman", gpus=True, mounts=["/d:/e"])
    argv = runtime.command("sha256:0123", ["/opt/app", "x"], WORK, {"A": "1"}, container, "p")
    assert argv == [
        str(bindir / "podman"), "run", "--name", "p", "--rm", "--init", "--pull", "never",
        "--user", USER, "--volume", "%s:%s" % (WORK, WORK), "--workdir", WORK,
        "--env", "HOME=%s" % WORK, "--env", "A=1", "--volume", "/d:/e",
        "--device", "nvidia.com/gpu=all", "--entrypoint", "/opt/app", "sha256:0123", "x",
    ]  # fmt: skip


def test_apptainer_exec_vector(fake_apptainer):
    bindir, _, _ = fake_apptainer
    runtime = get_runtime("apptainer", fake_env(bindir))
    container = container_spec(
        runtime="apptainer", gpus=True, mounts=["/cvmfs:/cvmfs:ro"], options=["--contain"]
    )
    argv = runtime.command("/img.sif", ["/bin/app", "-x", "y z"], WORK, ENV, container, "n")
    assert argv == [
        str(bindir / "apptainer"), "exec", "--no-home", "--cleanenv",
        "--bind", "%s:%s" % (WORK, WORK), "--pwd", WORK, "--nv",
        "--bind", "/cvmfs:/cvmfs:ro", "--contain", "/img.sif", "/bin/app", "-x", "y z",
    ]  # fmt: skip
    no_gpu = runtime.command("/img.sif", ["true"], WORK, {}, container_spec(), "n")
    assert "--nv" not in no_gpu


def test_apptainer_environment_goes_through_its_prefix(fake_apptainer):
    bindir, _, _ = fake_apptainer
    runtime = get_runtime("singularity", fake_env(bindir))  # apptainer preferred anyway
    assert runtime.name == "apptainer"
    host = {"PATH": "/usr/bin", "SECRET": "host", "APPTAINERENV_LEAK": "1", "SINGULARITYENV_X": "2"}
    env = runtime.host_env({"HOME": WORK, **ENV}, host)
    assert env == {
        "PATH": "/usr/bin",
        "SECRET": "host",  # the host's own variables stay outside: --cleanenv
        "APPTAINERENV_FOO": "bar baz",
        "APPTAINERENV_MULTI": "a,b\nc",
    }


def test_singularity_when_it_is_the_only_one(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_program(bindir / "singularity", "#!/bin/sh\n")
    runtime = get_runtime("apptainer", fake_env(bindir))
    assert runtime.name == "singularity"
    assert runtime.host_env({"A": "1"}, {})["SINGULARITYENV_A"] == "1"
    assert runtime.command("i.sif", ["true"], WORK, {}, None, "n")[:2] == [
        str(bindir / "singularity"),
        "exec",
    ]


@pytest.mark.parametrize(
    "name, message",
    [
        ("docker", "the docker command is not installed"),
        ("podman", "the podman command is not installed (Debian package podman)"),
        ("apptainer", "Unable to find apptainer or singularity executable"),
        ("singularity", "Unable to find apptainer or singularity executable"),
        ("lxc", "unknown container runtime 'lxc'"),
    ],
)
def test_missing_program_is_one_clear_line(tmp_path, name, message):
    with pytest.raises(ContainerError) as info:
        get_runtime(name, {"PATH": str(tmp_path)})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_podman_needs_catatonit(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_program(bindir / "podman", "#!/bin/sh\n")
    monkeypatch.setattr("containers.podman.CATATONIT", ())
    with pytest.raises(ContainerError, match="Debian package catatonit"):
        get_runtime("podman", {"PATH": str(bindir)})


# ------------------------------------------------------------------ apptainer images


def _log(lines: list[str]):
    return lines.append


def test_apptainer_sif_file_runs_in_place(fake_apptainer, tmp_path):
    bindir, _, read_log = fake_apptainer
    sif = tmp_path / "img.sif"
    sif.write_text("SIF")
    container = container_spec(runtime="apptainer", image="img", image_lfn="img.sif")
    runtime = get_runtime("apptainer", fake_env(bindir, PEGASUS_IMAGE_CACHE=str(tmp_path / "c")))
    assert runtime.prepare(container, str(tmp_path), _log([])) == str(sif)
    assert runtime.image_facts == {"image": "img", "image_file": "img.sif", "source": "file"}
    assert read_log() == []  # nothing pulled or converted


def test_apptainer_pulls_once_per_node(fake_apptainer, tmp_path):
    bindir, _, read_log = fake_apptainer
    env = fake_env(bindir, PEGASUS_IMAGE_CACHE=str(tmp_path / "cache"))
    container = container_spec(runtime="apptainer", image="docker://127.0.0.1:5000/img:1")
    images = []
    for _ in range(3):
        runtime = get_runtime("apptainer", env)
        images.append(runtime.prepare(container, str(tmp_path), _log([])))
        runtime.close()
    assert len(set(images)) == 1 and images[0].startswith(str(tmp_path / "cache" / "apptainer"))
    assert Path(images[0]).read_text() == "SIF of docker://127.0.0.1:5000/img:1\n"
    calls = read_log()
    assert len(calls) == 1
    assert calls[0]["argv"][:2] == ["pull", "--disable-cache"]
    assert calls[0]["argv"][-1] == "docker://127.0.0.1:5000/img:1"
    assert runtime.image_facts["source"] == "cache"


def test_apptainer_converts_a_docker_archive_once(fake_apptainer, tmp_path):
    bindir, _, read_log = fake_apptainer
    env = fake_env(bindir, PEGASUS_IMAGE_CACHE=str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    tar = work / "img.tar"
    tar.write_bytes(b"not really a tar, the stand-in does not care")
    container = container_spec(
        runtime="apptainer", image="docker://x/y:1", image_lfn="img.tar", sha256=sha256_of(tar)
    )
    first = get_runtime("apptainer", env)
    image = first.prepare(container, str(work), _log([]))
    first.close()
    (build,) = read_log()
    assert build["argv"][:2] == ["build", "--disable-cache"]
    assert build["argv"][-1] == "docker-archive:%s" % tar
    tar.unlink()  # the next job finds it in the cache before staging anything

    def fetch():
        raise AssertionError("a cache hit must not stage the image file")

    second = get_runtime("apptainer", env)
    assert second.prepare(container, str(work), _log([]), fetch=fetch) == image
    assert len(read_log()) == 1


def test_apptainer_checks_the_sha256_of_an_unverified_file(fake_apptainer, tmp_path):
    bindir, _, _ = fake_apptainer
    (tmp_path / "img.sif").write_text("SIF")
    container = container_spec(
        runtime="apptainer", image="img", image_lfn="img.sif", sha256="0" * 64
    )
    runtime = get_runtime("apptainer", fake_env(bindir))
    with pytest.raises(ContainerError, match=r"container file img.sif: sha256 .*, expected 0+"):
        runtime.prepare(container, str(tmp_path), _log([]))


def test_apptainer_failed_pull_is_one_line(fake_apptainer, tmp_path):
    bindir, _, _ = fake_apptainer
    env = fake_env(bindir, PEGASUS_IMAGE_CACHE=str(tmp_path / "cache"))
    container = container_spec(runtime="apptainer", image="library://x/missing:1")
    with pytest.raises(ContainerError) as info:
        get_runtime("apptainer", env).prepare(container, str(tmp_path), _log([]))
    assert str(info.value) == (
        "apptainer pull failed: FATAL: While making image from oci registry: not found"
    )
    assert not [p for p in (tmp_path / "cache" / "apptainer").iterdir() if p.suffix == ".sif"]


def test_apptainer_image_on_the_node(fake_apptainer, tmp_path):
    bindir, _, _ = fake_apptainer
    runtime = ApptainerRuntime(fake_env(bindir))
    with pytest.raises(ContainerError, match="does not exist on this node"):
        runtime.prepare(container_spec(image="/cvmfs/none.sif"), str(tmp_path), _log([]))
    sif = tmp_path / "node.sif"
    sif.write_text("x")
    assert runtime.prepare(container_spec(image=str(sif)), str(tmp_path), _log([])) == str(sif)


def test_loading_without_the_docker_sdk_says_what_to_install(monkeypatch):
    from containers.docker import EngineAPI

    monkeypatch.setitem(sys.modules, "docker", None)  # import docker -> ImportError
    with pytest.raises(ContainerError) as info:
        EngineAPI({"DOCKER_HOST": "unix:///nonexistent.sock"}).sdk()
    assert str(info.value) == (
        "loading or pulling Docker images needs the docker SDK for Python (pip install docker)"
    )
