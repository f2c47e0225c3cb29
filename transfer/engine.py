"""Run a list of transfers, mkdirs and removes: in parallel, with retries, atomically.

Order: every mkdir, then every transfer, then every remove (Pegasus refuses mixed lists;
this order is what a mixed list means).  Each transfer walks its sources by priority:
a permanent error drops that source, a transient one leaves it for the next round, a
checksum mismatch is re-fetched at once (a second mismatch drops the source); rounds
are separated by exponential backoff with jitter (about 1 s, then 2, 4 ... capped), or by
the server's Retry-After.  A local destination is written under a temporary name and
renamed only when complete and verified, so a failure never leaves a partial file.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import integrity
from .errors import (
    BadInput,
    ChecksumMismatch,
    NotFound,
    PermanentError,
    RetryableError,
    TransferError,
)
from .handlers.base import Context, Handler
from .inputs import Endpoint, Mkdir, Remove, Transfer
from .registry import handler_class
from .report import Attempt, Report
from .streams import AtomicFile, HashingReader
from .urls import redact

log = logging.getLogger("pegasus-transfer")

BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 300.0
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
GIVE_UP_AFTER = 10  # finished transfers before the failure ratio is judged
GIVE_UP_RATIO = 0.8


class HandlerPool:
    """One handler instance per session key (scheme, host, user, site): connections reused."""

    def __init__(self, context: Context):
        self.context = context
        self.instances: dict[tuple, Handler] = {}
        self.lock = threading.Lock()

    def get(self, endpoint: Endpoint) -> Handler:
        cls = handler_class(endpoint.url.scheme)
        key = cls.session_key(endpoint)
        with self.lock:
            handler = self.instances.get(key)
            if handler is None:
                handler = self.instances[key] = cls(self.context)
        return handler

    def close(self) -> None:
        for handler in self.instances.values():
            try:
                handler.close()
            except Exception as exc:  # closing must not hide the run's real outcome
                log.debug("closing %s: %s", type(handler).__name__, exc)


def backoff(round_number: int, retry_after: float | None) -> float:
    delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (round_number - 1)) * random.uniform(0.5, 1.5)
    if retry_after:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def describe_error(exc: BaseException) -> str:
    """One line for logs and reports, its URLs redacted whatever library wrote it."""
    text = str(exc) or type(exc).__name__
    return redact(" ".join(text.split()))


class Engine:
    def __init__(
        self,
        context: Context,
        max_attempts: int = 3,
        threads: int = 8,
        symlink: bool = False,
        report: Report | None = None,
        always_hash: bool = False,
        meta_dir: str | None = ".",
    ):
        self.context = context
        self.max_attempts = max(1, max_attempts)
        self.threads = max(1, threads)
        self.symlink = symlink
        self.report = report or Report(progress=False)
        self.always_hash = always_hash
        self.handlers = HandlerPool(context)
        self.expected = integrity.load_meta_dir(meta_dir) if meta_dir else {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.finished = 0
        self.failed = 0
        self.generated: set[str] = set()
        self.concurrency = 1  # transfers that may run at once in the current batch

    # ------------------------------------------------------------------ running

    def run(self, entries: list) -> bool:
        """True when every entry succeeded."""
        mkdirs = [e for e in entries if isinstance(e, Mkdir)]
        transfers = [e for e in entries if isinstance(e, Transfer)]
        removes = [e for e in entries if isinstance(e, Remove)]
        self.report.total_transfers = len(transfers)
        self._preflight(entries)
        ok = True
        try:
            for batch, work in (
                (mkdirs, self._mkdir),
                (transfers, self._transfer),
                (removes, self._remove),
            ):
                if batch:
                    ok = self._parallel(batch, work) and ok
        finally:
            self.handlers.close()
        return ok

    def _preflight(self, entries: list) -> None:
        """Every scheme known, its library importable and its credentials readable, before a
        single byte moves: a bad request fails whole, not halfway through."""
        for entry in entries:
            endpoints = (
                entry.sources + entry.dests if isinstance(entry, Transfer) else [entry.target]
            )
            for endpoint in endpoints:
                if not endpoint.url.is_local:
                    self.handlers.get(endpoint)

    def _parallel(self, items: list, work) -> bool:
        self.concurrency = min(self.threads, len(items))
        if len(items) == 1 or self.threads == 1:
            return all([work(item) for item in items])
        pool = ThreadPoolExecutor(min(self.threads, len(items)))
        try:
            results = list(pool.map(work, items))
        except BaseException:
            # interrupted (a signal, a bad request): start nothing more and do not wait
            # for transfers in flight; they see self.stop and end on their own
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return all(results)

    def _count(self, success: bool) -> None:
        with self.lock:
            self.finished += 1
            if not success:
                self.failed += 1
            if (
                not self.stop.is_set()
                and self.finished > GIVE_UP_AFTER
                and self.failed > GIVE_UP_RATIO * self.finished
            ):
                log.error("Too many failures to continue trying - exiting early")
                self.stop.set()

    # ------------------------------------------------------------------ mkdir / remove

    def _simple(self, entry: Mkdir | Remove, action) -> bool:
        if self.stop.is_set():
            return False
        for round_number in range(1, self.max_attempts + 1):
            try:
                handler = self.handlers.get(entry.target)
                action(handler)
                log.debug("%s: done", entry.describe())
                return True
            except BadInput:
                raise
            except PermanentError as exc:
                log.error("%s failed: %s", entry.describe(), describe_error(exc))
                return False
            except Exception as exc:
                log.warning(
                    "%s failed (try %d): %s", entry.describe(), round_number, describe_error(exc)
                )
                if round_number < self.max_attempts and self.stop.wait(backoff(round_number, None)):
                    return False
        return False

    def _mkdir(self, entry: Mkdir) -> bool:
        return self._simple(
            entry, lambda h: self._require(h, "can_mkdir", entry.target).mkdir(entry.target)
        )

    def _remove(self, entry: Remove) -> bool:
        return self._simple(
            entry,
            lambda h: self._require(h, "can_remove", entry.target).remove(
                entry.target, entry.recursive
            ),
        )

    @staticmethod
    def _require(handler: Handler, capability: str, endpoint: Endpoint) -> Handler:
        if not getattr(handler, capability):
            verb = capability[4:]
            raise BadInput(
                "%s:// does not support %s (%s)" % (endpoint.url.scheme, verb, endpoint.url)
            )
        return handler

    # ------------------------------------------------------------------ transfers

    def _transfer(self, transfer: Transfer) -> bool:
        try:
            ok = self._transfer_with_retries(transfer)
        finally:
            self.report.transfer_finished()
        self._count(ok)
        return ok

    def _transfer_with_retries(self, transfer: Transfer) -> bool:
        dest = transfer.dests[0]
        expected = transfer.checksum or (self.expected.get(transfer.lfn) if transfer.lfn else None)
        live = list(transfer.sources)
        last_error = "not attempted"
        for round_number in range(1, self.max_attempts + 1):
            retry_after = None
            for src in list(live):
                if self.stop.is_set():
                    log.error(
                        "%s: not attempted: too many other transfers failed", transfer.describe()
                    )
                    return False
                attempt, exc = self._attempt(transfer, src, dest, expected)
                if exc is None:
                    log.debug(
                        "%s: %d bytes in %.3f s",
                        transfer.describe(),
                        attempt.bytes,
                        attempt.duration,
                    )
                    return True
                last_error = attempt.error
                log.warning(
                    "%s (%s -> %s) failed on try %d: %s",
                    transfer.lfn or "transfer", src.url, dest.url, round_number, last_error,
                )  # fmt: skip
                if isinstance(exc, ChecksumMismatch):
                    # worth one immediate re-fetch of the same source; a second mismatch
                    # means the source itself is bad (dropped: the others are tried), any
                    # other failure of the re-fetch is judged as usual, with the rounds left
                    attempt, exc = self._attempt(transfer, src, dest, expected)
                    if exc is None:
                        return True
                    last_error = attempt.error
                    log.warning(
                        "%s (%s -> %s) failed on its re-fetch: %s",
                        transfer.lfn or "transfer", src.url, dest.url, last_error,
                    )  # fmt: skip
                    if isinstance(exc, ChecksumMismatch):
                        live.remove(src)
                        continue
                if isinstance(exc, PermanentError):
                    live.remove(src)
                elif isinstance(exc, TransferError):
                    retry_after = max(retry_after or 0, exc.retry_after or 0) or None
            if not live or round_number == self.max_attempts:
                break
            if self.stop.wait(backoff(round_number, retry_after)):
                break
        log.error("%s: giving up: %s", transfer.describe(), last_error)
        return False

    def _attempt(
        self, transfer: Transfer, src: Endpoint, dest: Endpoint, expected: str | None
    ) -> tuple[Attempt, Exception | None]:
        """One try, timed and reported; the error it ended with, if any (BadInput escapes:
        the whole request is wrong).  A library's own exception counts as transient."""
        attempt = Attempt(transfer, src, dest)
        started = time.monotonic()
        error = None
        try:
            self._copy(transfer, src, dest, expected, attempt)
            attempt.success = True
        except BadInput:
            raise
        except TransferError as exc:
            error = exc
            attempt.error = describe_error(exc)
        except OSError as exc:
            if exc.errno in _NO_SPACE:  # a full disk stays full a second later: no retries
                where = exc.filename or dest.url
                error = PermanentError("no space left on device: cannot write %s (%s)"
                                       % (where, os.strerror(exc.errno)))  # fmt: skip
                attempt.error = str(error)
            else:
                error = exc
                attempt.error = "%s: %s" % (type(exc).__name__, describe_error(exc))
        except Exception as exc:
            error = exc
            attempt.error = "%s: %s" % (type(exc).__name__, describe_error(exc))
        finally:
            attempt.duration = time.monotonic() - started
            self.report.add(attempt)
        return attempt, error

    # ------------------------------------------------------------------ one copy

    def _copy(
        self,
        transfer: Transfer,
        src: Endpoint,
        dest: Endpoint,
        expected: str | None,
        attempt: Attempt,
    ) -> None:
        s, d = src.url, dest.url
        hashing = bool(expected or transfer.generate_checksum or self.always_hash)
        if d.scheme == "symlink" or (self.symlink and s.scheme == "file" and d.scheme == "file"):
            if s.is_local:
                self._symlink(transfer, s.path, d.path)
                return
            d = d.__class__("file://" + d.path)  # a remote source cannot be linked: copy it
            dest = Endpoint(d, dest.site)
        if d.scheme == "moveto":
            self._move(s.path, d.path, attempt)
            return
        if s.is_local and d.is_local:
            self._local_copy(s.path, d.path, hashing, expected, attempt)
        elif s.is_local:
            self._upload(transfer, s.path, dest, expected, attempt)
        elif d.is_local:
            handler = self._capable(src, "can_get")
            # always hashed: the report then gives every download's sha256 (provenance); a
            # network copy is rarely faster than sha256 (~1.4 GB/s a core here)
            sink = AtomicFile(d.path)
            try:
                handler.get(src, sink)
                self._finish_local(sink, expected, None, attempt)
            finally:
                sink.close()
        else:
            self._remote_to_remote(transfer, src, dest, expected, attempt)
        if transfer.generate_checksum and transfer.lfn and attempt.sha256:
            local = s.path if s.is_local else d.path if d.is_local else None
            self._generate(transfer, local, attempt.sha256, attempt.duration)

    def _local_copy(
        self, src: str, dst: str, hashing: bool, expected: str | None, attempt: Attempt
    ) -> None:
        sink = AtomicFile(dst, hashing=hashing)
        try:
            try:
                # one copy at a time: hash and write in two threads; several at once: each in
                # its own thread, which keeps the cores busy with less system time
                sink.absorb(src, pipeline=self.concurrency == 1)
            except FileNotFoundError:
                raise NotFound("source %s does not exist" % src) from None
            except IsADirectoryError:
                raise PermanentError("source %s is a directory" % src) from None
            self._finish_local(sink, expected, src, attempt)
        finally:
            sink.close()

    def _finish_local(
        self, sink: AtomicFile, expected: str | None, src_path: str | None, attempt: Attempt
    ) -> None:
        mode = None
        if src_path is not None:
            mode = os.stat(src_path).st_mode & 0o7777  # a copied executable stays executable
        sink.commit(expected, mode)
        attempt.bytes = sink.size
        attempt.sha256 = sink.sha256

    def _capable(self, endpoint: Endpoint, capability: str) -> Handler:
        return self._require(self.handlers.get(endpoint), capability, endpoint)

    def _upload(
        self, transfer: Transfer, path: str, dest: Endpoint, expected: str | None, attempt: Attempt
    ) -> None:
        handler = self._capable(dest, "can_put")
        reader = HashingReader(path)
        try:
            handler.put(reader, dest)
            attempt.bytes = reader.size
            attempt.sha256 = reader.sha256
        finally:
            reader.close()
        if expected and attempt.sha256 and attempt.sha256 != expected:
            raise ChecksumMismatch(
                "checksum mismatch for %s: expected sha256 %s, sent %s"
                % (path, expected, attempt.sha256)
            )
        if transfer.verify_checksum_remote:
            self._verify_remote(handler, transfer, dest, expected or attempt.sha256)

    def _verify_remote(
        self, handler: Handler, transfer: Transfer, dest: Endpoint, expected: str | None
    ) -> None:
        """Read the object back (or ask the service) and compare, as verify_checksum_remote asks."""
        if not expected:
            return
        remote = handler.remote_sha256(dest)
        if remote is None:
            if not handler.can_get:
                log.info("Skipping integrity check of %s: cannot read it back", dest.url)
                return
            fd, tmp = tempfile.mkstemp(prefix="pegasus-transfer-", suffix=".verify")
            os.close(fd)
            sink = AtomicFile(tmp)
            try:
                handler.get(dest, sink)
                remote = sink.sha256
            finally:
                sink.close()
                os.unlink(tmp)
        if remote != expected:
            raise ChecksumMismatch(
                "remote checksum mismatch for %s: expected sha256 %s, found %s"
                % (dest.url, expected, remote)
            )

    def _remote_to_remote(
        self,
        transfer: Transfer,
        src: Endpoint,
        dest: Endpoint,
        expected: str | None,
        attempt: Attempt,
    ) -> None:
        source_handler = self.handlers.get(src)
        dest_handler = self.handlers.get(dest)
        if source_handler is dest_handler and source_handler.can_copy and not expected:
            source_handler.copy(src, dest)  # server side: the bytes never come here
            return
        self._require(source_handler, "can_get", src)
        # two-stage: through a local temporary file
        fd, tmp = tempfile.mkstemp(prefix="pegasus-transfer-", suffix=".data")
        os.close(fd)
        try:
            sink = AtomicFile(tmp, hashing=bool(expected))
            try:
                source_handler.get(src, sink)
                sink.commit(expected)
            finally:
                sink.close()
            self._upload(transfer, tmp, dest, expected, attempt)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _symlink(self, transfer: Transfer, target: str, link: str) -> None:
        if transfer.verify_symlink_source and not os.path.exists(target):
            raise NotFound("symlink source %s does not exist" % target)
        if os.path.abspath(target) == os.path.abspath(link):
            return  # already in place (Pegasus: same file, nothing to do)
        os.makedirs(os.path.dirname(link) or ".", exist_ok=True)
        tmp = "%s.link-%s" % (link, os.urandom(3).hex())
        os.symlink(target, tmp)
        try:
            os.replace(tmp, link)
        except OSError:
            os.unlink(tmp)
            raise

    def _move(self, src: str, dst: str, attempt: Attempt) -> None:
        if not os.path.exists(src):
            raise NotFound("source %s does not exist" % src)
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        attempt.bytes = os.path.getsize(src)
        try:
            os.replace(src, dst)
        except OSError:  # another file system: copy under a temporary name, then remove
            sink = AtomicFile(dst, hashing=False)
            try:
                sink.absorb(src)
                sink.commit(None, os.stat(src).st_mode & 0o7777)
            finally:
                sink.close()
            os.unlink(src)
        print(dst, flush=True)  # Pegasus's moveto prints where the file went

    def _generate(self, transfer: Transfer, local: str | None, sha256: str, seconds: float) -> None:
        """generate_checksum: the fullstat block for kickstart, from the hash we already have."""
        with self.lock:
            if transfer.lfn in self.generated or local is None:
                return
            self.generated.add(transfer.lfn)
        block = integrity.fullstat_yaml(transfer.lfn, local, sha256, seconds)
        target = os.environ.get("KICKSTART_INTEGRITY_DATA")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(block)
        else:
            log.debug("checksum of %s: %s", transfer.lfn, sha256)


def remove_local(path: str, recursive: bool) -> None:
    """rm -f [-r]: a path that is already gone is a success."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            if not recursive:
                raise PermanentError("%s is a directory (a recursive remove is needed)" % path)
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError)
