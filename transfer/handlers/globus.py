"""go:// and globus:// (``go://<endpoint-uuid>/path``): Globus Transfer through globus-sdk.

Globus moves data between two Globus endpoints, never to or from this node's files, so the
only transfer is a server-side ``copy`` from one go:// URL to another.  The engine calls
``copy`` once per file from its worker threads; Globus is built for one task per batch, so
calls that arrive close together are gathered (``Batcher``) into one TransferData task per
(credentials, source endpoint, destination endpoint), submitted once and waited for; each
caller then gets its own file's result (``successful_transfers`` / ``skipped_errors``).
Removes are batched the same way into DeleteData tasks; mkdir walks up to an existing
parent with ``operation_ls`` and creates each missing level, as pegasus-globus-online does.

Token: the ``[oauth]`` section written by pegasus-globus-online-init (``client_id``,
``transfer_at``, ``transfer_rt``, ``transfer_at_exp``) in ``~/.pegasus/globus.conf``, or in
the file named by ``PEGASUS_GLOBUS_CONF_<site>`` / ``PEGASUS_GLOBUS_CONF`` (our addition,
following Pegasus's ``NAME_<site>`` then ``NAME`` rule; the source URL's site decides).  A
refresh token gives a RefreshTokenAuthorizer, else the access token is used as is.
``GLOBUS_SDK_SERVICE_URL_TRANSFER`` (globus-sdk's own variable) points the client elsewhere.
Endpoint auto-activation (Globus Connect Server v4, retired) is not called.
"""

from __future__ import annotations

import configparser
import datetime
import os
import re
import threading
import time

import globus_sdk

from ..credentials import check_private
from ..errors import (
    AccessDenied,
    BadInput,
    CredentialError,
    NotFound,
    PermanentError,
    RetryableError,
)
from .base import Handler

CONF_VARIABLE = "PEGASUS_GLOBUS_CONF"
BATCH_WINDOW = 0.2  # seconds without a new file before a batch is submitted
BATCH_MAX = 1000  # files per Globus task
TASK_TIMEOUT = 6 * 3600  # Pegasus's per-command limit; the task is cancelled after it
TASK_DEADLINE = datetime.timedelta(hours=24)  # what pegasus-globus-online asks Globus for
STALL_GRACE = 60  # an ACTIVE task reporting an error for this long is given up (as Pegasus)
POLL_MAX = 30


class _Item:
    __slots__ = ("done", "error", "payload")

    def __init__(self, payload: tuple):
        self.payload = payload
        self.error: BaseException | None = None
        self.done = False


class _Batch:
    __slots__ = ("closed", "items", "last")

    def __init__(self):
        self.items: list[_Item] = []
        self.last = time.monotonic()
        self.closed = False


class Batcher:
    """Gathers concurrent calls with the same key into one batch, run once.

    The first caller of a key leads: it waits until no item has joined for ``window``
    seconds (or the batch holds ``limit`` or ``full_at`` items), closes the batch, runs
    ``run(key, items)`` (which sets each item's ``error``, None for success) and wakes the
    others.  Every caller gets its own item's outcome; an exception from ``run`` is every
    unfinished item's error.
    """

    def __init__(self, run, window: float = BATCH_WINDOW, limit: int = BATCH_MAX, full_at=None):
        self.run = run
        self.window = window
        self.limit = limit
        self.full_at = full_at or limit
        self.cond = threading.Condition()
        self.open: dict[tuple, _Batch] = {}

    def submit(self, key: tuple, payload: tuple) -> None:
        item = _Item(payload)
        with self.cond:
            batch = self.open.get(key)
            leader = batch is None or batch.closed or len(batch.items) >= self.limit
            if leader:
                batch = self.open[key] = _Batch()
            batch.items.append(item)
            batch.last = time.monotonic()
            self.cond.notify_all()
            if leader:
                while len(batch.items) < min(self.limit, self.full_at):
                    remaining = batch.last + self.window - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                batch.closed = True
                if self.open.get(key) is batch:
                    del self.open[key]
            else:
                while not item.done:
                    self.cond.wait()
        if leader:
            try:
                self.run(key, batch.items)
            except BaseException as exc:  # every waiting caller must hear about it
                for other in batch.items:
                    if other.error is None:
                        other.error = exc
                if not isinstance(exc, Exception):
                    raise
            finally:
                with self.cond:
                    for other in batch.items:
                        other.done = True
                    self.cond.notify_all()
        if item.error is not None:
            raise item.error


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split())


