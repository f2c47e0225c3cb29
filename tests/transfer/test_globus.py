"""go:// / globus:// (transfer/handlers/globus.py) — there is no real Globus service here.

Two stand-ins, both running globus-sdk's real TransferClient code:
(a) in-process: globus-sdk's own testing fixtures (``globus_sdk._testing``) on ``responses``,
    with the task calls it has no fixtures for added by hand;
(b) end to end through the installed CLI against tests/servers/globus_fake.py, a loopback
    fake of the Transfer API that maps each endpoint id to a local directory, reached with
    ``GLOBUS_SDK_SERVICE_URL_TRANSFER`` and a fake HOME holding ~/.pegasus/globus.conf.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest

pytest.importorskip("globus_sdk")
responses = pytest.importorskip("responses")

try:  # globus-sdk 4 renames its testing helpers (3.x: globus_sdk._testing)
    from globus_sdk.testing import get_response_set, load_response
except ImportError:
    from globus_sdk._testing import get_response_set, load_response
from responses import matchers  # noqa: E402

from tests.servers import start_or_skip  # noqa: E402
from tests.servers.globus_fake import GlobusFake  # noqa: E402
from transfer.credentials import Credentials  # noqa: E402
from transfer.engine import Engine  # noqa: E402
from transfer.errors import BadInput, NotFound, RetryableError  # noqa: E402
from transfer.handlers.base import Context  # noqa: E402
from transfer.handlers.globus import Batcher  # noqa: E402
from transfer.inputs import parse  # noqa: E402
from transfer.report import Report  # noqa: E402

from .conftest import transfer  # noqa: E402

TRANSFER_API = "https://transfer.api.globus.org/v0.10/"
# the ids globus-sdk's canned responses use
TASK_ID = get_response_set("transfer.submit_transfer").metadata["task_id"]
ENDPOINT_ID = get_response_set("transfer.operation_mkdir").metadata["endpoint_id"]
SRC_EP = "aaaaaaaa-0000-4000-8000-000000000001"
DST_EP = "bbbbbbbb-0000-4000-8000-000000000002"
TOKEN = "fake-transfer-token"


def write_conf(home, **oauth) -> str:
    conf = home / ".pegasus" / "globus.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    fields = {"client_id": "d7382f5a-4ea3-4b69-b094-99c392fc820d"}
    fields.update(oauth)
    conf.write_text("[oauth]\n" + "".join("%s = %s\n" % kv for kv in fields.items()))
    conf.chmod(0o600)
    return str(conf)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- (a) in-process


@pytest.fixture
def mocked(monkeypatch):
    """globus-sdk's HTTP calls answered by ``responses`` (nothing leaves the process)."""
    monkeypatch.delenv("GLOBUS_SDK_SERVICE_URL_TRANSFER", raising=False)
    monkeypatch.delenv("GLOBUS_SDK_ENVIRONMENT", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def run_engine(tmp_path, entries, threads=8, env_extra=None):
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    env.update(env_extra or {})
    context = Context(env, Credentials(env), threads, False)
    report = Report(progress=False)
    engine = Engine(context, max_attempts=1, threads=threads, report=report, meta_dir=None)
    ok = engine.run(parse(json.dumps(entries), env))
    return ok, {a.lfn: a for a in report.attempts}


def go_transfers(n, src_ep=SRC_EP, dst_ep=DST_EP, prefix="f"):
    return [
        transfer(
            "go://%s/data/%s%d" % (src_ep, prefix, i),
            "go://%s/out/%s%d" % (dst_ep, prefix, i),
            lfn="%s%d" % (prefix, i),
        )
        for i in range(n)
    ]


def task_doc(status="SUCCEEDED", **extra):
    doc = {
        "DATA_TYPE": "task",
        "task_id": TASK_ID,
        "type": "TRANSFER",
        "status": status,
        "nice_status": None,
        "fatal_error": None,
        "files_skipped": 0,
    }
    doc.update(extra)
    return doc


def calls(rsps, method, suffix):
    return [
        c
        for c in rsps.calls
        if c.request.method == method and c.request.url.split("?")[0].endswith(suffix)
    ]


def test_concurrent_copies_become_one_task_in_process(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at=TOKEN, transfer_at_exp=int(time.time()) + 3600)
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_transfer", requests_mock=mocked)
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=task_doc())

    ok, attempts = run_engine(tmp_path, go_transfers(5))

    assert ok
    assert all(a.success for a in attempts.values()) and len(attempts) == 5
    submits = calls(mocked, "POST", "/transfer")
    assert len(submits) == 1
    body = json.loads(submits[0].request.body)
    assert body["source_endpoint"] == SRC_EP and body["destination_endpoint"] == DST_EP
    assert body["skip_source_errors"] is True
    pairs = sorted((d["source_path"], d["destination_path"]) for d in body["DATA"])
    assert pairs == [("/data/f%d" % i, "/out/f%d" % i) for i in range(5)]
    assert submits[0].request.headers["Authorization"] == "Bearer " + TOKEN


