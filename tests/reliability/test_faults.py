"""Fault injection at CI size (issue 7): pegasus-transfer and pegasus-lite against servers
that fail on purpose, on seeded schedules that never exceed the retry budget.

The campaigns (bench/scenarios/reliability.py; ``python -m bench reliability`` runs them at
full size) move every file with its sha256 and check that each arrives intact, that nothing
else is left anywhere under the destinations, that each transfer stayed within its attempts,
and that the faults really happened.  The other tests pin one behaviour each: every fault
kind alone, a corrupt mirror, a file that fails every time, the timeout setting.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.scenarios.reliability import http_campaign, s3_campaign, sftp_campaign
from tests.conftest import console_script
from tests.reliability.fault_proxy import CuttingProxy, FaultyS3Proxy
from tests.reliability.faulty_http import KINDS, RESUMING, FaultyHttpServer
from tests.servers.fixtures import s3_server, sshd_server  # noqa: F401 - fixtures
from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY

pytestmark = pytest.mark.server

SEED = 20261121
HTTP_COUNT = 200
SFTP_COUNT = 20
S3_COUNT = 20
MAX_RESUMES = 8  # transfer/handlers/http.py: Range requests inside one attempt


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, report: Path):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.report = json.loads(report.read_text()) if report.exists() else {"attempts": []}

    def attempts(self, lfn: str) -> list[dict]:
        return [a for a in self.report["attempts"] if a["lfn"] == lfn]


def transfer(entries: list[dict], tmp_path: Path, *flags: str, env: dict | None = None) -> Run:
    """The installed pegasus-transfer on a JSON list (stdin), with a JSON report."""
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    proc = subprocess.run(
        [*console_script("pegasus-transfer"), "--json-report", str(report), *flags],
        input=json.dumps(entries),
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    return Run(proc, report)


def entry(lfn: str, sources: list[str], dest: str, sha256: str | None = None) -> dict:
    item = {
        "type": "transfer",
        "lfn": lfn,
        "linkage": "input",
        "src_urls": [{"site_label": "src", "url": url} for url in sources],
        "dest_urls": [{"site_label": "local", "url": dest}],
    }
    if sha256:
        item["checksum"] = sha256
    return item


def files(directory: Path, count: int, size: int = 100_000) -> dict[str, str]:
    """``count`` random files f0.dat... in ``directory``: name -> sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    found = {}
    for i in range(count):
        data = os.urandom(size)
        (directory / ("f%d.dat" % i)).write_bytes(data)
        found["f%d.dat" % i] = hashlib.sha256(data).hexdigest()
    return found