class GlobusHandler(Handler):
    schemes = ("go", "globus")
    # can_get only so that the engine reaches copy() for go -> go: it asks the source
    # handler for can_get before it looks at can_copy.  get() itself refuses clearly.
    can_get = True
    can_put = False
    can_copy = True
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        # One instance for every endpoint and site: a go -> go copy between two endpoints
        # must find the same handler on both sides, and batches span them all.
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        self.lock = threading.Lock()
        self.local = threading.local()
        self.authorizers: dict[str, object] = {}
        self.transfers = Batcher(self._run_transfer, full_at=context.threads)
        self.deletes = Batcher(self._run_delete, full_at=context.threads)
        env = context.env
        label = None
        if env.get("PEGASUS_WF_UUID") and env.get("PEGASUS_DAG_JOB_ID"):
            label = "%s - %s" % (env["PEGASUS_WF_UUID"], env["PEGASUS_DAG_JOB_ID"])
        # Globus labels allow letters, digits, spaces, '-', '_' and ',' (128 at most)
        self.label = re.sub(r"[^\w ,\-]", "_", label)[:128] if label else "pegasus-transfer"

    # ------------------------------------------------------------------ credentials

    def _conf_path(self, site: str | None) -> str:
        named = self.context.credentials.file(CONF_VARIABLE, site)
        if named:
            return named
        home = self.context.env.get("HOME") or os.path.expanduser("~")
        path = os.path.join(home, ".pegasus", "globus.conf")
        if not os.path.exists(path):
            raise CredentialError(
                "go:// URLs need a Globus token: %s does not exist (run "
                "pegasus-globus-online-init, or set %s)" % (path, CONF_VARIABLE)
            )
        check_private(path, "~/.pegasus/globus.conf")
        return path

    def _authorizer(self, path: str):
        with self.lock:
            if path in self.authorizers:
                return self.authorizers[path]
            config = configparser.ConfigParser(interpolation=None)
            try:
                with open(path, encoding="utf-8") as fh:
                    config.read_file(fh)
            except (OSError, configparser.Error) as exc:
                raise CredentialError(
                    "cannot read the Globus token file %s: %s"
                    % (path, _one_line(getattr(exc, "strerror", None) or exc))
                ) from None
            oauth = dict(config.items("oauth")) if config.has_section("oauth") else {}
            # pegasus-globus-online-init writes the string "None" when it got no refresh token
            access = (oauth.get("transfer_at") or "").strip()
            refresh = (oauth.get("transfer_rt") or "").strip()
            access = "" if access == "None" else access
            refresh = "" if refresh == "None" else refresh
            try:
                expires = int(float(oauth.get("transfer_at_exp") or 0))
            except ValueError:
                raise CredentialError(
                    "%s: [oauth] transfer_at_exp is not a number of seconds" % path
                ) from None
            if refresh:
                client_id = (oauth.get("client_id") or "").strip()
                if not client_id:
                    raise CredentialError("%s: [oauth] has a transfer_rt but no client_id" % path)
                client = globus_sdk.NativeAppAuthClient(client_id)
                authorizer = globus_sdk.RefreshTokenAuthorizer(
                    refresh,
                    client,
                    access_token=access or None,
                    expires_at=expires if access else None,
                )
            elif access:
                if expires and expires < time.time():
                    raise CredentialError(
                        "the Globus access token in %s expired at %s and there is no "
                        "refresh token: run pegasus-globus-online-init"
                        % (path, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expires)))
                    )
                authorizer = globus_sdk.AccessTokenAuthorizer(access)
            else:
                raise CredentialError(
                    "%s has no [oauth] transfer_at or transfer_rt: run "
                    "pegasus-globus-online-init" % path
                )
            self.authorizers[path] = authorizer
            return authorizer

    def _client(self, path: str) -> globus_sdk.TransferClient:
        """One TransferClient (one HTTP session) per thread and token file."""
        clients = self.local.__dict__.setdefault("clients", {})
        client = clients.get(path)
        if client is None:
            client = clients[path] = globus_sdk.TransferClient(
                authorizer=self._authorizer(path), transport_params={"max_retries": 2}
            )
        return client

    # ------------------------------------------------------------------ errors

    def _error(self, exc: Exception, what: str, conf: str):
        """A globus-sdk exception as one of ours."""
        if isinstance(exc, globus_sdk.GlobusAPIError):
            status = exc.http_status
            code = exc.code or "Error"
            text = "%s: %s %s: %s" % (what, status, code, _one_line(exc.message))
            if status == 401:
                return CredentialError(
                    "%s: Globus rejected the token from %s (%s %s): run "
                    "pegasus-globus-online-init" % (what, conf, status, code)
                )
            if status == 403:
                return AccessDenied(text)
            if status == 404 or "NotFound" in code:
                return NotFound(text)
            if status == 429 or status >= 500:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                try:
                    seconds = float(retry_after) if retry_after else None
                except ValueError:
                    seconds = None
                return RetryableError(text, retry_after=seconds)
            return PermanentError(text)
        if isinstance(exc, globus_sdk.NetworkError):
            return RetryableError("%s: cannot reach Globus: %s" % (what, _one_line(exc)))
        if isinstance(exc, globus_sdk.GlobusError):
            return PermanentError("%s: %s" % (what, _one_line(exc)))
        return exc

    @staticmethod
    def _endpoint(endpoint) -> tuple[str, str]:
        url = endpoint.url
        if not url.host or url.port is not None:
            raise PermanentError(
                "%s: a Globus URL is go://<endpoint-uuid>/path (no port, no user)" % url
            )
        return url.host, url.path

    # ------------------------------------------------------------------ engine calls

    def get(self, src, sink) -> None:
        raise BadInput(
            "go:// does not support get (%s): Globus copies only between Globus endpoints "
            "(go:// to go://, and then without an expected checksum); reach local files "
            "through a Globus Connect Personal endpoint" % src.url
        )

    def copy(self, src, dest) -> None:
        if dest.url.scheme not in self.schemes:
            raise BadInput("go:// can only be copied to go:// (not to %s)" % dest.url)
        src_ep, src_path = self._endpoint(src)
        dst_ep, dst_path = self._endpoint(dest)
        conf = self._conf_path(src.site)
        self._authorizer(conf)  # a bad token file fails here, before any batching
        self.transfers.submit((conf, src_ep, dst_ep), (src_path, dst_path, str(src.url)))

    def remove(self, target, recursive: bool) -> None:
        endpoint, path = self._endpoint(target)
        conf = self._conf_path(target.site)
        self._authorizer(conf)
        self.deletes.submit((conf, endpoint, bool(recursive)), (path, str(target.url)))

    def mkdir(self, target) -> None:
        endpoint, path = self._endpoint(target)
        conf = self._conf_path(target.site)
        client = self._client(conf)
        path = path.rstrip("/") or "/"
        what = "mkdir %s" % target.url
        missing = []
        base = path
        while base != "/":  # walk up to a directory that exists
            try:
                client.operation_ls(endpoint, path=base, limit=2)
                break
            except globus_sdk.GlobusAPIError as exc:
                if exc.http_status == 404 or "NotFound" in (exc.code or ""):
                    missing.append(base)
                    base = os.path.dirname(base) or "/"
                    continue
                raise self._error(exc, what, conf) from None
            except globus_sdk.GlobusError as exc:
                raise self._error(exc, what, conf) from None
        for directory in reversed(missing):
            try:
                client.operation_mkdir(endpoint, directory)
            except globus_sdk.GlobusAPIError as exc:
                if exc.code == "ExternalError.MkdirFailed.Exists":
                    continue  # made meanwhile by another mkdir
                raise self._error(exc, what, conf) from None
            except globus_sdk.GlobusError as exc:
                raise self._error(exc, what, conf) from None

    # ------------------------------------------------------------------ batches

    def _deadline(self) -> str:
        when = datetime.datetime.now(datetime.timezone.utc) + TASK_DEADLINE
        return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def _run_transfer(self, key: tuple, items: list[_Item]) -> None:
        conf, src_ep, dst_ep = key
        what = "Globus transfer %s -> %s" % (src_ep, dst_ep)
        client = self._client(conf)
        try:
            data = globus_sdk.TransferData(
                source_endpoint=src_ep,
                destination_endpoint=dst_ep,
                label=self.label,
                deadline=self._deadline(),
                verify_checksum=True,
                skip_source_errors=True,  # a missing file fails alone, not the whole task
                notify_on_succeeded=False,
                notify_on_failed=False,
                notify_on_inactive=False,
            )
            for item in items:
                data.add_item(item.payload[0], item.payload[1])
            task_id = client.submit_transfer(data)["task_id"]
            self.log.info(
                "Globus task %s: %d file(s) %s -> %s", task_id, len(items), src_ep, dst_ep
            )
            task = self._wait(client, task_id, what, conf)
            skipped = {}
            if task.get("files_skipped") or task["status"] != "SUCCEEDED":
                for entry in client.paginated.task_skipped_errors(task_id).items():
                    skipped[entry.get("source_path")] = entry
            done: set[str] = set()
            if task["status"] != "SUCCEEDED":
                for entry in client.paginated.task_successful_transfers(task_id).items():
                    done.add(entry.get("source_path"))
                    done.add(entry.get("destination_path"))
        except globus_sdk.GlobusError as exc:
            raise self._error(exc, what, conf) from None
        for item in items:
            src_path, dst_path, shown = item.payload
            entry = skipped.get(src_path)
            if entry is not None:
                code = entry.get("error_code") or "error"
                details = _one_line(entry.get("error_details"))
                item.error = _task_error(
                    code, "%s: Globus skipped it (%s)%s" % (shown, code, details and ": " + details)
                )
            elif task["status"] != "SUCCEEDED" and not {src_path, dst_path} & done:
                item.error = _task_failure(task, shown)

    def _run_delete(self, key: tuple, items: list[_Item]) -> None:
        conf, endpoint, recursive = key
        what = "Globus delete on %s" % endpoint
        client = self._client(conf)
        try:
            data = globus_sdk.DeleteData(
                endpoint=endpoint,
                label=self.label,
                recursive=recursive,
                ignore_missing=True,  # rm -f: a path already gone is removed
                deadline=self._deadline(),
                notify_on_succeeded=False,
                notify_on_failed=False,
                notify_on_inactive=False,
            )
            for item in items:
                data.add_item(item.payload[0])
            task_id = client.submit_delete(data)["task_id"]
            self.log.info("Globus delete task %s: %d path(s) on %s", task_id, len(items), endpoint)
            task = self._wait(client, task_id, what, conf)
        except globus_sdk.GlobusError as exc:
            raise self._error(exc, what, conf) from None
        if task["status"] != "SUCCEEDED":
            for item in items:  # Globus reports no per-path outcome for a delete task
                item.error = _task_failure(task, item.payload[1])

    def _wait(self, client, task_id: str, what: str, conf: str) -> dict:
        """Poll until the task ends (1 s, then less often), give up after TASK_TIMEOUT or
        when an active task has reported an error for STALL_GRACE seconds."""
        started = time.monotonic()
        interval = 1
        while not client.task_wait(task_id, timeout=interval, polling_interval=interval):
            waited = time.monotonic() - started
            task = client.get_task(task_id)
            nice = task.get("nice_status")
            stalled = nice not in (None, "OK", "Queued") and waited >= STALL_GRACE
            if stalled or waited >= TASK_TIMEOUT:
                self._cancel(client, task_id)
                reason = (
                    "reports %s: %s" % (nice, _one_line(task.get("nice_status_short_description")))
                    if stalled
                    else "did not finish in %d s" % TASK_TIMEOUT
                )
                raise _task_error(nice, "%s: task %s %s; cancelled" % (what, task_id, reason))
            self.log.debug("Globus task %s still running (%.0f s, %s)", task_id, waited, nice)
            interval = min(interval * 2, POLL_MAX)
        task = client.get_task(task_id)
        if task["status"] not in ("SUCCEEDED", "FAILED"):  # INACTIVE: needs a human
            self._cancel(client, task_id)
            raise RetryableError(
                "%s: task %s is %s (%s); cancelled"
                % (what, task_id, task["status"], task.get("nice_status"))
            )
        return task

    def _cancel(self, client, task_id: str) -> None:
        try:
            client.cancel_task(task_id)
        except globus_sdk.GlobusError as exc:
            self.log.debug("cancelling Globus task %s: %s", task_id, exc)


def _task_error(code: object, message: str) -> Exception:
    code = str(code or "").upper()
    if "NOT_FOUND" in code or "NOTFOUND" in code:
        return NotFound(message)
    if "PERMISSION" in code or "DENIED" in code or "FORBIDDEN" in code:
        return AccessDenied(message)
    return RetryableError(message)


def _task_failure(task: dict, shown: str) -> Exception:
    fatal = task.get("fatal_error") or {}
    code = fatal.get("code") or task.get("nice_status") or task.get("status")
    detail = _one_line(fatal.get("description")) or "no file-level detail"
    return _task_error(
        code,
        "%s: Globus task %s %s: %s %s" % (shown, task.get("task_id"), task["status"], code, detail),
    )
