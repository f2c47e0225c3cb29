"""s3:// and s3s:// through boto3: Pegasus's URLs and credentials file, one client per endpoint.

A URL is ``s3://<user>@<site>/<bucket>/<key>``.  The credentials INI is the one pegasus-s3
would read: ``PEGASUS_CREDENTIALS_<site label>``, else ``PEGASUS_CREDENTIALS``, else
``S3CFG``, else ``~/.pegasus/credentials.conf``, else ``~/.pegasus/s3cfg``.  Its ``[<site>]``
section gives ``endpoint`` and ``region`` (and, our addition, ``addressing_style``), its
``[<user>@<site>]`` section ``access_key`` and ``secret_key`` (and optionally
``session_token``).  Without a file, or without those sections, boto3's own chain applies
(AWS_* variables, ~/.aws, instance roles) and the endpoint is AWS's.  ``s3s`` is ``s3``:
TLS comes from the endpoint URL; AWS_CA_BUNDLE or REQUESTS_CA_BUNDLE name a private CA.

One boto3 client per endpoint and identity, created once and shared by every thread
(boto3 clients are thread-safe), with one s3transfer manager for multipart work.  Small
objects are a single PutObject / GetObject; large uploads are multipart with SHA256 part
checksums; large downloads are parallel ranged GETs written in order into the sink (which
hashes as it goes); s3-to-s3 is a server-side copy.  Retries are the engine's: botocore
makes at most one quick retry of its own.
"""

from __future__ import annotations

import base64
import configparser
import http.client
import os
import threading

import boto3
import botocore.config
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from s3transfer.exceptions import RetriesExceededError
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from ..credentials import check_private
from ..errors import (
    AccessDenied,
    BadInput,
    ChecksumMismatch,
    CredentialError,
    NotFound,
    PermanentError,
    RetryableError,
    TransferError,
)
from .base import Handler

MiB = 1 << 20
SMALL = 8 * MiB  # up to this: one PutObject; above: multipart upload in PART pieces
PART = 8 * MiB
PARALLEL_GET = 32 * MiB  # above this: parallel ranged GETs
COPY_PART = 32 * MiB  # server-side copies above this are multipart (UploadPartCopy)
STREAM_CHUNK = 1 * MiB
BATCH_DELETE = 1000  # DeleteObjects takes at most 1000 keys

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NotFound", "404", "NoSuchUpload", "NoSuchVersion"}
_DENIED = {
    "AccessDenied", "403", "401", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "AllAccessDisabled", "AccountProblem", "InvalidToken", "ExpiredToken", "InvalidSecurity",
    "InvalidClientTokenId", "UnrecognizedClientException",
}  # fmt: skip
_RETRY = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "OperationAborted",
    "PreconditionFailed", "412", "503", "500",
}  # fmt: skip
_CORRUPT = {
    "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch",
}  # fmt: skip
# what a service says when it does not know x-amz-checksum-* (old S3 clones)
_NO_CHECKSUMS = {"NotImplemented", "InvalidArgument", "InvalidRequest", "UnsupportedArgument"}


_NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
)


class _Known(BaseSubscriber):
    """Hands s3transfer the size (and ETag) we already know, saving it a HeadObject."""

    def __init__(self, size: int, etag: str | None = None):
        self.size = size
        self.etag = etag

    def on_queued(self, future, **kwargs):
        future.meta.provide_transfer_size(self.size)
        if self.etag:
            future.meta.provide_object_etag(self.etag)


class _InOrder:
    """The sink as s3transfer sees it: write-only, not seekable, so ranged parts that arrive
    out of order are held back and written in order (the sink hashes sequentially)."""

    def __init__(self, sink):
        self.write = sink.write


class _ReadOnly:
    """A response body as a plain, unseekable stream (an s3-to-s3 copy between endpoints)."""

    def __init__(self, body):
        self.read = body.read


