"""s3:// and s3s:// against moto's S3 server (tests/servers/moto.py), through the credentials
file as Pegasus writes it, every outcome checked on the server with boto3 directly."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat

import boto3
import botocore.exceptions
import pytest

from tests.servers import start_or_skip
from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY, MotoS3
from tests.transfer.conftest import leftovers, target, transfer
from transfer import errors
from transfer.credentials import Credentials
from transfer.handlers.base import Context
from transfer.inputs import Endpoint
from transfer.urls import URL

pytestmark = pytest.mark.server

MIB = 1024 * 1024
BIG = 40 * 1000 * 1000  # 5 parts of 8 MiB: multipart upload, 2 parts of 32 MiB: multipart copy


class MotoWithAuth(MotoS3):
    """moto that checks signatures: the first 3 requests (making an IAM user) are free."""

    name = "moto-auth"

    def command(self) -> list[str]:
        env = shutil.which("env") or "/usr/bin/env"
        return [env, "INITIAL_NO_AUTH_ACTION_COUNT=3", *super().command()]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    server = start_or_skip(MotoWithAuth(tmp_path_factory.mktemp("moto-auth")))
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    iam.create_user(UserName="pegasus")
    key = iam.create_access_key(UserName="pegasus")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="pegasus", PolicyName="all", PolicyDocument=json.dumps(policy))
    server.access_key, server.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
    yield server
    server.stop()


def write_credentials(
    path, endpoint, site="moto", access=ACCESS_KEY, secret=SECRET_KEY, mode=0o600
):
    path.write_text(
        "[%s]\nendpoint = %s\nregion = %s\n\n[test@%s]\naccess_key = %s\nsecret_key = %s\n"
        % (site, endpoint, REGION, site, access, secret)
    )
    path.chmod(mode)
    return path


class S3:
    """The CLI's environment, a boto3 client on the same server and a fresh bucket."""

    def __init__(self, server, tmp_path, site="moto"):
        self.creds = write_credentials(tmp_path / "credentials.conf", server.endpoint_url, site)
        self.env = {
            "PEGASUS_CREDENTIALS": str(self.creds),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(tmp_path),  # no ~/.pegasus or ~/.aws of the person running the tests
        }
        self.site = site
        self.client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.bucket = "pt-" + os.urandom(5).hex()

    def url(self, key: str = "", bucket: str | None = None) -> str:
        return "s3://test@%s/%s/%s" % (self.site, bucket or self.bucket, key)

    def make_bucket(self, bucket: str | None = None) -> None:
        self.client.create_bucket(Bucket=bucket or self.bucket)

    def sha256(self, key: str, bucket: str | None = None) -> str:
        body = self.client.get_object(Bucket=bucket or self.bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(MIB):
            digest.update(chunk)
        return digest.hexdigest()

    def keys(self, bucket: str | None = None) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", ())}


@pytest.fixture
def s3(s3_server, tmp_path):
    return S3(s3_server, tmp_path)


def data_file(path, size: int) -> tuple[str, str]:
    data = os.urandom(size)
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def put(src: str, url: str, lfn: str = "f", **extra) -> dict:
    entry = transfer("file://" + src, url, lfn, **extra)
    entry["dest_urls"][0]["site_label"] = "s3site"
    return entry


def get(url: str, dst: str, lfn: str = "f", **extra) -> dict:
    entry = transfer(url, "file://" + dst, lfn, **extra)
    entry["src_urls"][0]["site_label"] = "s3site"
    return entry


# ---------------------------------------------------------------------- mkdir, put, get, copy


def test_mkdir_creates_the_bucket_and_an_existing_one_is_fine(s3, pegasus_transfer):
    for _ in range(2):
        run = pegasus_transfer([target("mkdir", site="s3site", url=s3.url())], env=s3.env)
        assert run.rc == 0, run.stderr
        s3.client.head_bucket(Bucket=s3.bucket)


def test_put_small_and_multipart_then_get_back(s3, pegasus_transfer, tmp_path):
    small, small_sha = data_file(tmp_path / "small.dat", 100_000)
    big, big_sha = data_file(tmp_path / "big.dat", BIG)
    # no mkdir first: like pegasus-s3 put -b, a put creates its bucket
    run = pegasus_transfer(
        [put(small, s3.url("in/small.dat"), "small"), put(big, s3.url("in/big.dat"), "big")],
        env=s3.env,
    )
    assert run.rc == 0, run.stderr
    assert s3.sha256("in/small.dat") == small_sha
    assert s3.sha256("in/big.dat") == big_sha
    head = s3.client.head_object(Bucket=s3.bucket, Key="in/big.dat", ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-5")  # a 5-part multipart upload
    assert head["ContentLength"] == BIG
    small_head = s3.client.head_object(Bucket=s3.bucket, Key="in/small.dat", ChecksumMode="ENABLED")
    assert base64.b64decode(small_head["ChecksumSHA256"]).hex() == small_sha  # we sent it
    attempts = {a["lfn"]: a for a in run.report["attempts"]}
    assert attempts["small"]["sha256"] == small_sha and attempts["small"]["bytes"] == 100_000
    assert attempts["big"]["sha256"] == big_sha and attempts["big"]["bytes"] == BIG

    back = tmp_path / "back"
    run = pegasus_transfer(
        [
            get(s3.url("in/small.dat"), str(back / "small.dat"), "small"),
            get(s3.url("in/big.dat"), str(back / "big.dat"), "big"),  # ranged parallel GETs
        ],
        "-d",
        env=s3.env,
    )
    assert run.rc == 0, run.stderr
    assert sha256_file(back / "small.dat") == small_sha
    assert sha256_file(back / "big.dat") == big_sha
    assert "ranged parallel GETs" in run.stderr
    assert leftovers(back) == ["big.dat", "small.dat"]
    attempts = {a["lfn"]: a for a in run.report["attempts"]}
    assert attempts["big"]["sha256"] == big_sha and attempts["big"]["bytes"] == BIG


def test_s3_to_s3_is_a_server_side_copy(s3, pegasus_transfer, tmp_path):
    s3.make_bucket()
    big = os.urandom(BIG)
    s3.client.put_object(Bucket=s3.bucket, Key="big", Body=big)
    s3.client.put_object(Bucket=s3.bucket, Key="small", Body=b"small object\n")
    other = s3.bucket + "-copy"  # does not exist yet: created as pegasus-s3 cp -c does
    entries = [
        transfer(s3.url("big"), s3.url("copies/big", other), "big"),
        transfer(s3.url("small"), s3.url("copies/small", other), "small"),
    ]
    run = pegasus_transfer(entries, "-d", env=s3.env)
    assert run.rc == 0, run.stderr
    assert s3.sha256("copies/big", other) == hashlib.sha256(big).hexdigest()
    assert (
        s3.client.get_object(Bucket=other, Key="copies/small")["Body"].read() == b"small object\n"
    )
    head = s3.client.head_object(Bucket=other, Key="copies/big")
    assert head["ETag"].strip('"').endswith("-2")  # UploadPartCopy in 32 MiB parts
    assert run.stderr.count("server-side copy") >= 2
    # nothing went through this machine
    assert all(a["bytes"] == 0 and a["success"] for a in run.report["attempts"])


def test_s3_between_two_endpoints_streams_from_one_to_the_other(
    s3, s3_tls_server, pegasus_transfer, tmp_path
):
    """Different endpoints cannot copy server-side: the bytes stream through this host in
    memory, straight from one service to the other (no temporary file)."""
    s3.make_bucket()
    data = os.urandom(10 * MIB)
    s3.client.put_object(Bucket=s3.bucket, Key="f", Body=data)
    tls = write_credentials(tmp_path / "tls.conf", s3_tls_server.endpoint_url, "mototls")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(
        s3.env,
        PEGASUS_CREDENTIALS_tls=str(tls),
        AWS_CA_BUNDLE=str(s3_tls_server.cafile),
        TMPDIR=str(scratch),
    )
    bucket = "pt-x-" + os.urandom(4).hex()
    entry = transfer(s3.url("f"), "s3s://test@mototls/%s/f" % bucket)
    entry["dest_urls"][0]["site_label"] = "tls"
    run = pegasus_transfer([entry], "-d", env=env)
    assert run.rc == 0, run.stderr
    assert "s3: streamed copy" in run.stderr
    client = boto3.client(
        "s3",
        endpoint_url=s3_tls_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        verify=str(s3_tls_server.cafile),
    )
    stored = client.get_object(Bucket=bucket, Key="f")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    assert leftovers(scratch) == []


def test_empty_object_round_trip(s3, pegasus_transfer, tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    run = pegasus_transfer([put(str(empty), s3.url("empty"))], env=s3.env)
    assert run.rc == 0, run.stderr
    assert s3.client.head_object(Bucket=s3.bucket, Key="empty")["ContentLength"] == 0
    run = pegasus_transfer([get(s3.url("empty"), str(tmp_path / "back" / "empty"))], env=s3.env)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "back" / "empty").read_bytes() == b""


def test_s3s_over_tls_with_a_private_ca(s3_tls_server, pegasus_transfer, tmp_path, monkeypatch):
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    creds = write_credentials(tmp_path / "tls.conf", s3_tls_server.endpoint_url, "mototls")
    env = {"PEGASUS_CREDENTIALS": str(creds), "HOME": str(tmp_path)}
    bucket = "pt-tls-" + os.urandom(4).hex()
    src, digest = data_file(tmp_path / "f.dat", 3 * MIB)
    url = "s3s://test@mototls/%s/f.dat" % bucket

    # without the CA: one clear line about the certificate, not retried
    run = pegasus_transfer([put(src, url)], env=env)
    assert run.rc == 1
    assert "certificate" in run.stderr and "AWS_CA_BUNDLE" in run.stderr
    assert len(run.report["attempts"]) == 1

    env["AWS_CA_BUNDLE"] = str(s3_tls_server.cafile)
    run = pegasus_transfer(
        [target("mkdir", site="s3site", url="s3s://test@mototls/%s" % bucket), put(src, url)],
        env=env,
    )
    assert run.rc == 0, run.stderr
    run = pegasus_transfer([get(url, str(tmp_path / "back.dat"))], env=env)
    assert run.rc == 0, run.stderr
    assert sha256_file(tmp_path / "back.dat") == digest
    client = boto3.client(
        "s3",
        endpoint_url=s3_tls_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        verify=str(s3_tls_server.cafile),
    )
    stored = client.get_object(Bucket=bucket, Key="f.dat")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest


# ---------------------------------------------------------------------- remove


def test_remove_and_recursive_remove_really_delete(s3, pegasus_transfer):
    s3.make_bucket()
    names = ["top", "d", "d/a", "d/b", "d/sub/c", "dx/keep", "many/1", "many/2/3"]
    for name in names:
        s3.client.put_object(Bucket=s3.bucket, Key=name, Body=name.encode())
    entries = [
        target("remove", site="s3site", url=s3.url("top")),
        target(
            "remove", site="s3site", url=s3.url("d"), recursive=True
        ),  # "d" itself and d/..., not dx/
        target("remove", site="s3site", url=s3.url("many/"), recursive=True),
        target("remove", site="s3site", url=s3.url("no-such-key")),  # already gone: fine, as rm -f
    ]
    run = pegasus_transfer(entries, env=s3.env)
    assert run.rc == 0, run.stderr
    assert s3.keys() == {"dx/keep"}

    # a bucket URL, recursively: its objects, then the bucket
    run = pegasus_transfer(
        [target("remove", site="s3site", url=s3.url(), recursive=True)], env=s3.env
    )
    assert run.rc == 0, run.stderr
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        s3.client.head_bucket(Bucket=s3.bucket)
    assert caught.value.response["Error"]["Code"] == "404"


def test_recursive_remove_deletes_in_batches(s3, monkeypatch):
    """DeleteObjects takes 1000 keys at most: 10 keys in batches of 4 take 3 requests."""
    from transfer.handlers import s3 as module

    monkeypatch.setattr(module, "BATCH_DELETE", 4)
    s3.make_bucket()
    for i in range(10):
        s3.client.put_object(Bucket=s3.bucket, Key="tree/%d" % i, Body=b"x")
    s3.client.put_object(Bucket=s3.bucket, Key="treex", Body=b"kept")
    env = dict(os.environ, **s3.env)
    handler = module.S3Handler(Context(env, Credentials(env), 2, False))
    try:
        endpoint = Endpoint(URL(s3.url("tree")), "s3site")
        calls = []
        client = handler._conn(endpoint).client
        client.meta.events.register(
            "before-call.s3.DeleteObjects", lambda params, **kw: calls.append(params)
        )
        handler.remove(endpoint, recursive=True)
    finally:
        handler.close()
    assert len(calls) == 3
    assert s3.keys() == {"treex"}


# ---------------------------------------------------------------------- failures


@pytest.mark.parametrize("missing", ["key", "bucket"])
def test_missing_source_fails_at_once_and_leaves_nothing(s3, pegasus_transfer, tmp_path, missing):
    s3.make_bucket()
    bucket = s3.bucket if missing == "key" else s3.bucket + "-none"
    out = tmp_path / "out"
    run = pegasus_transfer([get(s3.url("no/such/key", bucket), str(out / "f"))], env=s3.env)
    assert run.rc == 1
    assert len(run.report["attempts"]) == 1  # not found: no retries
    error = run.report["attempts"][0]["error"]
    assert "not found" in error and ("NoSuchKey" if missing == "key" else "NoSuchBucket") in error
    assert leftovers(out) == []


def test_wrong_secret_key_is_denied_in_one_line_without_the_secret(
    auth_server, pegasus_transfer, tmp_path
):
    src, _ = data_file(tmp_path / "f.dat", 1000)
    bucket = "pt-auth-" + os.urandom(4).hex()
    url = "s3://test@authmoto/%s/f.dat" % bucket
    creds = tmp_path / "creds.conf"
    env = {"PEGASUS_CREDENTIALS": str(creds), "HOME": str(tmp_path)}

    # the right key works: the server really checks signatures
    write_credentials(
        creds, auth_server.endpoint_url, "authmoto", auth_server.access_key, auth_server.secret_key
    )
    run = pegasus_transfer([put(src, url)], env=env)
    assert run.rc == 0, run.stderr

    wrong = "Wr0ngSecretKeyThatMustNotBeShown"
    write_credentials(creds, auth_server.endpoint_url, "authmoto", auth_server.access_key, wrong)
    out = tmp_path / "out"
    run = pegasus_transfer([get(url, str(out / "f.dat"), "g"), put(src, url + ".2", "p")], env=env)
    assert run.rc == 1
    assert len(run.report["attempts"]) == 2  # one each: access denied is not retried
    for attempt in run.report["attempts"]:
        assert "access denied" in attempt["error"] and "SignatureDoesNotMatch" in attempt["error"]
        assert "[test@authmoto] in %s" % creds in attempt["error"]
    for text in (run.stdout, run.stderr, json.dumps(run.report)):
        assert wrong not in text and auth_server.secret_key not in text
    assert leftovers(out) == []


def test_world_readable_credentials_file_is_made_private(s3, pegasus_transfer):
    s3.creds.chmod(0o644)
    run = pegasus_transfer([target("mkdir", site="s3site", url=s3.url())], env=s3.env)
    assert run.rc == 0, run.stderr
    assert "changed it to 0600" in run.stderr
    assert stat.S_IMODE(os.stat(s3.creds).st_mode) == 0o600


def test_missing_or_incomplete_credentials_are_one_line(s3, pegasus_transfer, tmp_path):
    src, _ = data_file(tmp_path / "f.dat", 10)
    env = dict(s3.env, PEGASUS_CREDENTIALS=str(tmp_path / "nope.conf"))
    run = pegasus_transfer([put(src, s3.url("f"))], env=env)
    assert run.rc == 1
    assert "nope.conf, which does not exist" in run.stderr

    s3.creds.write_text("[moto]\nendpoint = http://127.0.0.1:1\n\n[test@moto]\naccess_key = AK\n")
    run = pegasus_transfer([put(src, s3.url("f"))], env=s3.env)
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if "pegasus-transfer:" in line]
    assert len(lines) == 1 and "[test@moto] needs access_key and secret_key" in lines[0]


def test_site_specific_credentials_file_wins(s3, pegasus_transfer, tmp_path):
    """PEGASUS_CREDENTIALS_<site label> before PEGASUS_CREDENTIALS (here: a dead endpoint)."""
    dead = write_credentials(tmp_path / "dead.conf", "http://127.0.0.1:1")
    src, digest = data_file(tmp_path / "f.dat", 5000)
    env = dict(s3.env, PEGASUS_CREDENTIALS=str(dead), PEGASUS_CREDENTIALS_s3site=str(s3.creds))
    run = pegasus_transfer([put(src, s3.url("f.dat"))], env=env)
    assert run.rc == 0, run.stderr
    assert s3.sha256("f.dat") == digest


# ---------------------------------------------------------------------- integrity


def test_verify_checksum_remote_on_put(s3, pegasus_transfer, tmp_path):
    small, small_sha = data_file(tmp_path / "small.dat", 200_000)
    big, big_sha = data_file(tmp_path / "big.dat", 20 * MIB)
    entries = [
        put(small, s3.url("small.dat"), "small", verify_checksum_remote=True),
        put(big, s3.url("big.dat"), "big", verify_checksum_remote=True),
    ]
    run = pegasus_transfer(entries, "-d", env=s3.env)
    assert run.rc == 0, run.stderr
    # the single-part object: the service's own full-object SHA256; the multipart one (a
    # checksum of part checksums) is read back and hashed
    assert "s3://test@moto/%s/small.dat: sha256 kept by the service: %s" % (
        s3.bucket,
        small_sha,
    ) in (run.stderr)
    assert "big.dat: sha256 kept by the service" not in run.stderr
    assert s3.sha256("small.dat") == small_sha and s3.sha256("big.dat") == big_sha


def test_remote_sha256_reports_what_the_service_keeps(s3):
    """A wrong stored checksum shows as a mismatch (moto keeps what the client declares)."""
    s3.make_bucket()
    declared = hashlib.sha256(b"something else").digest()
    s3.client.put_object(
        Bucket=s3.bucket,
        Key="k",
        Body=b"payload",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(declared).decode(),
    )
    from transfer.handlers.s3 import S3Handler

    env = dict(os.environ, **s3.env)
    handler = S3Handler(Context(env, Credentials(env), 2, False))
    try:
        endpoint = Endpoint(URL(s3.url("k")), "s3site")
        assert handler.remote_sha256(endpoint) == declared.hex()
        with pytest.raises(errors.NotFound):
            handler.remote_sha256(Endpoint(URL(s3.url("missing")), "s3site"))
    finally:
        handler.close()


def test_checksum_mismatch_on_get_leaves_nothing(s3, pegasus_transfer, tmp_path):
    s3.make_bucket()
    s3.client.put_object(Bucket=s3.bucket, Key="f", Body=b"the real content\n")
    out = tmp_path / "out"
    wrong = hashlib.sha256(b"expected content\n").hexdigest()
    run = pegasus_transfer([get(s3.url("f"), str(out / "f"), checksum=wrong)], env=s3.env)
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 2  # the mismatch, and the one re-fetch
    assert all("checksum mismatch" in a["error"] for a in attempts)
    assert leftovers(out) == []


# ---------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, errors.NotFound),
        ("404", 404, errors.NotFound),
        ("AccessDenied", 403, errors.AccessDenied),
        ("InvalidAccessKeyId", 403, errors.AccessDenied),
        ("SignatureDoesNotMatch", 403, errors.AccessDenied),
        ("SlowDown", 503, errors.RetryableError),
        ("InternalError", 500, errors.RetryableError),
        ("RequestTimeout", 400, errors.RetryableError),
        ("BadDigest", 400, errors.ChecksumMismatch),
        ("InvalidBucketName", 400, errors.PermanentError),
    ],
)
def test_client_errors_become_ours(code, status, expected):
    from transfer.handlers.s3 import S3Handler

    env = {"HOME": "/nonexistent"}
    handler = S3Handler(Context(env, Credentials(env), 1, False))
    response = {
        "Error": {"Code": code, "Message": "msg"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {"retry-after": "7"}},
    }
    exc = botocore.exceptions.ClientError(response, "GetObject")
    mapped = handler._translate(exc, "s3://u@site/b/k")
    assert type(mapped) is expected
    assert str(mapped).startswith("s3://u@site/b/k: ")
    if expected is errors.RetryableError:
        assert mapped.retry_after == 7.0
    connection = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    assert isinstance(handler._translate(connection, "x"), errors.RetryableError)
    assert isinstance(
        handler._translate(botocore.exceptions.NoCredentialsError(), "x"), errors.CredentialError
    )