def tree(top: Path) -> list[str]:
    """Everything under ``top``, hidden names too."""
    return sorted(
        os.path.relpath(os.path.join(d, n), top) for d, _, names in os.walk(top) for n in names
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- campaigns


def test_http_campaign(tmp_path):
    outcome = http_campaign(tmp_path, HTTP_COUNT, SEED, rate=0.2, timeout=3.0)
    assert outcome.problems == [], "\n".join(outcome.problems[:20])
    assert outcome.rc == 0
    assert outcome.verified == HTTP_COUNT
    assert outcome.leftovers == []
    assert set(outcome.faults) == set(KINDS)  # every kind was really injected
    assert 0.1 < outcome.total_faults / outcome.requests < 0.35
    assert max(outcome.attempts) >= 2  # the engine had to try again, and did


def test_sftp_campaign(sshd_server, tmp_path):  # noqa: F811
    """Two files per proxy, so per SSH connection: a cut may hit both."""
    outcome = sftp_campaign(
        tmp_path, sshd_server, SFTP_COUNT, SEED, rate=0.3, threads=8, per_proxy=2,
        min_size=48 * 1024, max_size=160 * 1024,
    )  # fmt: skip
    assert outcome.problems == [], "\n".join(outcome.problems[:20])
    assert outcome.verified == SFTP_COUNT  # half downloaded, half uploaded
    assert outcome.leftovers == []  # no .part file on either side
    assert outcome.faults["cut"] >= 3
    assert outcome.requests == SFTP_COUNT // 2 + outcome.faults["cut"]  # a reconnection per cut


def test_s3_campaign(s3_server, tmp_path):  # noqa: F811
    outcome = s3_campaign(tmp_path, s3_server.endpoint_url, S3_COUNT, SEED, rate=0.3, multipart=1)
    assert outcome.problems == [], "\n".join(outcome.problems[:20])
    assert outcome.verified == S3_COUNT + 1
    assert outcome.leftovers == []  # no stray object, no unfinished multipart upload
    assert outcome.total_faults >= 3


def test_s3_faults_beyond_botocore_retries_reach_the_engine(s3_server, tmp_path):  # noqa: F811
    """Every object's first two requests fail: botocore's one retry is not enough, the
    engine's next attempt is."""
    outcome = s3_campaign(tmp_path, s3_server.endpoint_url, 6, SEED, rate=1.0)
    assert outcome.problems == [], "\n".join(outcome.problems[:20])
    assert outcome.verified == 6
    assert outcome.total_faults == 12
    assert dict(outcome.attempts) == {2: 6}


# ---------------------------------------------------------------------- http, one by one


def test_each_fault_kind_alone_is_survived(tmp_path):
    names = {kind: "%s.dat" % kind for kind in KINDS}
    expected = {}
    for name in names.values():
        data = os.urandom(300_000)
        (tmp_path / "www").mkdir(exist_ok=True)
        (tmp_path / "www" / name).write_bytes(data)
        expected[name] = hashlib.sha256(data).hexdigest()
    out = tmp_path / "out"
    scripts = {name: [kind] for kind, name in names.items()}
    with FaultyHttpServer(tmp_path / "www", scripts=scripts, rate=0.0) as server:
        urls = {name: server.url(name) for name in names.values()}
        entries = [
            entry(name, [urls[name]], "file://%s/%s" % (out, name), expected[name])
            for name in names.values()
        ]
        run = transfer(entries, tmp_path, env={"PEGASUS_TRANSFER_TIMEOUT": "2"})
    assert run.rc == 0, run.stderr
    assert tree(out) == sorted(names.values())
    for kind, name in names.items():
        assert sha(out / name) == expected[name], kind
        assert server.faults_for(name) == [kind]
        tries = run.attempts(name)
        if kind in RESUMING:  # resumed inside the one attempt
            assert [t["success"] for t in tries] == [True], kind
            assert "GET %s: " % urls[name] in run.stderr
        else:  # the attempt failed; the next (or the re-fetch) succeeded
            assert [t["success"] for t in tries] == [False, True], kind
    assert run.stderr.count("; resuming at byte ") == len(RESUMING)
    assert "Traceback" not in run.stderr


def test_a_mismatch_then_a_transient_error_still_gets_the_file(tmp_path):
    """The re-fetch after a checksum mismatch is an attempt like any other: a 503 on it
    leaves the rounds that are left (it used to end the transfer there)."""
    expected = files(tmp_path / "www", 1)
    out = tmp_path / "out"
    with FaultyHttpServer(
        tmp_path / "www", scripts={"f0.dat": ["flip", "busy503"]}, rate=0.0
    ) as server:
        entries = [
            entry("f0.dat", [server.url("f0.dat")], "file://%s/f0.dat" % out, expected["f0.dat"])
        ]
        run = transfer(entries, tmp_path)
    assert run.rc == 0, run.stderr
    assert sha(out / "f0.dat") == expected["f0.dat"]
    errors = [t["error"] for t in run.attempts("f0.dat")]
    assert len(errors) == 3 and errors[2] is None
    assert "checksum mismatch" in errors[0] and "HTTP 503" in errors[1]
    assert tree(out) == ["f0.dat"]


def test_a_corrupt_mirror_is_dropped_for_the_next_source(tmp_path):
    """A source that sends corrupt bytes twice is bad: the next source is tried (it used to
    fail the transfer without trying it)."""
    expected = files(tmp_path / "www", 1)
    (tmp_path / "www" / "mirror.dat").write_bytes((tmp_path / "www" / "f0.dat").read_bytes())
    out = tmp_path / "out"
    with FaultyHttpServer(tmp_path / "www", always={"f0.dat": "flip"}, rate=0.0) as server:
        sources = [server.url("f0.dat"), server.url("mirror.dat")]
        entries = [entry("f0.dat", sources, "file://%s/f0.dat" % out, expected["f0.dat"])]
        run = transfer(entries, tmp_path)
    assert run.rc == 0, run.stderr
    assert sha(out / "f0.dat") == expected["f0.dat"]
    tries = [(t["source"].rsplit("/", 1)[1], t["success"]) for t in run.attempts("f0.dat")]
    assert tries == [("f0.dat", False), ("f0.dat", False), ("mirror.dat", True)]
    assert tree(out) == ["f0.dat"]


def test_files_that_always_fail_fail_cleanly(tmp_path):
    """One file per kind fails every time, beside a good file: exit 1, the good file
    arrives, nothing of the bad ones anywhere under the destination, and for each exactly
    the attempts the budget allows (-m 2)."""
    kinds = [k for k in KINDS if k != "stall"]  # a stall costs a timeout: its own test
    expected = files(tmp_path / "www", len(kinds) + 1)
    bad = {"f%d.dat" % (i + 1): kind for i, kind in enumerate(kinds)}
    out = tmp_path / "out"
    with FaultyHttpServer(tmp_path / "www", always=bad, rate=0.0) as server:
        entries = [
            entry(name, [server.url(name)], "file://%s/deep/%s" % (out, name), expected[name])
            for name in expected
        ]
        run = transfer(entries, tmp_path, "-m", "2")
        requests = {name: server.requests_for(name) for name in bad}
    assert run.rc == 1
    assert tree(out) == ["deep/f0.dat"]
    assert sha(out / "deep" / "f0.dat") == expected["f0.dat"]
    for name, kind in bad.items():
        tries = run.attempts(name)
        assert [t["success"] for t in tries] == [False, False], kind  # a flip: and its re-fetch
        if kind in RESUMING:  # each attempt resumed as far as it may, then gave up
            assert requests[name] == 2 * (1 + MAX_RESUMES), kind
            assert all("gave up after %d resumes" % (MAX_RESUMES + 1) in t["error"] for t in tries)
        else:
            assert requests[name] == 2, kind
        assert "%s: http://" % name in run.stderr  # named in its "giving up" line
    assert run.stderr.count(": giving up: ") == len(bad)
    assert run.stderr.rstrip().endswith("Some transfers failed! See above, and possibly stderr.")
    assert "Traceback" not in run.stderr


def test_a_server_that_always_stalls_is_given_up_on(tmp_path):
    """PEGASUS_TRANSFER_TIMEOUT bounds each silence; the resumes are bounded too (at most
    8 per attempt: counted loosely, a loaded machine may time out a request early)."""
    expected = files(tmp_path / "www", 1)
    out = tmp_path / "out"
    with FaultyHttpServer(tmp_path / "www", always={"f0.dat": "stall"}, rate=0.0) as server:
        entries = [
            entry("f0.dat", [server.url("f0.dat")], "file://%s/f0.dat" % out, expected["f0.dat"])
        ]
        run = transfer(entries, tmp_path, "-m", "1", env={"PEGASUS_TRANSFER_TIMEOUT": "0.3"})
        requests = server.requests_for("f0.dat")
    assert run.rc == 1
    assert 1 <= requests <= 1 + MAX_RESUMES
    assert run.stderr.count("timed out; resuming at byte 0") == requests - 1
    assert "f0.dat" in run.stderr and "timed out" in run.attempts("f0.dat")[0]["error"]
    assert tree(out) == []


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_a_bad_timeout_setting_is_one_line(tmp_path, value):
    with FaultyHttpServer(tmp_path, rate=0.0) as server:
        entries = [entry("f", [server.url("f")], "file://%s/out/f" % tmp_path)]
        run = transfer(entries, tmp_path, env={"PEGASUS_TRANSFER_TIMEOUT": value})
        assert server.requests == 0  # refused before anything moved
    assert run.rc == 1
    assert run.stderr.splitlines() == [
        "pegasus-transfer: PEGASUS_TRANSFER_TIMEOUT must be a number of seconds above 0, "
        "not %r" % value
    ]


# ---------------------------------------------------------------------- sftp and s3, always


def test_an_sftp_upload_cut_every_time_leaves_nothing(sshd_server, tmp_path):  # noqa: F811
    expected = files(tmp_path / "src", 1, size=400_000)
    remote = tmp_path / "remote"
    remote.mkdir()
    proxy = CuttingProxy(("127.0.0.1", sshd_server.port), rate=1.0, max_cuts=1000)
    with proxy:
        url = "sftp://%s@127.0.0.1:%d%s/f0.dat" % (sshd_server.user, proxy.port, remote)
        item = entry("f0.dat", ["file://%s/f0.dat" % (tmp_path / "src")], url, expected["f0.dat"])
        item["dest_urls"][0]["site_label"] = "ssh"
        run = transfer(
            [item], tmp_path, "-m", "1", env={"SSH_PRIVATE_KEY": str(sshd_server.client_key)}
        )
    assert run.rc == 1
    assert proxy.cuts >= 1
    assert len(run.attempts("f0.dat")) == 1
    assert tree(remote) == []  # every partial upload was removed
    assert "Traceback" not in run.stderr


def test_an_s3_object_that_always_fails_fails_cleanly(s3_server, tmp_path):  # noqa: F811
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_server.endpoint_url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )  # fmt: skip
    bucket = "always-" + os.urandom(4).hex()
    client.create_bucket(Bucket=bucket)
    expected = files(tmp_path / "src", 2)
    with FaultyS3Proxy(s3_server.endpoint_url, rate=0.0, always={"/%s/f1.dat" % bucket}) as proxy:
        creds = tmp_path / "credentials.conf"
        creds.write_text(
            "[faulty]\nendpoint = %s\nregion = %s\n\n[test@faulty]\naccess_key = %s\n"
            "secret_key = %s\n" % (proxy.url, REGION, ACCESS_KEY, SECRET_KEY)
        )
        creds.chmod(0o600)
        entries = []
        for name in expected:
            item = entry(
                name,
                ["file://%s/%s" % (tmp_path / "src", name)],
                "s3://test@faulty/%s/%s" % (bucket, name),
                expected[name],
            )
            item["dest_urls"][0]["site_label"] = "s3"
            entries.append(item)
        env = {
            "PEGASUS_CREDENTIALS": str(creds),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(tmp_path),
        }
        run = transfer(entries, tmp_path, "-m", "1", env=env)
        faults = proxy.faults_for("/%s/f1.dat" % bucket)
    assert run.rc == 1
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["f0.dat"]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert len(faults) == 2  # the engine's one attempt (-m 1) and botocore's one retry
    assert len(run.attempts("f1.dat")) == 1
    assert "Traceback" not in run.stderr