def test_each_endpoint_pair_gets_its_own_task(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at=TOKEN, transfer_at_exp=0)
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_transfer", requests_mock=mocked)
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=task_doc())
    other = "cccccccc-0000-4000-8000-000000000003"
    entries = go_transfers(3) + go_transfers(2, dst_ep=other, prefix="g")

    ok, attempts = run_engine(tmp_path, entries)

    assert ok and len(attempts) == 5
    bodies = [json.loads(c.request.body) for c in calls(mocked, "POST", "/transfer")]
    assert sorted((b["destination_endpoint"], len(b["DATA"])) for b in bodies) == sorted(
        [(DST_EP, 3), (other, 2)]
    )


def test_skipped_file_fails_alone(tmp_path, mocked):
    """skip_source_errors: Globus reports the missing file; only that transfer fails, and
    (NotFound is permanent) it is not tried again."""
    write_conf(tmp_path / "home", transfer_at=TOKEN)
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_transfer", requests_mock=mocked)
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=task_doc(files_skipped=1))
    mocked.add(
        "GET",
        TRANSFER_API + "task/%s/skipped_errors" % TASK_ID,
        json={
            "DATA_TYPE": "skipped_errors",
            "next_marker": None,
            "DATA": [
                {
                    "DATA_TYPE": "skipped_error",
                    "source_path": "/data/f1",
                    "destination_path": "/out/f1",
                    "error_code": "FILE_NOT_FOUND",
                    "error_details": "No such file or directory",
                }
            ],
        },
    )

    ok, attempts = run_engine(tmp_path, go_transfers(3))

    assert not ok
    assert attempts["f0"].success and attempts["f2"].success
    assert not attempts["f1"].success
    assert "FILE_NOT_FOUND" in attempts["f1"].error and "/data/f1" in attempts["f1"].error
    assert len(calls(mocked, "POST", "/transfer")) == 1


def test_failed_task_keeps_the_files_that_arrived(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at=TOKEN)
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_transfer", requests_mock=mocked)
    failed = task_doc(
        "FAILED",
        nice_status="PERMISSION_DENIED",
        fatal_error={"code": "PERMISSION_DENIED", "description": "write denied on /out"},
    )
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=failed)
    mocked.add(
        "GET",
        TRANSFER_API + "task/%s/skipped_errors" % TASK_ID,
        json={"DATA_TYPE": "skipped_errors", "next_marker": None, "DATA": []},
    )
    mocked.add(
        "GET",
        TRANSFER_API + "task/%s/successful_transfers" % TASK_ID,
        json={
            "DATA_TYPE": "successful_transfers",
            "next_marker": None,
            "DATA": [{"source_path": "/data/f0", "destination_path": "/out/f0"}],
        },
    )

    ok, attempts = run_engine(tmp_path, go_transfers(2))

    assert not ok
    assert attempts["f0"].success
    assert not attempts["f1"].success and "PERMISSION_DENIED" in attempts["f1"].error


def test_refresh_token_is_used_when_the_access_token_expired(tmp_path, mocked):
    write_conf(
        tmp_path / "home", transfer_at="old-token", transfer_rt="refresh-me", transfer_at_exp=1
    )
    mocked.add(
        "POST",
        "https://auth.globus.org/v2/oauth2/token",
        json={
            "access_token": "new-token",
            "expires_in": 3600,
            "resource_server": "transfer.api.globus.org",
            "scope": "urn:globus:auth:scope:transfer.api.globus.org:all",
            "token_type": "Bearer",
            "other_tokens": [],
        },
    )
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_transfer", requests_mock=mocked)
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=task_doc())

    ok, _ = run_engine(tmp_path, go_transfers(1))

    assert ok
    (refresh,) = calls(mocked, "POST", "/v2/oauth2/token")
    assert "grant_type=refresh_token" in refresh.request.body
    assert "refresh_token=refresh-me" in refresh.request.body
    assert calls(mocked, "POST", "/transfer")[0].request.headers["Authorization"] == (
        "Bearer new-token"
    )


