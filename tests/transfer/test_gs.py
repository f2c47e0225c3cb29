"""gs:// against gcp-storage-emulator (tests/servers/gcs.py) through google-cloud-storage, every
outcome checked on the emulator with the library directly; gs <-> s3 through a local file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat

import boto3
import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.servers.moto import ACCESS_KEY, REGION, SECRET_KEY
from tests.transfer.conftest import leftovers, target, transfer
from transfer import errors
from transfer.credentials import Credentials
from transfer.handlers.base import Context

pytestmark = pytest.mark.server

MIB = 1024 * 1024
BIG = 40 * 1000 * 1000  # above 8 MiB: a resumable upload in 32 MiB pieces


class Gcs:
    """The CLI's environment, a client on the same emulator and a fresh bucket."""

    def __init__(self, server, tmp_path, monkeypatch):
        self.env = {
            "STORAGE_EMULATOR_HOST": server.emulator_host,
            "GOOGLE_CLOUD_PROJECT": "test",
            "HOME": str(tmp_path),
        }
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.emulator_host)
        self.client = storage.Client(project="test", credentials=AnonymousCredentials())
        self.bucket = "pt-" + os.urandom(5).hex()

    def url(self, name: str = "", bucket: str | None = None) -> str:
        return "gs://%s/%s" % (bucket or self.bucket, name)

    def make_bucket(self, bucket: str | None = None) -> storage.Bucket:
        return self.client.create_bucket(bucket or self.bucket)

    def blob(self, name: str, bucket: str | None = None) -> storage.Blob:
        return self.client.bucket(bucket or self.bucket).blob(name)

    def sha256(self, name: str, bucket: str | None = None) -> str:
        return hashlib.sha256(self.blob(name, bucket).download_as_bytes()).hexdigest()

    def names(self, bucket: str | None = None) -> set[str]:
        return {b.name for b in self.client.list_blobs(bucket or self.bucket)}


@pytest.fixture
def gcs(gcs_server, tmp_path, monkeypatch):
    return Gcs(gcs_server, tmp_path, monkeypatch)


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


# ---------------------------------------------------------------------- mkdir, put, get, copy


def test_mkdir_creates_the_bucket_and_an_existing_one_is_fine(gcs, pegasus_transfer):
    for _ in range(2):
        run = pegasus_transfer([target("mkdir", site="gcs", url=gcs.url())], env=gcs.env)
        assert run.rc == 0, run.stderr
        assert gcs.client.lookup_bucket(gcs.bucket) is not None


