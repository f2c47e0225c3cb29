"""gs:// through google-cloud-storage: ``gs://<bucket>/<object>``.

Credentials, first match wins:

* ``STORAGE_EMULATOR_HOST`` set: the emulator, anonymously, project ``GOOGLE_CLOUD_PROJECT``
  or "test";
* ``GOOGLE_APPLICATION_CREDENTIALS_<site>`` or ``GOOGLE_APPLICATION_CREDENTIALS``: a key file
  (service account, or any type google-auth reads), made private (0600) like Pegasus's files;
* Pegasus 5.1.3's gsutil pair: ``BOTO_CONFIG[_<site>]`` whose ``[Credentials]`` names
  ``gs_service_key_file``: a JSON key is used as is; a PKCS#12 key (also from
  ``GOOGLE_PKCS12[_<site>]``) with the service account's e-mail ``gs_service_client_id``
  (password ``gs_service_key_file_password``, default "notasecret", Google's);
* else google-auth's default chain (gcloud's application default credentials, metadata server).

Downloads are raw (the stored bytes, no gzip transcoding) and checked against the service's
crc32c (or md5) as they stream; uploads above 8 MiB are resumable.  Each worker thread gets
its own client (their HTTP sessions are not shared between threads); the credentials are
loaded once.  Retries are the engine's: the library retries for a few seconds at most.
"""

from __future__ import annotations

import configparser
import json
import threading
import warnings

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.exceptions import RetryError
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import exceptions as storage_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

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

try:  # the library's errors derive from these when google-resumable-media is installed
    from google.resumable_media import DataCorruption as _MediaCorruption
    from google.resumable_media import InvalidResponse as _MediaInvalid
except ImportError:  # pragma: no cover - google-cloud-storage 3 has its own copy
    _MediaCorruption = storage_exceptions.DataCorruption
    _MediaInvalid = storage_exceptions.InvalidResponse

MiB = 1 << 20
RESUMABLE_CHUNK = 32 * MiB  # uploads above 8 MiB go resumable in pieces of this size
SCOPES = ("https://www.googleapis.com/auth/devstorage.full_control",)
# the library's own retries: brief, the engine retries (with_deadline before api-core 2.17)
RETRY = getattr(DEFAULT_RETRY, "with_timeout", DEFAULT_RETRY.with_deadline)(10.0)
DELETE_BATCH = 100  # objects per batch request
P12_PASSWORD = "notasecret"  # what Google puts on every PKCS#12 service-account key


def _checksum_kind() -> str:
    """crc32c when its C implementation is there (fast, and what GCS keeps for every object),
    else md5 (google-cloud-storage 3's "auto", spelled out so that 2.x works too)."""
    try:
        import google_crc32c
    except ImportError:
        return "md5"
    return "crc32c" if getattr(google_crc32c, "implementation", "") == "c" else "md5"


CHECKSUM = _checksum_kind()


def _split(endpoint) -> tuple[str, str]:
    return endpoint.url.host, endpoint.url.path.lstrip("/")


