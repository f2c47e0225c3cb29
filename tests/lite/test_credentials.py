"""Credentials shipped with a job (spec ``credentials``): HTCondor puts the file in the start
dir; pegasus-lite moves it into the work dir (0600), points the variable at it for staging
and for the task, and deletes it however the job ends.  Staging goes to real servers (sshd,
moto S3) that accept only what the shipped credential says."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.servers import fixtures as server_fixtures
from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY

sshd_server = server_fixtures.sshd_server  # session fixtures, shared with tests/transfer
s3_server = server_fixtures.s3_server

SITE = "ssh-site"  # the variable is SSH_PRIVATE_KEY_ssh_site


class Run:
    def __init__(self, rc: int, out: str, err: str):
        self.rc = rc
        self.stdout = out
        self.stderr = err


@pytest.fixture
def lite(tmp_path):
    """lite(spec, *flags, files={name: path}) runs pegasus-lite in a fresh start dir that
    holds ``files`` (what HTCondor would have brought)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    wn = tmp_path / "wn"
    wn.mkdir()

    def run(spec: dict, *flags: str, env: dict | None = None) -> Run:
        (scratch / "job.json").write_text(json.dumps(spec))
        full_env = dict(os.environ, PEGASUS_WN_TMP=str(wn), PEGASUS_WN_TMP_MIN_SPACE="1")
        full_env.update(env or {})
        done = subprocess.run(
            [*console_script("pegasus-lite"), *flags, "job.json"], cwd=scratch, env=full_env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return Run(done.returncode, done.stdout, done.stderr)

    run.scratch = scratch
    run.wn = wn
    return run


def base_spec(script: str, **extra) -> dict:
    spec = {
        "version": 1,
        "job": {"id": "ID1", "name": "cred_ID1", "site": "condorpool"},
        "tasks": [{"transformation": "demo::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script]}],
    }  # fmt: skip
    spec.update(extra)
    return spec


def secret_lines(path: Path) -> list[str]:
    """The parts of a secret file that must never show up in a job's output."""
    return [line for line in path.read_text().splitlines() if len(line) > 12]


def assert_no_secret(run: Run, secret: Path) -> None:
    for line in secret_lines(secret):
        assert line not in run.stdout
        assert line not in run.stderr


def ship(lite, source: Path, name: str, mode: int = 0o644) -> Path:
    """Put a credential in the start dir as HTCondor would: a plain copy, default mode."""
    shipped = lite.scratch / name
    shutil.copyfile(source, shipped)
    shipped.chmod(mode)
    return shipped


# ------------------------------------------------------------------ sftp with a shipped key


@pytest.mark.server
def test_sftp_staging_with_a_shipped_key(lite, sshd_server, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "data.txt").write_text("over sftp\n")
    base = "sftp://%s@127.0.0.1:%d%s" % (sshd_server.user, sshd_server.port, remote)
    shipped = ship(lite, sshd_server.client_key, "id_ed25519")
    spec = base_spec(
        # what the task sees: the variable, the file's mode, that it is inside the work dir
        'stat -c %a "$SSH_PRIVATE_KEY_ssh_site" > seen.txt; echo "$SSH_PRIVATE_KEY_ssh_site" '
        '>> seen.txt; pwd >> seen.txt; cat data.txt >> seen.txt',
        inputs=[{"lfn": "data.txt", "sources": [{"url": base + "/data.txt", "site": SITE}]}],
        outputs=[{"lfn": "seen.txt",
                  "destinations": [{"url": base + "/back/seen.txt", "site": SITE}]}],
        credentials=[{"env": "SSH_PRIVATE_KEY_ssh_site", "file": "id_ed25519"}],
    )  # fmt: skip
    run = lite(spec)
    assert run.rc == 0, run.stderr
    mode, path, workdir, data = (remote / "back" / "seen.txt").read_text().splitlines()
    assert mode == "600"
    assert path == os.path.join(workdir, ".pegasus.credentials", "id_ed25519")
    assert data == "over sftp"
    assert not os.path.exists(path)  # gone with the job
    assert not shipped.exists()  # and out of the start dir
    assert list(lite.wn.iterdir()) == []
    assert "Credential SSH_PRIVATE_KEY_ssh_site: id_ed25519 moved into the work dir" in run.stderr
    assert "Removed 1 credential file" in run.stderr
    assert_no_secret(run, sshd_server.client_key)


@pytest.mark.server
def test_without_the_shipped_key_the_same_job_cannot_log_in(lite, sshd_server, tmp_path):
    """The control: sshd accepts only that key, so the success above came from it."""
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "data.txt").write_text("over sftp\n")
    url = "sftp://%s@127.0.0.1:%d%s/data.txt" % (sshd_server.user, sshd_server.port, remote)
    spec = base_spec("true", inputs=[{"lfn": "data.txt", "sources": [{"url": url, "site": SITE}]}])
    run = lite(spec, env={"HOME": str(tmp_path), "SSH_AUTH_SOCK": ""})
    assert run.rc == 71
    assert "stage-in failed" in run.stderr
    assert "authentication" in run.stderr, run.stderr


@pytest.mark.server
def test_s3_stage_in_with_a_shipped_credentials_file(lite, s3_server, tmp_path):
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_server.endpoint_url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )  # fmt: skip
    bucket = "cred-" + os.urandom(4).hex()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="in/data.txt", Body=b"from s3\n")
    conf = tmp_path / "credentials.conf"
    conf.write_text(
        "[moto]\nendpoint = %s\nregion = %s\n\n[test@moto]\naccess_key = %s\nsecret_key = %s\n"
        % (s3_server.endpoint_url, REGION, ACCESS_KEY, SECRET_KEY)
    )
    ship(lite, conf, "pegasus-credentials.conf")
    spec = base_spec(
        "cat data.txt > out.txt",
        inputs=[{"lfn": "data.txt",
                 "sources": [{"url": "s3://test@moto/%s/in/data.txt" % bucket, "site": "moto"}]}],
        outputs=[{"lfn": "out.txt",
                  "destinations": [{"url": "file://%s/out/out.txt" % tmp_path}]}],
        credentials=[{"env": "PEGASUS_CREDENTIALS", "file": "pegasus-credentials.conf"}],
    )  # fmt: skip
    env = {"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    run = lite(spec, env=env)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "out.txt").read_text() == "from s3\n"
    assert not (lite.scratch / "pegasus-credentials.conf").exists()
    assert SECRET_KEY not in run.stdout and SECRET_KEY not in run.stderr


# ------------------------------------------------------------------ removal, whatever happens


def key_file(tmp_path: Path) -> Path:
    key = tmp_path / "secret-key"
    key.write_text("-----BEGIN FAKE KEY-----\nc2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkw\n")
    return key


def test_missing_credential_fails_the_job_naming_it(lite, tmp_path):
    other = ship(lite, key_file(tmp_path), "other.pem")
    spec = base_spec(
        "touch %s" % (tmp_path / "ran"),
        credentials=[{"env": "X509_USER_PROXY", "file": "other.pem"},
                     {"env": "SSH_PRIVATE_KEY", "file": "id_rsa"}],
    )  # fmt: skip
    run = lite(spec)
    assert run.rc == 71
    assert (
        "Error: credential SSH_PRIVATE_KEY: file id_rsa is not in the start directory %s "
        "(the batch system did not bring it)" % lite.scratch
    ) in run.stderr
    assert not (tmp_path / "ran").exists()
    assert not other.exists()  # the one that was there is removed all the same
    assert list(lite.wn.iterdir()) == []
    assert "Traceback" not in run.stderr


def test_credential_removed_when_the_task_fails_and_the_workdir_is_kept(lite, tmp_path):
    key = key_file(tmp_path)
    ship(lite, key, "token")
    spec = base_spec(
        'cat "$PEGASUS_CREDENTIALS" > copy-in-task; echo "$PEGASUS_CREDENTIALS" > %s; exit 5'
        % (tmp_path / "where"),
        credentials=[{"env": "PEGASUS_CREDENTIALS", "file": "token"}],
    )
    run = lite(spec, "--keep-workdir")
    assert run.rc == 5
    installed = Path((tmp_path / "where").read_text().strip())
    (workdir,) = lite.wn.iterdir()
    assert installed.parent == workdir / ".pegasus.credentials"
    assert (workdir / "copy-in-task").read_text() == key.read_text()  # the task could read it
    assert not installed.exists()  # kept work dir, but not the credential
    assert not (lite.scratch / "token").exists()
    assert_no_secret(run, key)


def test_credential_through_a_symlink_leaves_the_target_alone(lite, tmp_path):
    key = key_file(tmp_path)
    key.chmod(0o640)
    (lite.scratch / "token").symlink_to(key)
    spec = base_spec(
        'stat -c %a "$TOKEN_FILE" > ' + str(tmp_path / "mode"),
        credentials=[{"env": "TOKEN_FILE", "file": "token"}],
    )
    run = lite(spec)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "mode").read_text().strip() == "600"
    assert not os.path.lexists(lite.scratch / "token")  # the link is gone
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o640"  # its target is not