def test_rejected_token_fails_the_run_with_one_clear_line(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at="secret-token-value")
    mocked.add(
        "GET",
        TRANSFER_API + "submission_id",
        status=401,
        json={"code": "AuthenticationFailed", "message": "Token is not active"},
    )
    with pytest.raises(BadInput) as caught:
        run_engine(tmp_path, go_transfers(2))
    message = str(caught.value)
    assert "Globus rejected the token" in message and "pegasus-globus-online-init" in message
    assert "secret-token-value" not in message and "\n" not in message


def test_mkdir_walks_up_to_an_existing_parent(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at=TOKEN)
    ls = TRANSFER_API + "operation/endpoint/%s/ls" % ENDPOINT_ID
    missing = {"code": "ClientError.NotFound", "message": "Directory not found"}
    for path, status in (("/base/a/b", 404), ("/base/a", 404), ("/base", 200)):
        mocked.add(
            "GET",
            ls,
            status=status,
            json=missing if status == 404 else {"DATA_TYPE": "file_list", "DATA": []},
            match=[matchers.query_param_matcher({"path": path, "limit": "2"})],
        )
    load_response("transfer.operation_mkdir", requests_mock=mocked)
    entries = [
        {"type": "mkdir", "target": {"site_label": "s", "url": "go://%s/base/a/b" % ENDPOINT_ID}}
    ]

    ok, _ = run_engine(tmp_path, entries)

    assert ok
    made = [json.loads(c.request.body)["path"] for c in calls(mocked, "POST", "/mkdir")]
    assert made == ["/base/a", "/base/a/b"]


def test_removes_are_one_delete_task(tmp_path, mocked):
    write_conf(tmp_path / "home", transfer_at=TOKEN)
    load_response("transfer.get_submission_id", requests_mock=mocked)
    load_response("transfer.submit_delete", requests_mock=mocked)
    mocked.add("GET", TRANSFER_API + "task/%s" % TASK_ID, json=task_doc(type="DELETE"))
    entries = [
        {"type": "remove", "target": {"site_label": "s", "url": "go://%s/out/f%d" % (DST_EP, i)}}
        for i in range(4)
    ]

    ok, _ = run_engine(tmp_path, entries)

    assert ok
    deletes = calls(mocked, "POST", "/delete")
    assert len(deletes) == 1
    body = json.loads(deletes[0].request.body)
    assert body["endpoint"] == DST_EP and body["recursive"] is False
    assert body["ignore_missing"] is True
    assert sorted(d["path"] for d in body["DATA"]) == ["/out/f%d" % i for i in range(4)]