def test_put_small_and_resumable_then_get_back(gcs, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    small, small_sha = data_file(tmp_path / "small.dat", 100_000)
    big, big_sha = data_file(tmp_path / "big.dat", BIG)
    run = pegasus_transfer(
        [
            transfer("file://" + small, gcs.url("in/small.dat"), "small"),
            transfer("file://" + big, gcs.url("in/big.dat"), "big"),
        ],
        env=gcs.env,
    )
    assert run.rc == 0, run.stderr
    assert gcs.sha256("in/small.dat") == small_sha
    assert gcs.sha256("in/big.dat") == big_sha
    blob = gcs.client.bucket(gcs.bucket).get_blob("in/big.dat")
    assert blob.size == BIG
    with open(big, "rb") as fh:
        assert blob.md5_hash == base64.b64encode(hashlib.md5(fh.read()).digest()).decode()
    attempts = {a["lfn"]: a for a in run.report["attempts"]}
    assert attempts["big"]["sha256"] == big_sha and attempts["big"]["bytes"] == BIG

    back = tmp_path / "back"
    run = pegasus_transfer(
        [
            transfer(gcs.url("in/small.dat"), "file://%s/small.dat" % back, "small"),
            transfer(gcs.url("in/big.dat"), "file://%s/big.dat" % back, "big"),
        ],
        env=gcs.env,
    )
    assert run.rc == 0, run.stderr
    assert sha256_file(back / "small.dat") == small_sha
    assert sha256_file(back / "big.dat") == big_sha
    assert leftovers(back) == ["big.dat", "small.dat"]


def test_empty_object_round_trip(gcs, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    run = pegasus_transfer([transfer("file://%s" % empty, gcs.url("empty"))], env=gcs.env)
    assert run.rc == 0, run.stderr
    assert gcs.blob("empty").download_as_bytes() == b""
    back = tmp_path / "back" / "empty"
    run = pegasus_transfer([transfer(gcs.url("empty"), "file://%s" % back)], env=gcs.env)
    assert run.rc == 0, run.stderr
    assert back.read_bytes() == b""


def test_gs_to_gs_is_a_server_side_rewrite(gcs, pegasus_transfer):
    gcs.make_bucket()
    other = gcs.make_bucket(gcs.bucket + "-copy").name
    data = os.urandom(3 * MIB)
    gcs.blob("src").upload_from_string(data)
    run = pegasus_transfer(
        [transfer(gcs.url("src"), gcs.url("copies/dst", other))], "-d", env=gcs.env
    )
    assert run.rc == 0, run.stderr
    assert gcs.sha256("copies/dst", other) == hashlib.sha256(data).hexdigest()
    assert "gs: server-side copy" in run.stderr
    assert run.report["attempts"][0]["bytes"] == 0  # nothing went through this machine


def test_gs_to_s3_and_back_go_through_a_local_file(gcs, s3_server, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    data = os.urandom(12 * MIB)
    digest = hashlib.sha256(data).hexdigest()
    gcs.blob("f.dat").upload_from_string(data)
    creds = tmp_path / "s3.conf"
    creds.write_text(
        "[moto]\nendpoint = %s\n\n[test@moto]\naccess_key = %s\nsecret_key = %s\n"
        % (s3_server.endpoint_url, ACCESS_KEY, SECRET_KEY)
    )
    creds.chmod(0o600)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(gcs.env, PEGASUS_CREDENTIALS=str(creds), TMPDIR=str(scratch))
    s3_bucket = "pt-gs-" + os.urandom(4).hex()
    s3_url = "s3://test@moto/%s/from-gs.dat" % s3_bucket

    run = pegasus_transfer([transfer(gcs.url("f.dat"), s3_url, "f", checksum=digest)], env=env)
    assert run.rc == 0, run.stderr
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    stored = s3.get_object(Bucket=s3_bucket, Key="from-gs.dat")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest
    attempt = run.report["attempts"][0]
    assert attempt["bytes"] == len(data) and attempt["sha256"] == digest

    run = pegasus_transfer([transfer(s3_url, gcs.url("back/f.dat"), "f")], env=env)
    assert run.rc == 0, run.stderr
    assert gcs.sha256("back/f.dat") == digest
    assert leftovers(scratch) == []  # the temporary file is gone


# ---------------------------------------------------------------------- remove


def test_remove_and_recursive_remove_really_delete(gcs, pegasus_transfer):
    gcs.make_bucket()
    names = ["top", "d", "d/a", "d/b", "d/sub/c", "dx/keep"]
    names += ["many/%03d" % i for i in range(120)]  # two batch requests of at most 100
    bucket = gcs.client.bucket(gcs.bucket)
    for name in names:
        bucket.blob(name).upload_from_string(name)
    assert gcs.names() == set(names)
    entries = [
        target("remove", site="gcs", url=gcs.url("top")),
        target(
            "remove", site="gcs", url=gcs.url("d"), recursive=True
        ),  # "d" itself and d/..., not dx/
        target("remove", site="gcs", url=gcs.url("many/"), recursive=True),
        target(
            "remove", site="gcs", url=gcs.url("no-such-object")
        ),  # already gone: fine, as gsutil rm -f
    ]
    run = pegasus_transfer(entries, env=gcs.env)
    assert run.rc == 0, run.stderr
    assert gcs.names() == {"dx/keep"}

    run = pegasus_transfer(
        [target("remove", site="gcs", url=gcs.url(), recursive=True)], env=gcs.env
    )
    assert run.rc == 0, run.stderr
    assert gcs.client.lookup_bucket(gcs.bucket) is None


# ---------------------------------------------------------------------- failures


def test_missing_object_fails_at_once_and_leaves_nothing(gcs, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    out = tmp_path / "out"
    run = pegasus_transfer([transfer(gcs.url("no/such"), "file://%s/f" % out)], env=gcs.env)
    assert run.rc == 1
    assert len(run.report["attempts"]) == 1
    assert "gs://%s/no/such: not found" % gcs.bucket in run.report["attempts"][0]["error"]
    assert leftovers(out) == []


def test_checksum_mismatch_on_get_leaves_nothing(gcs, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    gcs.blob("f").upload_from_string(b"the real content\n")
    out = tmp_path / "out"
    wrong = hashlib.sha256(b"expected content\n").hexdigest()
    run = pegasus_transfer(
        [transfer(gcs.url("f"), "file://%s/f" % out, checksum=wrong)], env=gcs.env
    )
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 2  # the mismatch, and the one re-fetch
    assert all("checksum mismatch" in a["error"] for a in attempts)
    assert leftovers(out) == []


def test_verify_checksum_remote_on_put_reads_the_object_back(gcs, pegasus_transfer, tmp_path):
    gcs.make_bucket()
    src, digest = data_file(tmp_path / "f.dat", 300_000)
    run = pegasus_transfer(
        [transfer("file://" + src, gcs.url("f.dat"), verify_checksum_remote=True)], env=gcs.env
    )
    assert run.rc == 0, run.stderr
    assert gcs.sha256("f.dat") == digest


def test_bad_credentials_file_is_one_line_and_made_private(pegasus_transfer, tmp_path, monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "SECRET-MATERIAL"}))
    key.chmod(0o644)
    src, _ = data_file(tmp_path / "f.dat", 10)
    entry = transfer("file://" + src, "gs://some-bucket/f.dat")
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key), "HOME": str(tmp_path)}
    run = pegasus_transfer([entry], env=env)
    assert run.rc == 1
    assert "changed it to 0600" in run.stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    lines = [line for line in run.stderr.splitlines() if line.startswith("pegasus-transfer:")]
    assert len(lines) == 1
    assert "is not a usable Google credentials file" in lines[0]
    assert "SECRET-MATERIAL" not in run.stderr + run.stdout

    env["GOOGLE_APPLICATION_CREDENTIALS_dst"] = str(tmp_path / "missing.json")
    run = pegasus_transfer([entry], env=env)  # the per-site variable wins
    assert run.rc == 1
    assert "missing.json, which does not exist" in run.stderr


# ---------------------------------------------------------------------- credentials in-process


def _rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _handler(env):
    from transfer.handlers.gs import GsHandler

    return GsHandler(Context(env, Credentials(env), 1, False))


def _verify(credentials, key) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = credentials.signer.sign(b"token request")
    key.public_key().verify(signature, b"token request", padding.PKCS1v15(), hashes.SHA256())


def test_service_account_json_from_google_application_credentials(tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    key = _rsa_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj-from-key",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "sa@proj-from-key.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    handler = _handler({"GOOGLE_APPLICATION_CREDENTIALS_gcs_site": str(path)})
    identity, credentials, project, _ = handler._identity("gcs-site")  # '-' becomes '_'
    assert identity == "file:" + str(path)
    assert credentials.service_account_email == info["client_email"]
    assert project == "proj-from-key"
    _verify(credentials, key)


def test_pegasus_boto_config_with_a_pkcs12_key(tmp_path, monkeypatch):
    """Pegasus 5.1.3's gsutil setup: BOTO_CONFIG + GOOGLE_PKCS12 (password notasecret)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    key = _rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sa")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    p12 = tmp_path / "key.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"sa", key, cert, None, serialization.BestAvailableEncryption(b"notasecret")
        )
    )
    p12.chmod(0o600)
    boto = tmp_path / "boto.cfg"
    boto.write_text("[Credentials]\ngs_service_client_id = sa@p.iam.gserviceaccount.com\n")
    boto.chmod(0o600)
    env = {"BOTO_CONFIG": str(boto), "GOOGLE_PKCS12_gcs": str(p12), "GOOGLE_CLOUD_PROJECT": "p"}
    identity, credentials, project, _ = _handler(env)._identity("gcs")
    assert identity == "p12:" + str(p12)
    assert credentials.service_account_email == "sa@p.iam.gserviceaccount.com"
    assert project == "p"
    _verify(credentials, key)

    boto.write_text("[Credentials]\n")  # a PKCS#12 key without the account's e-mail
    with pytest.raises(errors.CredentialError, match="gs_service_client_id"):
        _handler(env)._identity("gcs")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (api_exceptions.NotFound("No such object"), errors.NotFound),
        (api_exceptions.Forbidden("no"), errors.AccessDenied),
        (api_exceptions.Unauthorized("no"), errors.AccessDenied),
        (api_exceptions.TooManyRequests("slow down"), errors.RetryableError),
        (api_exceptions.ServiceUnavailable("later"), errors.RetryableError),
        (api_exceptions.BadRequest("bad name"), errors.PermanentError),
    ],
)
def test_library_errors_become_ours(exc, expected):
    mapped = _handler({})._translate(exc, "gs://b/o")
    assert type(mapped) is expected
    assert str(mapped).startswith("gs://b/o: ")