# ---------------------------------------------------------------------- a pegasus-lite job


def test_pegasus_lite_job_gets_its_inputs_through_faults(tmp_path):
    www = tmp_path / "www"
    expected = files(www, 3, size=200_000)
    scripts = {
        "f0.dat": ["reset", "busy503"],
        "f1.dat": ["flip", "truncate"],
        "f2.dat": ["stall", "error500"],
    }
    scratch, wn_tmp, out = tmp_path / "scratch", tmp_path / "wn", tmp_path / "out"
    scratch.mkdir()
    wn_tmp.mkdir()
    with FaultyHttpServer(www, scripts=scripts, rate=0.0) as server:
        spec = {
            "version": 1,
            "job": {"id": "ID0000001", "name": "faults_ID0000001", "site": "condorpool"},
            "tasks": [{"transformation": "demo::sum", "executable": {"path": "/bin/sh"},
                       "arguments": ["-c", "sha256sum f0.dat f1.dat f2.dat > sums.txt"]}],
            "inputs": [{"lfn": name, "sha256": sha256,
                        "sources": [{"url": server.url(name), "site": "web"}]}
                       for name, sha256 in expected.items()],
            "outputs": [{"lfn": "sums.txt",
                         "destinations": [{"url": "file://%s/sums.txt" % out, "site": "local"}]}],
            "transfer": {"attempts": 3, "threads": 3},
        }  # fmt: skip
        (scratch / "job.json").write_text(json.dumps(spec))
        env = dict(
            os.environ,
            PEGASUS_WN_TMP=str(wn_tmp),
            PEGASUS_WN_TMP_MIN_SPACE="1",
            PEGASUS_TRANSFER_TIMEOUT="2",
        )
        proc = subprocess.run(
            [*console_script("pegasus-lite"), "job.json"],
            cwd=scratch, capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        injected = {name: server.faults_for(name) for name in expected}
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == "PegasusLite: exitcode 0"
    assert injected == scripts  # every planned fault happened
    sums = (out / "sums.txt").read_text().splitlines()
    assert sums == ["%s  %s" % (sha256, name) for name, sha256 in expected.items()]
    assert tree(out) == ["sums.txt"]
    assert list(wn_tmp.iterdir()) == []  # the work dir is gone