def test_batcher_reports_each_item_its_own_result():
    """Two keys, ten concurrent callers each: exactly one run per key, and every caller gets
    its own outcome (errors are not spread to the others)."""
    runs = []

    def run(key, items):
        runs.append((key, len(items)))
        for item in items:
            if item.payload[0] % 3 == 0:
                item.error = NotFound("item %d missing" % item.payload[0])

    batcher = Batcher(run, window=30, full_at=10)  # a batch flushes when full, not by time
    outcomes = {}
    barrier = threading.Barrier(20)

    def call(n):
        barrier.wait()
        try:
            batcher.submit(("k", n % 2), (n,))
            outcomes[n] = "ok"
        except NotFound as exc:
            outcomes[n] = str(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(runs) == [(("k", 0), 10), (("k", 1), 10)]
    assert outcomes == {n: ("item %d missing" % n if n % 3 == 0 else "ok") for n in range(20)}


def test_batcher_failure_reaches_every_caller():
    def run(key, items):
        raise RetryableError("service down")

    batcher = Batcher(run, window=30, full_at=3)
    errors = []

    def call(n):
        try:
            batcher.submit("k", (n,))
        except RetryableError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=call, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == ["service down"] * 3


# ---------------------------------------------------------------------- (b) CLI + fake API


@pytest.fixture(scope="module")
def globus_fake(tmp_path_factory):
    base = tmp_path_factory.mktemp("globus")
    server = start_or_skip(GlobusFake(base / "run", base / "endpoints", token=TOKEN))
    yield server
    server.stop()


@pytest.fixture
def globus_env(tmp_path, globus_fake):
    home = tmp_path / "home"
    write_conf(home, transfer_at=TOKEN, transfer_at_exp=int(time.time()) + 3600)
    globus_fake.clear_requests()
    return {"HOME": str(home), "GLOBUS_SDK_SERVICE_URL_TRANSFER": globus_fake.url}


def seed(globus_fake, endpoint, relpath, data: bytes):
    path = globus_fake.endpoint_dir(endpoint) / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tasks(globus_fake, kind):
    return [r for r in globus_fake.requests() if r["method"] == "POST" and r["path"] == "/" + kind]


@pytest.mark.server
def test_cli_copies_several_files_as_one_task(pegasus_transfer, globus_fake, globus_env):
    sources = [
        seed(globus_fake, SRC_EP, "data/one/f%d" % i, b"%d" % i * (1000 + i)) for i in range(6)
    ]
    entries = go_transfers(6)
    for i, entry in enumerate(entries):
        entry["src_urls"][0]["url"] = "go://%s/data/one/f%d" % (SRC_EP, i)
        entry["dest_urls"][0]["url"] = "globus://%s/deep/er/f%d" % (DST_EP, i)

    run = pegasus_transfer(entries, env=globus_env)

    assert run.rc == 0, run.stderr
    for i, src in enumerate(sources):
        dst = globus_fake.endpoint_dir(DST_EP) / ("deep/er/f%d" % i)
        assert sha256(dst) == sha256(src)
    submitted = tasks(globus_fake, "transfer")
    assert len(submitted) == 1
    assert len(submitted[0]["body"]["DATA"]) == 6
    assert [a["success"] for a in run.report["attempts"]] == [True] * 6


@pytest.mark.server
def test_cli_missing_source_fails_only_that_file(pegasus_transfer, globus_fake, globus_env):
    seed(globus_fake, SRC_EP, "data/two/here", b"present")
    entries = [
        transfer("go://%s/data/two/here" % SRC_EP, "go://%s/two/here" % DST_EP, lfn="here"),
        transfer("go://%s/data/two/gone" % SRC_EP, "go://%s/two/gone" % DST_EP, lfn="gone"),
    ]

    run = pegasus_transfer(entries, env=globus_env)

    assert run.rc == 1
    assert (globus_fake.endpoint_dir(DST_EP) / "two/here").read_bytes() == b"present"
    assert not (globus_fake.endpoint_dir(DST_EP) / "two/gone").exists()
    by_lfn = {}
    for a in run.report["attempts"]:
        by_lfn.setdefault(a["lfn"], []).append(a)
    assert [a["success"] for a in by_lfn["here"]] == [True]
    assert len(by_lfn["gone"]) == 1  # not found: not retried
    assert "FILE_NOT_FOUND" in by_lfn["gone"][0]["error"]
    assert len(tasks(globus_fake, "transfer")) == 1
    assert "gone" in run.stderr and "giving up" in run.stderr


@pytest.mark.server
def test_cli_mkdir_and_remove(pegasus_transfer, globus_fake, globus_env):
    root = globus_fake.endpoint_dir(DST_EP)
    mkdirs = [
        {"type": "mkdir", "target": {"site_label": "d", "url": "go://%s/made/x/y" % DST_EP}},
        {"type": "mkdir", "target": {"site_label": "d", "url": "go://%s/made/x/z" % DST_EP}},
    ]
    run = pegasus_transfer(mkdirs, env=globus_env)
    assert run.rc == 0, run.stderr
    assert (root / "made/x/y").is_dir() and (root / "made/x/z").is_dir()

    seed(globus_fake, DST_EP, "made/x/y/file1", b"1")
    seed(globus_fake, DST_EP, "made/x/y/file2", b"2")
    seed(globus_fake, DST_EP, "made/x/z/inner/file3", b"3")
    globus_fake.clear_requests()
    removes = [
        {"type": "remove", "target": {"site_label": "d", "url": "go://%s/made/x/y/file1" % DST_EP}},
        {"type": "remove", "target": {"site_label": "d", "url": "go://%s/made/x/y/file2" % DST_EP}},
        {"type": "remove", "target": {"site_label": "d", "url": "go://%s/made/x/y/never" % DST_EP}},
        {
            "type": "remove",
            "target": {"site_label": "d", "url": "go://%s/made/x/z" % DST_EP, "recursive": "true"},
        },
    ]
    run = pegasus_transfer(removes, env=globus_env)
    assert run.rc == 0, run.stderr
    assert sorted(p.name for p in (root / "made/x").iterdir()) == ["y"]
    assert list((root / "made/x/y").iterdir()) == []
    deletes = sorted(
        (r["body"]["recursive"], len(r["body"]["DATA"])) for r in tasks(globus_fake, "delete")
    )
    assert deletes == [(False, 3), (True, 1)]


@pytest.mark.server
def test_cli_non_recursive_remove_of_a_directory_fails(pegasus_transfer, globus_fake, globus_env):
    seed(globus_fake, DST_EP, "keep/dir/file", b"x")
    entry = {"type": "remove", "target": {"site_label": "d", "url": "go://%s/keep/dir" % DST_EP}}
    run = pegasus_transfer([entry], "-m", "1", env=globus_env)
    assert run.rc == 1
    assert (globus_fake.endpoint_dir(DST_EP) / "keep/dir/file").exists()
    assert "DIRECTORY_NOT_EMPTY" in run.stderr


@pytest.mark.server
def test_cli_local_files_are_refused_clearly(pegasus_transfer, globus_fake, globus_env, tmp_path):
    seed(globus_fake, SRC_EP, "data/l/f", b"remote")
    local = tmp_path / "local.txt"
    local.write_text("local")

    down = pegasus_transfer(
        [transfer("go://%s/data/l/f" % SRC_EP, "file://%s/got.txt" % tmp_path)], env=globus_env
    )
    assert down.rc == 1
    assert "go:// does not support get" in down.stderr and "Globus" in down.stderr
    assert not (tmp_path / "got.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".got.txt")]

    up = pegasus_transfer([transfer("file://%s" % local, "go://%s/l/up" % DST_EP)], env=globus_env)
    assert up.rc == 1
    assert "go:// does not support put" in up.stderr
    assert not (globus_fake.endpoint_dir(DST_EP) / "l/up").exists()
    assert tasks(globus_fake, "transfer") == []


@pytest.mark.server
def test_cli_bad_token_one_line_without_the_secret(pegasus_transfer, globus_fake, tmp_path):
    home = tmp_path / "badhome"
    write_conf(home, transfer_at="not-the-right-secret")
    seed(globus_fake, SRC_EP, "data/b/f", b"x")
    env = {"HOME": str(home), "GLOBUS_SDK_SERVICE_URL_TRANSFER": globus_fake.url}

    run = pegasus_transfer([transfer("go://%s/data/b/f" % SRC_EP, "go://%s/b/f" % DST_EP)], env=env)

    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("pegasus-transfer:")]
    assert len(lines) == 1 and "Globus rejected the token" in lines[0]
    assert "not-the-right-secret" not in run.stderr + run.stdout
    assert not (globus_fake.endpoint_dir(DST_EP) / "b/f").exists()


@pytest.mark.server
def test_cli_missing_token_file(pegasus_transfer, globus_fake, tmp_path):
    globus_fake.clear_requests()
    env = {"HOME": str(tmp_path / "nohome"), "GLOBUS_SDK_SERVICE_URL_TRANSFER": globus_fake.url}
    run = pegasus_transfer([transfer("go://%s/a" % SRC_EP, "go://%s/b" % DST_EP)], env=env)
    assert run.rc == 1
    assert "globus.conf does not exist" in run.stderr and "PEGASUS_GLOBUS_CONF" in run.stderr
    assert globus_fake.requests() == []


@pytest.mark.server
def test_cli_token_file_named_per_site(pegasus_transfer, globus_fake, tmp_path):
    """PEGASUS_GLOBUS_CONF_<site> (our addition) names the token file; HOME has none."""
    conf = write_conf(tmp_path / "elsewhere", transfer_at=TOKEN)
    seed(globus_fake, SRC_EP, "data/s/f", b"per-site")
    env = {
        "HOME": str(tmp_path / "nohome"),
        "GLOBUS_SDK_SERVICE_URL_TRANSFER": globus_fake.url,
        "PEGASUS_GLOBUS_CONF_src": conf,
    }
    run = pegasus_transfer([transfer("go://%s/data/s/f" % SRC_EP, "go://%s/s/f" % DST_EP)], env=env)
    assert run.rc == 0, run.stderr
    assert (globus_fake.endpoint_dir(DST_EP) / "s/f").read_bytes() == b"per-site"