def test_credential_removed_when_the_job_is_stopped(lite, tmp_path):
    ship(lite, key_file(tmp_path), "id_rsa")
    marker = tmp_path / "started"
    spec = base_spec(
        'echo "$SSH_PRIVATE_KEY" > %s.where; touch %s; sleep 60' % (marker, marker),
        credentials=[{"env": "SSH_PRIVATE_KEY", "file": "id_rsa"}],
    )
    (lite.scratch / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ, PEGASUS_WN_TMP=str(lite.wn), PEGASUS_WN_TMP_MIN_SPACE="1")
    proc = subprocess.Popen(
        [*console_script("pegasus-lite"), "job.json"], cwd=lite.scratch, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143
    installed = Path(Path(str(marker) + ".where").read_text().strip())
    assert installed.name == "id_rsa"
    assert not installed.exists()
    assert not (lite.scratch / "id_rsa").exists()
    assert "Removed 1 credential file" in err


# ------------------------------------------------------------------ the spec field


@pytest.mark.parametrize(
    "credentials, message",
    [
        ([{"env": "1BAD", "file": "k"}], "spec.credentials[0].env: '1BAD' is not an environment"),
        ([{"env": "A-B", "file": "k"}], "spec.credentials[0].env: 'A-B' is not an environment"),
        ([{"env": "K", "file": "../k"}], "spec.credentials[0].file: '../k' is not a bare file"),
        ([{"env": "K", "file": ".."}], "spec.credentials[0].file: '..' is not a bare file"),
        ([{"env": "K"}], "spec.credentials[0].file: missing"),
        ([{"env": "K", "file": "k", "mode": 1}], "spec.credentials[0]: unknown field 'mode'"),
        ([{"env": "K", "file": "a"}, {"env": "K", "file": "b"}],
         "spec.credentials[1].env: K is also spec.credentials[0].env"),
    ],
)  # fmt: skip
def test_bad_credentials_field_is_named(lite, credentials, message):
    run = lite(base_spec("true", credentials=credentials))
    assert run.rc == 71
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_one_file_may_serve_two_variables(lite, tmp_path):
    ship(lite, key_file(tmp_path), "id_rsa")
    spec = base_spec(
        'echo "$SSH_PRIVATE_KEY $SSH_PRIVATE_KEY_other" > ' + str(tmp_path / "vars"),
        credentials=[{"env": "SSH_PRIVATE_KEY", "file": "id_rsa"},
                     {"env": "SSH_PRIVATE_KEY_other", "file": "id_rsa"}],
    )  # fmt: skip
    run = lite(spec)
    assert run.rc == 0, run.stderr
    first, second = (tmp_path / "vars").read_text().split()
    assert first == second and first.endswith("/.pegasus.credentials/id_rsa")


def test_hard_linked_credential_is_copied_and_the_other_link_kept(lite, tmp_path):
    key = key_file(tmp_path)
    key.chmod(0o640)
    os.link(key, lite.scratch / "token")
    run = lite(base_spec('test -r "$TOKEN"', credentials=[{"env": "TOKEN", "file": "token"}]))
    assert run.rc == 0, run.stderr
    assert not (lite.scratch / "token").exists()
    assert key.stat().st_nlink == 1 and oct(key.stat().st_mode & 0o777) == "0o640"
