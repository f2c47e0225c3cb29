"""pegasus-lite jobs in Docker, end to end, with the real engine and registry (tests/servers).

What is checked: the image from a staged tar, from the node cache (nothing staged, nothing
loaded), from the registry; the task as the host user with exactly the job's environment;
the record (Pegasus's parser reads it; it has the container section and the task's exit
code); the container gone after success, failure, TERM and timeout; a missing image as a
wrapper failure (71) with one clear line; a job run by a non-root member of the docker
group through the worker bundle.  An apptainer job runs through a stand-in ``apptainer``.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script
from tests.containers.conftest import FAKE_APPTAINER, write_program
from tests.lite.test_job import LiteRun, sha, spec_for

kickstart_parser = pytest.importorskip("Pegasus.tools.kickstart_parser")


def docker_spec(tmp_path: Path, image, script: str, outputs=("out.txt",), tar=True) -> dict:
    """spec_for()'s job (an input, /bin/sh -c script, outputs) in ``image``."""
    spec = spec_for(tmp_path, script, outputs)
    spec["container"] = {"runtime": "docker", "image": "docker://" + image.tag}
    if tar:
        spec["container"].update(image_lfn="img.tar", sha256=image.sha256)
        spec["inputs"].append(
            {"lfn": "img.tar", "sha256": image.sha256,
             "sources": [{"url": "file://%s" % image.tar, "site": "local"}]}
        )  # fmt: skip
    return spec