def _one_line(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """The service's own words for an error, without the request line and library noise."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            message = response.json()["error"]["message"]
            if message:
                return _one_line(message)
        except Exception:  # not JSON, or not the usual error document
            pass
        text = (getattr(response, "text", "") or "").strip()
        if text and not text.startswith("<"):
            return _one_line(text)
        status = getattr(response, "status_code", None)
        if status:
            return _one_line("HTTP %s %s" % (status, getattr(response, "reason", "") or ""))
    return _one_line(getattr(exc, "message", "") or exc)


def p12_credentials(p12_path: str, email: str, password: str = P12_PASSWORD):
    """A service account from a PKCS#12 key file (gsutil's and Pegasus 5.1.3's format)."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise CredentialError(
            "GOOGLE_PKCS12 keys need the cryptography package (pip install cryptography), "
            "or use a JSON key in GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    from google.auth import crypt

    try:
        with open(p12_path, "rb") as fh:
            key, _cert, _more = pkcs12.load_key_and_certificates(fh.read(), password.encode())
    except OSError as exc:
        raise CredentialError("cannot read %s: %s" % (p12_path, exc.strerror)) from None
    except ValueError:
        raise CredentialError(
            "%s is not a PKCS#12 key with the password %s"
            % (
                p12_path,
                "notasecret" if password == P12_PASSWORD else "gs_service_key_file_password",
            )
        ) from None
    if key is None:
        raise CredentialError("%s holds no private key" % p12_path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = crypt.RSASigner.from_string(pem)
    return service_account.Credentials(
        signer, email, "https://oauth2.googleapis.com/token", scopes=list(SCOPES)
    )


class GsHandler(Handler):
    schemes = ("gs",)
    can_get = True
    can_put = True
    can_copy = True
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        """One instance for every gs URL: credentials are per site inside, so a gs-to-gs pair
        always reaches ``copy`` (a server-side rewrite when both sides share credentials)."""
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        self._lock = threading.Lock()
        self._creds: dict[str, tuple[str, object, str | None, str]] = {}  # site -> identity
        self._local = threading.local()
        self._all: list[storage.Client] = []  # every thread's clients, to close at the end

    # ------------------------------------------------------------------ credentials

    def _identity(self, site: str) -> tuple[str, object, str | None, str]:
        """(key, credentials, project, description) for a site label; loaded once."""
        with self._lock:
            found = self._creds.get(site)
            if found is None:
                found = self._load(site)
                for other in self._creds.values():  # same source: same identity object
                    if other[0] == found[0]:
                        found = other
                        break
                self._creds[site] = found
            return found

    def _load(self, site: str) -> tuple[str, object, str | None, str]:
        env = self.context.env
        creds = self.context.credentials
        project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCLOUD_PROJECT") or None
        if env.get("STORAGE_EMULATOR_HOST"):
            return (
                "emulator",
                AnonymousCredentials(),
                project or "test",
                "anonymous (STORAGE_EMULATOR_HOST)",
            )
        path = creds.file("GOOGLE_APPLICATION_CREDENTIALS", site)
        if path is not None:
            return self._key_file(path, project, "GOOGLE_APPLICATION_CREDENTIALS")
        boto = creds.file("BOTO_CONFIG", site)
        if boto is not None:
            found = self._boto(boto, site, project)
            if found is not None:
                return found
        try:
            credentials, default_project = google.auth.default(scopes=list(SCOPES))
        except auth_exceptions.DefaultCredentialsError:
            raise CredentialError(
                "gs:// needs credentials: set GOOGLE_APPLICATION_CREDENTIALS (or "
                "GOOGLE_APPLICATION_CREDENTIALS_%s) to a service-account key file, or run "
                "'gcloud auth application-default login'" % site.replace("-", "_")
            ) from None
        return "default", credentials, project or default_project, "google-auth's default chain"

    def _key_file(self, path: str, project: str | None, variable: str):
        """A JSON key file: a service account or a user's refresh token (what gcloud writes);
        other types (workload identity federation...) through google-auth's generic loader."""
        what = "%s names %s, which is not a usable Google credentials file" % (variable, path)
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except OSError as exc:
            raise CredentialError("%s (%s)" % (what, exc.strerror)) from None
        except (ValueError, RecursionError):
            raise CredentialError("%s (not JSON)" % what) from None
        if not isinstance(info, dict):  # google-auth's loader would fail on it with a traceback
            raise CredentialError("%s (not a JSON object)" % what)
        kind = info.get("type")
        try:
            if kind == "service_account":
                credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=list(SCOPES)
                )
                file_project = info.get("project_id")
            elif kind == "authorized_user":
                credentials = user_credentials.Credentials.from_authorized_user_info(
                    info, scopes=list(SCOPES)
                )
                file_project = info.get("quota_project_id")
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    credentials, file_project = google.auth.load_credentials_from_file(
                        path, scopes=list(SCOPES)
                    )
        except (ValueError, KeyError, auth_exceptions.DefaultCredentialsError) as exc:
            # the reason names what is missing or wrong, never the key material
            if isinstance(exc, KeyError):
                reason = "missing %s" % exc
            else:
                reason = _one_line(str(exc).split("\n")[0], 120)
            if "-----" in reason or "PRIVATE" in reason:
                reason = "bad private key"
            raise CredentialError("%s (%s: %s)" % (what, kind or "unknown type", reason)) from None
        return "file:" + path, credentials, project or file_project, "%s (%s)" % (path, variable)

    def _boto(self, boto: str, site: str, project: str | None):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(boto, encoding="utf-8") as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            raise CredentialError(
                "cannot read BOTO_CONFIG %s: %s" % (boto, _one_line(exc))
            ) from None
        section = dict(parser.items("Credentials")) if parser.has_section("Credentials") else {}
        p12 = self.context.credentials.file("GOOGLE_PKCS12", site)
        key_file = p12 or (section.get("gs_service_key_file") or "").strip() or None
        if key_file is None:
            self.log.debug("gs: %s names no service-account key: using the default chain", boto)
            return None
        if p12 is None:
            check_private(key_file, "gs_service_key_file in %s" % boto)
        with open(key_file, "rb") as fh:
            is_json = fh.read(1) == b"{"
        if is_json:
            return self._key_file(key_file, project, "gs_service_key_file in %s" % boto)
        email = (section.get("gs_service_client_id") or "").strip()
        if not email:
            raise CredentialError(
                "%s: a PKCS#12 key (%s) needs gs_service_client_id (the service account's "
                "e-mail) in [Credentials]" % (boto, key_file)
            )
        password = section.get("gs_service_key_file_password") or P12_PASSWORD
        credentials = p12_credentials(key_file, email, password)
        return (
            "p12:" + key_file,
            credentials,
            project,
            "%s with %s (BOTO_CONFIG)" % (key_file, boto),
        )

    def _client(self, endpoint) -> tuple[storage.Client, str]:
        key, credentials, project, source = self._identity(endpoint.site)
        clients = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        client = clients.get(key)
        if client is None:
            client = clients[key] = storage.Client(project=project, credentials=credentials)
            with self._lock:
                self._all.append(client)
            self.log.debug("gs: client (credentials: %s, project %s)", source, project)
        return client, key

    # ------------------------------------------------------------------ errors

    def _translate(self, exc: BaseException, where: str) -> Exception:
        if isinstance(exc, (TransferError, BadInput)):
            return exc
        if isinstance(exc, (_MediaCorruption, storage_exceptions.DataCorruption)):
            return ChecksumMismatch("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, RetryError):
            cause = exc.cause or exc
            return RetryableError("%s: gave up retrying: %s" % (where, _one_line(cause)))
        if isinstance(exc, api_exceptions.GoogleAPICallError):
            detail = _reason(exc)
            if isinstance(exc, api_exceptions.NotFound):
                return NotFound("%s: not found (%s)" % (where, detail))
            if isinstance(exc, (api_exceptions.Forbidden, api_exceptions.Unauthorized)):
                return AccessDenied("%s: access denied (%s)" % (where, detail))
            code = exc.code or 0
            if isinstance(exc, (api_exceptions.TooManyRequests, api_exceptions.ServerError)) or (
                code in (408, 429) or code >= 500
            ):
                retry_after = None
                response = getattr(exc, "response", None)
                if response is not None and getattr(response, "headers", None):
                    try:
                        retry_after = float(response.headers.get("Retry-After", ""))
                    except ValueError:
                        pass
                return RetryableError("%s: %s" % (where, detail), retry_after=retry_after)
            return PermanentError("%s: %s" % (where, detail))
        if isinstance(exc, (_MediaInvalid, storage_exceptions.InvalidResponse)):
            status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
            text = "%s: %s" % (where, _reason(exc))
            if status == 404:
                return NotFound(text)
            if status in (401, 403):
                return AccessDenied(text)
            if status in (408, 429) or status >= 500 or not status:
                return RetryableError(text)
            return PermanentError(text)
        if isinstance(exc, auth_exceptions.RefreshError):
            return AccessDenied("%s: cannot get an access token: %s" % (where, _one_line(exc)))
        if isinstance(exc, auth_exceptions.DefaultCredentialsError):
            return CredentialError("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, (auth_exceptions.TransportError, requests.exceptions.RequestException)):
            return RetryableError("%s: %s" % (where, _one_line(exc)))
        if isinstance(exc, ValueError) and "project" in str(exc).lower():
            return CredentialError("%s: %s (set GOOGLE_CLOUD_PROJECT)" % (where, _one_line(exc)))
        return exc

    # ------------------------------------------------------------------ transfers

    def get(self, src, sink) -> None:
        client, _ = self._client(src)
        bucket, name = _split(src)
        if not bucket or not name:
            raise PermanentError("%s: needs a bucket and an object name" % src.url)
        blob = client.bucket(bucket).blob(name)  # no chunk_size: one streamed, checked GET
        try:
            blob.download_to_file(sink, raw_download=True, checksum=CHECKSUM, retry=RETRY)
        except Exception as exc:
            raise self._translate(exc, str(src.url)) from None

    def put(self, source, dest) -> None:
        client, _ = self._client(dest)
        bucket, name = _split(dest)
        if not bucket or not name:
            raise PermanentError("%s: needs a bucket and an object name" % dest.url)
        blob = client.bucket(bucket).blob(name, chunk_size=RESUMABLE_CHUNK)
        try:
            blob.upload_from_file(source, size=source.size, checksum=CHECKSUM, retry=RETRY)
        except Exception as exc:
            raise self._translate(exc, str(dest.url)) from None

    def copy(self, src, dest) -> None:
        sclient, skey = self._client(src)
        dclient, dkey = self._client(dest)
        sbucket, sname = _split(src)
        dbucket, dname = _split(dest)
        if not (sbucket and sname and dbucket and dname):
            raise PermanentError("%s -> %s: needs buckets and object names" % (src.url, dest.url))
        where = "%s -> %s" % (src.url, dest.url)
        try:
            source = sclient.bucket(sbucket).blob(sname)
            target = dclient.bucket(dbucket).blob(dname)
            if skey == dkey:
                # server-side; rewrite works across locations and storage classes, in steps
                self.log.debug("gs: server-side copy %s", where)
                token, _done, _total = target.rewrite(source, retry=RETRY)
                while token is not None:
                    token, _done, _total = target.rewrite(source, token=token, retry=RETRY)
                return
            self.log.debug("gs: streamed copy %s (different credentials)", where)
            source.reload(retry=RETRY)
            with source.open("rb", raw_download=True) as reader:
                target.chunk_size = RESUMABLE_CHUNK
                target.upload_from_file(reader, size=source.size, retry=RETRY)
        except Exception as exc:
            raise self._translate(exc, where) from None

    # ------------------------------------------------------------------ mkdir / remove

    def mkdir(self, target) -> None:
        """Create the URL's bucket (gsutil mb); one that exists and is ours is fine."""
        client, _ = self._client(target)
        bucket, _name = _split(target)
        if not bucket:
            raise PermanentError("%s: needs a bucket" % target.url)
        try:
            try:
                client.create_bucket(bucket, retry=RETRY)
            except api_exceptions.Conflict:
                client.get_bucket(bucket, retry=RETRY)  # Forbidden when it is someone else's
                self.log.debug("gs: bucket %s already exists", bucket)
        except Exception as exc:
            raise self._translate(exc, str(target.url)) from None

    def remove(self, target, recursive: bool) -> None:
        """An object; recursively the object and everything under ``name/``.  A bucket URL
        removes the bucket (recursively: its objects first).  What is gone counts as removed."""
        client, _ = self._client(target)
        bucket_name, name = _split(target)
        if not bucket_name:
            raise PermanentError("%s: needs a bucket" % target.url)
        bucket = client.bucket(bucket_name)
        try:
            if recursive:
                self._remove_tree(client, bucket, name)
            elif name:
                bucket.blob(name).delete(retry=RETRY)
            else:
                bucket.delete(retry=RETRY)
        except api_exceptions.NotFound:
            self.log.debug("gs: %s: already gone", target.url)
        except Exception as exc:
            raise self._translate(exc, str(target.url)) from None

    def _remove_tree(self, client, bucket, name: str) -> None:
        if name and not name.endswith("/"):
            try:
                bucket.blob(name).delete(retry=RETRY)
            except api_exceptions.NotFound:
                pass
            prefix = name + "/"
        else:
            prefix = name
        listing = client.list_blobs(bucket, prefix=prefix or None, retry=RETRY)
        names = [blob.name for blob in listing]
        for start in range(0, len(names), DELETE_BATCH):
            chunk = names[start : start + DELETE_BATCH]
            with client.batch(raise_exception=False) as batch:
                for item in chunk:
                    bucket.blob(item).delete()
            failures = [
                r for r in getattr(batch, "_responses", ())
                if getattr(r, "status_code", 200) >= 300 and r.status_code != 404
            ]  # fmt: skip
            if failures:
                first = failures[0]
                text = "could not delete %d of %d objects in gs://%s (HTTP %s)" % (
                    len(failures), len(chunk), bucket.name, first.status_code,
                )  # fmt: skip
                if first.status_code in (401, 403):
                    raise AccessDenied(text)
                raise RetryableError(text)
        self.log.debug("gs: removed %d objects under gs://%s/%s", len(names), bucket.name, name)
        if not name:
            bucket.delete(retry=RETRY)

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            try:
                client.close()
            except Exception:  # closing must not hide the run's outcome
                pass