class _Conn:
    """One endpoint and identity: a boto3 client and its transfer managers."""

    def __init__(self, client, region: str | None, source: str, concurrency: int):
        self.client = client
        self.region = region
        self.source = source  # where the credentials came from, for messages (no secrets)
        self.sha256 = True  # does the service take x-amz-checksum-sha256? (cleared on refusal)
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._managers: dict[str, TransferManager] = {}

    def manager(self, kind: str = "data") -> TransferManager:
        with self._lock:
            manager = self._managers.get(kind)
            if manager is None:
                part = COPY_PART if kind == "copy" else PART
                config = TransferConfig(
                    multipart_threshold=part,
                    multipart_chunksize=part,
                    max_request_concurrency=self.concurrency,
                    max_submission_concurrency=max(5, self.concurrency // 2),
                    max_in_memory_upload_chunks=max(10, self.concurrency),
                    max_in_memory_download_chunks=max(10, self.concurrency),
                )
                manager = self._managers[kind] = TransferManager(self.client, config)
            return manager

    def close(self) -> None:
        with self._lock:
            managers, self._managers = list(self._managers.values()), {}
        for manager in managers:
            manager.shutdown()


def _split(endpoint) -> tuple[str, str]:
    bucket, _, key = endpoint.url.path.lstrip("/").partition("/")
    return bucket, key


def _b64_to_hex(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return None


def _read_exactly(reader, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = reader.readinto(view[got:])
        if not n:
            break
        got += n
    view.release()
    if got < size:
        del buffer[got:]
    return buffer


def _error_code(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code, int(status)
    return "", 0


def _one_line(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class S3Handler(Handler):
    schemes = ("s3", "s3s")
    can_get = True
    can_put = True
    can_copy = True
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        """One instance for every s3 URL: clients are kept per endpoint and identity inside,
        so an s3-to-s3 pair always reaches ``copy`` (server-side when both sides agree)."""
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        self._lock = threading.Lock()
        self._by_url: dict[tuple, _Conn] = {}  # (site label, site, user) -> connection
        self._by_identity: dict[tuple, _Conn] = {}  # (endpoint, region, keys...) -> connection
        self._files: dict[str, configparser.ConfigParser] = {}

    # ------------------------------------------------------------------ credentials

    def _read_ini(self, path: str) -> configparser.ConfigParser:
        parser = self._files.get(path)
        if parser is None:
            parser = configparser.ConfigParser(interpolation=None)
            try:
                with open(path, encoding="utf-8") as fh:
                    parser.read_file(fh)
            except (OSError, configparser.Error) as exc:
                raise CredentialError(
                    "cannot read credentials file %s: %s" % (path, _one_line(exc))
                ) from None
            self._files[path] = parser
        return parser

    def _ini(self, label: str) -> tuple[str | None, configparser.ConfigParser | None]:
        """pegasus-s3's order: PEGASUS_CREDENTIALS(_<site>), S3CFG, ~/.pegasus/credentials.conf,
        ~/.pegasus/s3cfg.  Files are made private (0600) as Pegasus does."""
        creds = self.context.credentials
        path = creds.file("PEGASUS_CREDENTIALS", label)
        if path is not None:
            return path, creds.pegasus_ini(label)
        path = creds.file("S3CFG")
        if path is not None:
            return path, self._read_ini(path)
        default = os.path.expanduser("~/.pegasus/credentials.conf")
        if os.path.exists(default):
            return default, creds.pegasus_ini(label)
        old = os.path.expanduser("~/.pegasus/s3cfg")
        if os.path.exists(old):
            check_private(old, "~/.pegasus/s3cfg")
            return old, self._read_ini(old)
        return None, None

    def _conn(self, endpoint) -> _Conn:
        url = endpoint.url
        key = (endpoint.site, url.hostport, url.user)
        with self._lock:
            conn = self._by_url.get(key)
            if conn is None:
                conn = self._by_url[key] = self._connect(endpoint)
            return conn

    def _connect(self, endpoint) -> _Conn:
        url = endpoint.url
        path, ini = self._ini(endpoint.site)
        site = url.hostport
        section: dict[str, str] = {}
        ident: dict[str, str] | None = None
        ident_name = None
        if ini is not None:
            for name in dict.fromkeys((site, site.lower())):  # pegasus-s3 lower-cases the host
                if ini.has_section(name):
                    section, site = dict(ini.items(name)), name
                    break
            if url.user:
                ident_name = "%s@%s" % (url.user, site)
                if ini.has_section(ident_name):
                    ident = dict(ini.items(ident_name))
        keys: dict[str, str] = {}
        if ident is not None:
            access, secret = ident.get("access_key"), ident.get("secret_key")
            if not access or not secret:
                raise CredentialError(
                    "credentials file %s: section [%s] needs access_key and secret_key"
                    % (path, ident_name)
                )
            keys = {"aws_access_key_id": access.strip(), "aws_secret_access_key": secret.strip()}
            if ident.get("session_token"):
                keys["aws_session_token"] = ident["session_token"].strip()
            source = "[%s] in %s" % (ident_name, path)
        else:
            source = "boto3's default credentials (AWS_ACCESS_KEY_ID, ~/.aws, ...)"
            if path is not None:
                source += "; %s has no [%s] section" % (path, ident_name or "user@" + site)
        endpoint_url = (section.get("endpoint") or "").strip() or None
        region = (section.get("region") or "").strip() or None
        style = (section.get("addressing_style") or "auto").strip()
        if not section:
            self.log.debug("s3: no [%s] section in a credentials file: using AWS's endpoint", site)
        identity = (
            endpoint_url, region, style, keys.get("aws_access_key_id"),
            keys.get("aws_secret_access_key"), keys.get("aws_session_token"),
        )  # fmt: skip
        conn = self._by_identity.get(identity)
        if conn is not None:
            return conn
        threads = max(1, self.context.threads)
        concurrency = max(10, 2 * threads)
        config = botocore.config.Config(
            max_pool_connections=concurrency + threads + 4,
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=20,
            read_timeout=120,
            s3={"addressing_style": style},
            user_agent_extra="pegasus-transfer",
        )
        try:
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config, **keys
            )
        except ValueError as exc:
            raise CredentialError(
                "credentials file %s: [%s] endpoint %r is not usable: %s"
                % (path, site, endpoint_url, _one_line(exc))
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise CredentialError("s3 client for %s: %s" % (site, _one_line(exc))) from None
        self.log.debug("s3: client for %s (%s), credentials from %s", site, endpoint_url, source)
        conn = self._by_identity[identity] = _Conn(client, region, source, concurrency)
        return conn

    # ------------------------------------------------------------------ errors

    def _translate(self, exc: BaseException, where: str, conn: _Conn | None = None) -> Exception:
        """A boto3/botocore/s3transfer exception as one of ours; anything else unchanged."""
        if isinstance(exc, (TransferError, BadInput)):
            return exc
        if isinstance(exc, S3UploadFailedError) and isinstance(
            exc.__context__, botocore.exceptions.ClientError
        ):
            exc = exc.__context__
        if isinstance(exc, RetriesExceededError):
            return RetryableError("%s: %s" % (where, _one_line(exc.last_exception or exc)))
        if isinstance(exc, botocore.exceptions.ClientError):
            code, status = _error_code(exc)
            message = exc.response.get("Error", {}).get("Message") or http.client.responses.get(
                status, ""
            )
            detail = _one_line("%s: %s" % (code, message) if message and message != code else code)
            if code in _NOT_FOUND or status == 404:
                return NotFound("%s: not found (%s)" % (where, detail))
            if code in _DENIED or status in (401, 403):
                hint = "; credentials: %s" % conn.source if conn is not None else ""
                return AccessDenied("%s: access denied (%s)%s" % (where, detail, hint))
            if code in _CORRUPT:
                return ChecksumMismatch(
                    "%s: the service received corrupted data (%s)" % (where, detail)
                )
            if code in _RETRY or status >= 500 or status in (408, 429) or not status:
                headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                retry_after = None
                try:
                    retry_after = float(headers.get("retry-after", ""))
                except ValueError:
                    pass
                return RetryableError("%s: %s" % (where, detail), retry_after=retry_after)
            return PermanentError("%s: %s" % (where, detail))
        if isinstance(exc, _NO_CREDENTIALS):
            tried = " (tried %s)" % conn.source if conn is not None else ""
            return CredentialError(
                "%s: no S3 credentials%s: add a [user@site] section with access_key and "
                "secret_key to the file named by PEGASUS_CREDENTIALS, or set AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY" % (where, tried)
            )
        if isinstance(exc, botocore.exceptions.FlexibleChecksumError):
            return ChecksumMismatch("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, botocore.exceptions.ParamValidationError):
            return PermanentError("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, botocore.exceptions.SSLError):
            text = _one_line(exc)
            if "certificate" in text.lower() and "verif" in text.lower():
                return PermanentError(
                    "%s: the server's TLS certificate is not trusted (set AWS_CA_BUNDLE to "
                    "its CA file): %s" % (where, text)
                )
            return RetryableError("%s: %s" % (where, text))
        if isinstance(exc, botocore.exceptions.CredentialRetrievalError):
            return CredentialError("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, botocore.exceptions.BotoCoreError):  # connections, timeouts, streams
            return RetryableError("%s: %s" % (where, _one_line(exc)))
        return exc

    # ------------------------------------------------------------------ get

    def get(self, src, sink) -> None:
        conn = self._conn(src)
        bucket, key = _split(src)
        if not bucket or not key:
            raise PermanentError("%s: needs a bucket and a key" % src.url)
        try:
            response = conn.client.get_object(Bucket=bucket, Key=key)
            body = response["Body"]
            try:
                size = int(response.get("ContentLength") or 0)
                if size > PARALLEL_GET:
                    body.close()
                    self.log.debug("s3: %s: %d bytes in ranged parallel GETs", src.url, size)
                    future = conn.manager().download(
                        bucket,
                        key,
                        _InOrder(sink),
                        subscribers=[_Known(size, response.get("ETag"))],
                    )
                    future.result()
                else:
                    for chunk in body.iter_chunks(STREAM_CHUNK):
                        sink.write(chunk)
            finally:
                body.close()
        except Exception as exc:
            raise self._translate(exc, str(src.url), conn) from None

    # ------------------------------------------------------------------ put

    def put(self, source, dest) -> None:
        conn = self._conn(dest)
        bucket, key = _split(dest)
        if not bucket or not key:
            raise PermanentError("%s: needs a bucket and a key" % dest.url)
        try:
            try:
                self._put(conn, source, bucket, key)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc)[0] != "NoSuchBucket":
                    raise
                # pegasus-s3 put -b: create the bucket, then upload
                self.log.info("s3: creating bucket %s for %s", bucket, dest.url)
                self._create_bucket(conn, bucket)
                source.seek(0)
                self._put(conn, source, bucket, key)
        except Exception as exc:
            raise self._translate(exc, str(dest.url), conn) from None

    def _put(self, conn: _Conn, source, bucket: str, key: str) -> None:
        if source.size <= SMALL:
            data = _read_exactly(source, source.size)
            args = {"Bucket": bucket, "Key": key, "Body": data}
            digest = source.sha256
            if conn.sha256 and digest:
                # our own sha256 of the bytes read: a service that checks it (AWS does) proves
                # that what it stored is what left the disk
                args["ChecksumAlgorithm"] = "SHA256"
                args["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(digest)).decode()
            try:
                conn.client.put_object(**args)
            except botocore.exceptions.ClientError as exc:
                if "ChecksumSHA256" not in args or not self._refuses_checksums(conn, exc):
                    raise
                del args["ChecksumSHA256"], args["ChecksumAlgorithm"]
                conn.client.put_object(**args)
            return
        extra = {"ChecksumAlgorithm": "SHA256"} if conn.sha256 else {}
        try:
            conn.manager().upload(
                source, bucket, key, extra_args=extra, subscribers=[_Known(source.size)]
            ).result()
        except botocore.exceptions.ClientError as exc:
            if not extra or not self._refuses_checksums(conn, exc):
                raise
            source.seek(0)
            conn.manager().upload(source, bucket, key, subscribers=[_Known(source.size)]).result()

    def _refuses_checksums(self, conn: _Conn, exc: botocore.exceptions.ClientError) -> bool:
        code, status = _error_code(exc)
        if code in _NO_CHECKSUMS or status == 501:
            self.log.info("s3: the service refused SHA256 checksums (%s): sending without", code)
            conn.sha256 = False
            return True
        return False

    def remote_sha256(self, endpoint) -> str | None:
        """The object's SHA256 as the service keeps it, when it is a full-object value (a
        single PutObject); a multipart object's is a checksum of checksums: None."""
        conn = self._conn(endpoint)
        bucket, key = _split(endpoint)
        try:
            head = conn.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as exc:
            raise self._translate(exc, str(endpoint.url), conn) from None
        value = head.get("ChecksumSHA256") or ""
        etag = (head.get("ETag") or "").strip('"')
        if not value or "-" in value or "-" in etag:
            return None
        if head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None
        digest = _b64_to_hex(value)
        self.log.debug("s3: %s: sha256 kept by the service: %s", endpoint.url, digest)
        return digest

    # ------------------------------------------------------------------ copy

    def copy(self, src, dest) -> None:
        sconn, dconn = self._conn(src), self._conn(dest)
        sbucket, skey = _split(src)
        dbucket, dkey = _split(dest)
        if not (sbucket and skey and dbucket and dkey):
            raise PermanentError("%s -> %s: needs a bucket and a key" % (src.url, dest.url))
        where = "%s -> %s" % (src.url, dest.url)
        try:
            try:
                self._copy(sconn, dconn, src, dest, sbucket, skey, dbucket, dkey)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc)[0] != "NoSuchBucket":
                    raise
                # pegasus-s3 cp -c: make the destination bucket (unless another worker just
                # did), then try once more; a missing source bucket fails again, as it should
                self.log.info("s3: creating bucket %s for %s", dbucket, dest.url)
                self._create_bucket(dconn, dbucket)
                self._copy(sconn, dconn, src, dest, sbucket, skey, dbucket, dkey)
        except Exception as exc:
            raise self._translate(exc, where, sconn) from None

    def _copy(self, sconn, dconn, src, dest, sbucket, skey, dbucket, dkey) -> None:
        extra = {"ChecksumAlgorithm": "SHA256"} if dconn.sha256 else {}
        if sconn is dconn:
            self.log.debug("s3: server-side copy %s -> %s", src.url, dest.url)
            sconn.manager("copy").copy(
                {"Bucket": sbucket, "Key": skey}, dbucket, dkey, extra_args=extra
            ).result()
            return
        # different endpoints or identities: stream from one to the other, no local file
        self.log.debug("s3: streamed copy %s -> %s", src.url, dest.url)
        response = sconn.client.get_object(Bucket=sbucket, Key=skey)
        body = response["Body"]
        try:
            size = int(response.get("ContentLength") or 0)
            dconn.manager().upload(
                _ReadOnly(body), dbucket, dkey, extra_args=extra, subscribers=[_Known(size)]
            ).result()
        finally:
            body.close()

    # ------------------------------------------------------------------ mkdir / remove

    def mkdir(self, target) -> None:
        """S3 has no directories: create the URL's bucket (an existing one of ours is fine)."""
        conn = self._conn(target)
        bucket, _ = _split(target)
        if not bucket:
            raise PermanentError("%s: needs a bucket" % target.url)
        try:
            self._create_bucket(conn, bucket)
        except Exception as exc:
            raise self._translate(exc, str(target.url), conn) from None

    def _bucket_exists(self, conn: _Conn, bucket: str) -> bool:
        try:
            conn.client.head_bucket(Bucket=bucket)
            return True
        except botocore.exceptions.ClientError as exc:
            code, status = _error_code(exc)
            if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
                return False
            if status == 403:
                raise AccessDenied(
                    "bucket %s exists but these credentials (%s) cannot use it; it may belong "
                    "to someone else" % (bucket, conn.source)
                ) from None
            raise

    def _create_bucket(self, conn: _Conn, bucket: str) -> None:
        if self._bucket_exists(conn, bucket):
            return
        args = {}
        if conn.region and conn.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": conn.region}
        try:
            conn.client.create_bucket(Bucket=bucket, **args)
        except botocore.exceptions.ClientError as exc:
            code = _error_code(exc)[0]
            if code == "BucketAlreadyOwnedByYou":
                return
            if code == "BucketAlreadyExists" and self._bucket_exists(conn, bucket):
                return  # another worker made it a moment ago
            raise

    def remove(self, target, recursive: bool) -> None:
        """A key; recursively the key and everything under ``key/``.  A bucket URL removes the
        bucket (recursively: its objects first).  What is already gone counts as removed."""
        conn = self._conn(target)
        bucket, key = _split(target)
        if not bucket:
            raise PermanentError("%s: needs a bucket" % target.url)
        try:
            if recursive:
                self._remove_tree(conn, bucket, key)
            elif key:
                conn.client.delete_object(Bucket=bucket, Key=key)
            else:
                conn.client.delete_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc)[0] == "NoSuchBucket":
                self.log.debug("s3: %s: bucket already gone", target.url)
                return
            raise self._translate(exc, str(target.url), conn) from None
        except Exception as exc:
            raise self._translate(exc, str(target.url), conn) from None

    def _remove_tree(self, conn: _Conn, bucket: str, key: str) -> None:
        if key.endswith("/") or not key:
            prefix, pending = key, []
        else:
            prefix, pending = key + "/", [key]
        removed = 0
        paginator = conn.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            pending.extend(item["Key"] for item in page.get("Contents", ()))
            while len(pending) >= BATCH_DELETE:
                removed += self._delete_batch(conn, bucket, pending[:BATCH_DELETE])
                del pending[:BATCH_DELETE]
        if pending:
            removed += self._delete_batch(conn, bucket, pending)
        self.log.debug("s3: removed %d objects under s3 bucket %s prefix %r", removed, bucket, key)
        if not key:
            conn.client.delete_bucket(Bucket=bucket)

    def _delete_batch(self, conn: _Conn, bucket: str, keys: list[str]) -> int:
        response = conn.client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        errors = [e for e in response.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if errors:
            first = errors[0]
            text = "could not delete %d of %d objects in bucket %s, e.g. %s: %s: %s" % (
                len(errors), len(keys), bucket, first.get("Key"), first.get("Code"),
                _one_line(first.get("Message", "")),
            )  # fmt: skip
            if first.get("Code") in _DENIED:
                raise AccessDenied(text)
            raise RetryableError(text)
        return len(keys)

    def close(self) -> None:
        with self._lock:
            conns, self._by_identity, self._by_url = list(self._by_identity.values()), {}, {}
        for conn in conns:
            conn.close()