@pytest.fixture
def cjob(tmp_path, docker_engine):
    """cjob(spec, env=None, name="job") runs pegasus-lite; .popen() starts it in the background."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    wn_tmp = tmp_path / "wn"
    wn_tmp.mkdir()
    base_env = docker_engine.env()
    base_env.update(
        PEGASUS_WN_TMP=str(wn_tmp),
        PEGASUS_WN_TMP_MIN_SPACE="1",
        PEGASUS_IMAGE_CACHE=str(tmp_path / "image-cache"),
    )

    def environment(env):
        full = dict(base_env)
        full.update(env or {})
        return full

    def run(spec: dict, env: dict | None = None, name: str = "job") -> LiteRun:
        (scratch / "job.json").write_text(json.dumps(spec))
        out, err = scratch / (name + ".out"), scratch / (name + ".err")
        with open(out, "w") as fo, open(err, "w") as fe:
            subprocess.call(
                [*console_script("pegasus-lite"), "job.json"],
                cwd=scratch, stdout=fo, stderr=fe, env=environment(env), timeout=300,
            )  # fmt: skip
        return LiteRun(_rc(err), out, err)

    def popen(spec: dict, env: dict | None = None) -> subprocess.Popen:
        (scratch / "job.json").write_text(json.dumps(spec))
        return subprocess.Popen(
            [*console_script("pegasus-lite"), "job.json"], cwd=scratch, env=environment(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    run.popen = popen
    run.scratch = scratch
    run.wn_tmp = wn_tmp
    run.env = base_env
    return run


def _rc(err: Path) -> int:
    return int(err.read_text().rstrip().rsplit("PegasusLite: exitcode ", 1)[1])


def leftover_containers(engine) -> list[str]:
    return engine.docker(
        "ps", "--all", "--format", "{{.Names}}", "--filter", "name=pegasus-lite-"
    ).stdout.split()


def events(engine, since: float, action: str) -> list[str]:
    return engine.docker(
        "events", "--since", "%.3f" % since, "--until", "%.3f" % (time.time() + 0.5),
        "--filter", "type=image", "--filter", "event=" + action, "--format", "{{.ID}}",
    ).stdout.split()  # fmt: skip


def parsed_by_pegasus(run: LiteRun) -> list[dict]:
    """The invocation records as pegasus-monitord reads them (multipart blocks left out)."""
    records = kickstart_parser.Parser(str(run.out_path)).parse_stampede()
    records = [r for r in records if r.get("invocation")]
    assert records, "Pegasus's parser found no record"
    return records


def record_of(stdout: str) -> dict:
    return yaml.safe_load(stdout.split("\n---------------pegasus-multipart\n")[0])[0]


docker = pytest.mark.docker


# ------------------------------------------------------------------ images


@docker
def test_job_from_a_staged_tar_then_from_the_cache(docker_engine, images, cjob, tmp_path):
    image = images("lite-load")
    image.remove()
    script = "id -u > out.txt; cat in.txt >> out.txt"
    spec = docker_spec(tmp_path, image, script)
    since = time.time()
    run = cjob(spec)
    assert run.rc == 0, run.stderr
    out = tmp_path / "out" / "out.txt"
    assert out.read_text() == "%d\nsome input\n" % os.getuid()
    assert "Loaded docker image %s" % image.tag in run.stderr
    (record,) = run.records
    section = record["container"]
    assert section["runtime"] == "docker"
    assert section["image_id"] == image.id
    assert section["source"] == "tar"
    assert section["argument_vector"] == ["/bin/sh", "-c", script]
    assert section["usage"]["memory_peak_bytes"] > 0
    assert record["mainjob"]["status"]["regular_exitcode"] == 0
    assert record["files"]["out.txt"]["sha256"] == sha(out)
    assert "img.tar" not in record["files"]
    assert run.pegasus_exitcode_accepts()
    (parsed,) = parsed_by_pegasus(run)
    assert parsed["exitcode"] == 0
    assert leftover_containers(docker_engine) == []
    assert list(cjob.wn_tmp.iterdir()) == []

    again = cjob(spec, name="again")
    assert again.rc == 0, again.stderr
    assert "Using cached docker image %s" % image.tag in again.stderr
    transfers = "".join(again.stdout.split("\n---------------pegasus-multipart\n")[1:])
    assert "in.txt" in transfers and "img.tar" not in transfers  # not even staged
    assert again.records[0]["container"]["source"] == "cache"
    assert events(docker_engine, since, "load") == [image.id]


@docker
def test_job_pulls_from_the_registry(docker_engine, docker_registry, images, cjob, tmp_path):
    image = images("lite-pull")
    remote = "%s/pegasus-lite/lite-pull:%s" % (docker_registry.address, image.tag.rsplit(":")[1])
    docker_engine.docker("tag", image.tag, remote)
    docker_engine.docker("push", remote)
    image.remove()
    spec = docker_spec(tmp_path, image, "cat in.txt > out.txt", tar=False)
    spec["container"]["image"] = "docker://" + remote
    run = cjob(spec)
    assert run.rc == 0, run.stderr
    assert "Pulling docker image %s" % remote in run.stderr
    section = run.records[0]["container"]
    assert section["source"] == "pull" and section["image_id"] == image.id
    assert section["digest"].startswith("sha256:")
    assert (tmp_path / "out" / "out.txt").read_text() == "some input\n"


@docker
def test_an_image_that_does_not_exist_is_a_wrapper_failure(
    docker_engine, docker_registry, images, cjob, tmp_path
):
    spec = docker_spec(tmp_path, images("present"), "echo x > out.txt", tar=False)
    missing = "%s/pegasus-lite/no-such-image:1" % docker_registry.address
    spec["container"]["image"] = "docker://" + missing
    run = cjob(spec)
    assert run.rc == 71
    errors = [line for line in run.stderr.splitlines() if "Error:" in line]
    assert len(errors) == 1
    assert "Error: container: image %s could not be pulled: " % missing in errors[0]
    assert "Traceback" not in run.stderr
    assert run.records == []
    assert not run.pegasus_exitcode_accepts()
    assert list(cjob.wn_tmp.iterdir()) == []


@docker
def test_a_tar_that_fails_its_checksum_is_never_loaded(docker_engine, images, cjob, tmp_path):
    image = images("present")
    spec = docker_spec(tmp_path, image, "echo x > out.txt")
    spec["container"]["sha256"] = spec["inputs"][-1]["sha256"] = "0" * 64
    since = time.time()
    run = cjob(spec)
    assert run.rc == 71
    assert "stage-in of the container image img.tar failed" in run.stderr
    assert events(docker_engine, since, "load") == []


# ------------------------------------------------------------------ the task inside


@docker
def test_user_env_and_home(images, cjob, tmp_path):
    spec = docker_spec(
        tmp_path, images("present"),
        'id -u > out.txt; id -g >> out.txt; echo "$HOME $PWD" >> out.txt; env | sort > env.txt; '
        "echo $JOB_VAR > expanded.txt",
        outputs=("out.txt", "env.txt"),
    )  # fmt: skip
    spec["tasks"][0]["environment"] = {"JOB_VAR": "from the job", "TMPDIR": "/tmp"}
    spec["tasks"][0]["arguments"][1] += "; echo $JOB_VAR > arg.txt"
    spec["outputs"].append({"lfn": "arg.txt", "destinations": [{"url": "file://%s/out/arg.txt"
                                                                 % tmp_path}]})  # fmt: skip
    run = cjob(spec, env={"PLITE_HOST_SECRET": "host only"})
    assert run.rc == 0, run.stderr
    uid, gid, where = (tmp_path / "out" / "out.txt").read_text().splitlines()
    assert (int(uid), int(gid)) == (os.getuid(), os.getgid())
    home, cwd = where.split()
    assert home == cwd and cwd.startswith(str(cjob.wn_tmp))
    env = dict(line.split("=", 1) for line in (tmp_path / "out" / "env.txt").read_text().split("\n")
               if "=" in line)  # fmt: skip
    assert env["JOB_VAR"] == "from the job"
    assert env["HOME"] == cwd
    assert "PLITE_HOST_SECRET" not in env and "DOCKER_HOST" not in env
    assert "PEGASUS_WN_TMP" not in env
    assert (tmp_path / "out" / "arg.txt").read_text() == "from the job\n"
    for name in ("out.txt", "env.txt"):
        assert (tmp_path / "out" / name).stat().st_uid == os.getuid()


@docker
def test_task_failure_keeps_its_exit_code_and_removes_the_container(
    docker_engine, images, cjob, tmp_path
):
    run = cjob(docker_spec(tmp_path, images("present"), "echo partial > out.txt; exit 3"))
    assert run.rc == 3
    record = run.records[0]
    assert record["mainjob"]["status"]["regular_exitcode"] == 3
    assert record["container"]["image_id"] == images("present").id
    assert (parsed_by_pegasus(run)[0])["exitcode"] == 3
    assert not run.pegasus_exitcode_accepts()
    assert leftover_containers(docker_engine) == []


def _start_and_wait(cjob, spec: dict, marker: Path) -> subprocess.Popen:
    proc = cjob.popen(spec)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _, err = proc.communicate()
            pytest.fail("the task never started:\n%s" % err)
        time.sleep(0.05)
    return proc


@docker
@pytest.mark.parametrize("ignores_term", [False, True], ids=["plain", "ignores-TERM"])
def test_term_stops_the_container(docker_engine, images, cjob, tmp_path, ignores_term):
    shared = tmp_path / "shared"
    shared.mkdir()
    trap = "trap '' TERM; " if ignores_term else ""
    script = "%stouch %s/started; sleep 60; echo x > out.txt" % (trap, shared)
    spec = docker_spec(tmp_path, images("present"), script)
    spec["container"]["mounts"] = ["%s:%s" % (shared, shared)]
    proc = _start_and_wait(cjob, spec, shared / "started")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - started < (25 if ignores_term else 15)
    assert proc.returncode == 143, err
    assert err.rstrip().endswith("PegasusLite: exitcode 143")
    record = record_of(out)
    assert record["mainjob"]["status"]["forwarded_signals"] == [15]
    assert record["container"]["usage"]["cpu_seconds"] > 0  # read before the cleanup
    if ignores_term:
        assert "did not stop within" in err
    assert leftover_containers(docker_engine) == []
    assert list(cjob.wn_tmp.iterdir()) == []


@docker
def test_walltime_kill_still_removes_the_container(docker_engine, images, cjob, tmp_path):
    spec = docker_spec(tmp_path, images("present"), "trap '' TERM; sleep 60 & wait; wait")
    spec["tasks"][0]["walltime"] = 2
    started = time.monotonic()
    run = cjob(spec)
    assert time.monotonic() - started < 40
    assert run.rc == 14, run.stderr  # kickstart's timeout code
    assert run.records[0]["mainjob"]["status"]["timeout"] is True
    assert leftover_containers(docker_engine) == []


# ------------------------------------------------------------------ another user


@pytest.fixture(scope="session")
def docker_user(docker_engine):
    """A non-root user in the docker group (created here, removed at the end)."""
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root")
    try:
        docker_gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        pytest.skip("no docker group on this machine")
    name = "plite-test-%d" % os.getpid()
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
         "--groups", "docker", name],
        capture_output=True, text=True,
    )  # fmt: skip
    if created.returncode != 0:
        pytest.skip("useradd failed: %s" % created.stderr.strip())
    try:
        entry = pwd.getpwnam(name)
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[docker_gid],
            env=docker_engine.env(), capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode != 0:
            pytest.skip("the engine's socket does not admit the docker group: %s" % probe.stderr)
        yield entry, docker_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@docker
def test_job_as_a_non_root_user_in_the_docker_group(
    docker_engine, docker_registry, images, docker_user, tmp_path
):
    """Through the worker bundle and the system's python3, as the batch system would run it."""
    user, docker_gid = docker_user
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3")
    image = images("present")
    remote = "%s/pegasus-lite/nonroot:%s" % (docker_registry.address, image.tag.rsplit(":")[1])
    docker_engine.docker("tag", image.tag, remote)  # present: no SDK needed to "pull" it
    home = Path(tempfile.mkdtemp(prefix="plite-user-", dir="/tmp"))
    try:
        from lite import bundle

        bundle.build(str(home / "lite.pyz"))
        for sub in ("scratch", "wn", "out", "cache", "data"):
            (home / sub).mkdir()
        (home / "data" / "in.txt").write_text("input\n")
        spec = {
            "version": 1,
            "job": {"id": "ID1", "name": "nonroot_ID1"},
            "tasks": [{"executable": {"path": "/bin/sh"},
                       "arguments": ["-c", "sleep 1; id -u > out.txt; cat in.txt >> out.txt"]}],
            "container": {"runtime": "docker", "image": "docker://" + remote},
            "inputs": [{"lfn": "in.txt", "sources": [{"url": "file://%s/data/in.txt" % home}]}],
            "outputs": [{"lfn": "out.txt",
                         "destinations": [{"url": "file://%s/out/out.txt" % home}]}],
        }  # fmt: skip
        (home / "scratch" / "job.json").write_text(json.dumps(spec))
        subprocess.run(["chown", "-R", "%d:%d" % (user.pw_uid, user.pw_gid), str(home)], check=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "DOCKER_HOST": docker_engine.host,
            "PEGASUS_WN_TMP": str(home / "wn"),
            "PEGASUS_WN_TMP_MIN_SPACE": "1",
            "PEGASUS_IMAGE_CACHE": str(home / "cache"),
        }
        proc = subprocess.run(
            [python, str(home / "lite.pyz"), "job.json"], cwd=home / "scratch", env=env,
            user=user.pw_uid, group=user.pw_gid, extra_groups=[docker_gid],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out = home / "out" / "out.txt"
        assert out.read_text() == "%d\ninput\n" % user.pw_uid
        assert out.stat().st_uid == user.pw_uid
        record = record_of(proc.stdout)
        assert record["uid"] == user.pw_uid
        usage = record["container"].get("usage")
        assert usage is not None and usage["sampled"] is True  # no cgroup of our own: sampled
        assert usage["memory_peak_bytes"] > 0
        assert leftover_containers(docker_engine) == []
        assert list((home / "wn").iterdir()) == []
    finally:
        docker_engine.docker("rmi", remote, check=False)
        shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------ apptainer, stand-in


def test_apptainer_job_through_a_stand_in(tmp_path):
    """No apptainer here: the stand-in records the argv and runs the command on the host."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    write_program(bindir / "apptainer", FAKE_APPTAINER % {"python": sys.executable})
    sif = tmp_path / "img.sif"
    sif.write_text("SIF")
    script = "echo $JOB_VAR > out.txt; echo ${PLITE_HOST_SECRET:-unset} >> out.txt"
    spec = spec_for(tmp_path, script)
    spec["tasks"][0]["environment"] = {"JOB_VAR": "a,b"}
    spec["container"] = {"runtime": "singularity", "image": "img", "image_lfn": "img.sif",
                         "sha256": sha(sif)}  # fmt: skip
    spec["inputs"].append({"lfn": "img.sif", "sources": [{"url": "file://%s" % sif}]})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "job.json").write_text(json.dumps(spec))
    wn = tmp_path / "wn"
    wn.mkdir()
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), PEGASUS_WN_TMP=str(wn),
               PEGASUS_WN_TMP_MIN_SPACE="1", PLITE_HOST_SECRET="host only",
               PEGASUS_IMAGE_CACHE=str(tmp_path / "cache"))  # fmt: skip
    proc = subprocess.run(
        [*console_script("pegasus-lite"), "job.json"], cwd=scratch, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "out.txt").read_text() == "a,b\nunset\n"
    calls = [json.loads(line) for line in (tmp_path / "apptainer.log").read_text().splitlines()]
    (call,) = calls
    workdir = call["argv"][call["argv"].index("--pwd") + 1]
    script = spec["tasks"][0]["arguments"][1].replace("$JOB_VAR", "a,b")  # as kickstart would
    assert call["argv"] == [
        "exec", "--no-home", "--cleanenv", "--bind", "%s:%s" % (workdir, workdir),
        "--pwd", workdir, "%s/img.sif" % workdir, "/bin/sh", "-c", script,
    ]  # fmt: skip
    assert call["env"]["APPTAINERENV_JOB_VAR"] == "a,b"
    record = record_of(proc.stdout)
    assert record["container"]["runtime"] == "apptainer"
    assert record["container"]["image_file"] == "img.sif"
    assert "usage" not in record["container"]  # kickstart's own rusage covers the task


def test_two_different_checksums_for_the_image_file_is_a_spec_error(tmp_path):
    from lite.spec import JobSpec, SpecError

    spec = spec_for(tmp_path, "true")
    spec["container"] = {"runtime": "docker", "image": "x", "image_lfn": "img.tar",
                         "sha256": "1" * 64}  # fmt: skip
    spec["inputs"].append({"lfn": "img.tar", "sha256": "2" * 64, "sources": [{"url": "/x"}]})
    with pytest.raises(SpecError, match=r"spec.container.sha256: differs from spec.inputs\[1\]"):
        JobSpec(spec)


@docker
def test_term_while_the_image_is_being_staged(docker_engine, images, cjob, tmp_path):
    image = images("present")
    fifo = tmp_path / "never-written.tar"
    os.mkfifo(fifo)
    spec = docker_spec(tmp_path, image, "echo x > out.txt")
    spec["inputs"][-1]["sources"] = [{"url": "file://%s" % fifo}]
    proc = cjob.popen(spec)
    try:
        seen, deadline = "", time.monotonic() + 60
        while "Staging in the container image" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Caught TERM signal! Aborting..." in err
    assert "- invocation:" not in out  # no task ran: no record, only the transfer block
    assert leftover_containers(docker_engine) == []
    assert list(cjob.wn_tmp.iterdir()) == []


@docker
def test_shipped_credential_and_success_message_inside_the_container(images, cjob, tmp_path):
    token = cjob.scratch / "token"
    token.write_text("not-a-real-token-but-secret\n")
    digest = sha(token)
    script = 'stat -c %a "$MY_TOKEN" > out.txt; sha256sum < "$MY_TOKEN" | cut -c1-64 >> out.txt'
    spec = docker_spec(tmp_path, images("present"), script + "; echo task-ok")
    spec["credentials"] = [{"env": "MY_TOKEN", "file": "token"}]
    spec["tasks"][0]["success_message"] = "task-ok"
    run = cjob(spec)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "out.txt").read_text() == "600\n%s\n" % digest
    assert not token.exists()
    assert "not-a-real-token" not in run.stdout + run.stderr
    spec["tasks"][0]["success_message"] = "never printed"
    token.write_text("not-a-real-token-but-secret\n")
    failed = cjob(spec, name="failed")
    assert failed.rc == 1
    assert "its output lacks the success message 'never printed'" in failed.stderr
