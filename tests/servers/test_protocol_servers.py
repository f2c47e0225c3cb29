"""Each protocol server really works with the real client library that talks to it."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os

import pytest

from tests.servers.fixtures import (  # noqa: F401
    ftp_server,
    gcs_server,
    https_server,
    s3_server,
    s3_tls_server,
    sshd_server,
    webdav_server,
)

pytestmark = pytest.mark.server


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_sshd_sftp_round_trip(sshd_server, tmp_path):  # noqa: F811
    paramiko = pytest.importorskip("paramiko")
    payload = os.urandom(300_000)
    (tmp_path / "up.bin").write_bytes(payload)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1",
        port=sshd_server.port,
        username=sshd_server.user,
        key_filename=str(sshd_server.client_key),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    try:
        remote = str(tmp_path / "remote.bin")
        with client.open_sftp() as sftp:
            sftp.put(str(tmp_path / "up.bin"), remote)
            sftp.get(remote, str(tmp_path / "down.bin"))
            sftp.remove(remote)
    finally:
        client.close()
    assert sha256((tmp_path / "down.bin").read_bytes()) == sha256(payload)


def _s3_round_trip(server, **client_args):
    boto3 = pytest.importorskip("boto3")
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        **client_args,
    )
    payload = os.urandom(100_000)
    s3.create_bucket(Bucket="smoke")
    s3.put_object(Bucket="smoke", Key="dir/blob.bin", Body=payload)
    body = s3.get_object(Bucket="smoke", Key="dir/blob.bin")["Body"].read()
    assert sha256(body) == sha256(payload)


def test_s3_put_get(s3_server):  # noqa: F811
    _s3_round_trip(s3_server)


def test_s3_over_tls_put_get(s3_tls_server):  # noqa: F811
    _s3_round_trip(s3_tls_server, verify=str(s3_tls_server.cafile))


def test_gcs_upload_download(gcs_server, monkeypatch):  # noqa: F811
    storage = pytest.importorskip("google.cloud.storage")
    credentials = pytest.importorskip("google.auth.credentials")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.emulator_host)
    client = storage.Client(project="test", credentials=credentials.AnonymousCredentials())
    bucket = client.create_bucket("smoke")
    payload = os.urandom(100_000)
    bucket.blob("dir/blob.bin").upload_from_string(payload)
    body = client.bucket("smoke").blob("dir/blob.bin").download_as_bytes()
    assert sha256(body) == sha256(payload)


def test_webdav_mkcol_put_get_delete(webdav_server):  # noqa: F811
    requests = pytest.importorskip("requests")
    auth = (webdav_server.username, webdav_server.password)
    base = webdav_server.url
    payload = os.urandom(100_000)
    with requests.Session() as http:
        assert http.request("MKCOL", base + "/dir/", timeout=10).status_code == 401
        http.auth = auth
        assert http.request("MKCOL", base + "/dir/", timeout=10).status_code == 201
        assert http.put(base + "/dir/blob.bin", data=payload, timeout=10).status_code in (201, 204)
        assert (webdav_server.root / "dir" / "blob.bin").read_bytes() == payload
        listing = http.request("PROPFIND", base + "/dir/", headers={"Depth": "1"}, timeout=10)
        assert listing.status_code == 207 and "blob.bin" in listing.text
        got = http.get(base + "/dir/blob.bin", timeout=10)
        assert got.status_code == 200 and sha256(got.content) == sha256(payload)
        assert http.delete(base + "/dir/blob.bin", timeout=10).status_code == 204
        assert http.get(base + "/dir/blob.bin", timeout=10).status_code == 404


def test_https_get_and_range(https_server):  # noqa: F811
    requests = pytest.importorskip("requests")
    payload = os.urandom(100_000)
    (https_server.root / "blob.bin").write_bytes(payload)
    url = https_server.url + "/blob.bin"
    got = requests.get(url, verify=str(https_server.cafile), timeout=10)
    assert got.status_code == 200 and sha256(got.content) == sha256(payload)
    part = requests.get(
        url, headers={"Range": "bytes=10-19"}, verify=str(https_server.cafile), timeout=10
    )
    assert part.status_code == 206 and part.content == payload[10:20]
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=10)  # the self-signed certificate is not trusted by default


def test_ftp_download(ftp_server, tmp_path):  # noqa: F811
    payload = os.urandom(100_000)
    (ftp_server.root / "blob.bin").write_bytes(payload)
    chunks: list[bytes] = []
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", ftp_server.port, timeout=10)
        ftp.login()  # anonymous
        ftp.retrbinary("RETR blob.bin", chunks.append)
        with pytest.raises(ftplib.error_perm):
            ftp.storbinary("STOR upload.bin", io.BytesIO(b"x"))  # read-only
    assert sha256(b"".join(chunks)) == sha256(payload)
