"""ftp://: get, put, mkdir and remove with the standard library's ftplib.

Anonymous login unless the URL carries ``user:password``.  ftplib objects are not
thread-safe, so each handler instance (one per host, user and site) keeps a small pool of
logged-in connections: a worker takes one, uses it alone and gives it back.  A pooled
connection the server has meanwhile closed is replaced once, transparently.

Paths follow RFC 1738 as wget and curl read them: ``ftp://host/dir/file`` is ``dir/file``
relative to the login directory; ``%2F`` at the start makes a path absolute.
"""

from __future__ import annotations

import ftplib
import posixpath
import threading
from urllib.parse import unquote

from ..errors import AccessDenied, NotFound, PermanentError, RetryableError, TransferError
from .base import Handler

CHUNK = 1 << 20
TIMEOUT = 300.0
_DENIED_WORDS = ("privilege", "permission", "denied", "not allowed", "read-only", "read only")


def ftp_path(url) -> str:
    """The path to hand the server: relative to the login directory unless %2F-absolute."""
    path = unquote(url.path[1:] if url.path.startswith("/") else url.path)
    return path or "."


def perm_error(exc: ftplib.Error, what: str) -> TransferError:
    """A 5xx reply as a ``transfer.errors`` class."""
    text = " ".join(str(exc).split())
    code = text[:3]
    message = "%s: %s" % (what, text)
    lowered = text.lower()
    if code in ("530", "532") or any(word in lowered for word in _DENIED_WORDS):
        return AccessDenied(message)
    if code == "550":
        return NotFound(message)
    return PermanentError(message)


class _Gone(Exception):
    """A pooled connection turned out to be dead before anything was transferred."""


class FtpHandler(Handler):
    schemes = ("ftp",)
    can_get = True
    can_put = True
    can_mkdir = True
    can_remove = True

    def __init__(self, context):
        super().__init__(context)
        self._idle: list[ftplib.FTP] = []
        self._lock = threading.Lock()
        self._max_idle = max(2, context.threads)
        self._dirs: set[str] = set()  # directories known to exist

    # ------------------------------------------------------------------ connections

    def _connect(self, url) -> ftplib.FTP:
        user = url.user or "anonymous"
        if url.password is not None:
            password = url.password
        else:
            password = "anonymous@" if user in ("anonymous", "ftp") else ""
        ftp = ftplib.FTP(timeout=TIMEOUT)
        where = "ftp://%s" % url.hostport
        try:
            ftp.connect(url.host, url.port or 21)
            ftp.login(user, password)
            ftp.voidcmd("TYPE I")
            ftp.pegasus_home = ftp.pwd()  # where relative paths start
        except ftplib.error_perm as exc:
            _close(ftp)
            text = " ".join(str(exc).split())
            if text[:3] in ("530", "532", "331", "332"):
                raise AccessDenied("%s: login as %s refused: %s" % (where, user, text)) from None
            raise perm_error(exc, where) from None
        except (ftplib.Error, EOFError, OSError) as exc:
            _close(ftp)
            raise RetryableError("%s: cannot connect: %s" % (where, _reason(exc))) from None
        return ftp

    def _acquire(self, url, fresh: bool) -> tuple[ftplib.FTP, bool]:
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop(), True
        return self._connect(url), False

    def _release(self, ftp: ftplib.FTP) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(ftp)
                return
        _close(ftp, polite=True)

    def _run(self, url, what: str, work):
        """work(ftp) on a pooled connection; ftplib's exceptions become ours."""
        for fresh in (False, True):
            ftp, reused = self._acquire(url, fresh)
            try:
                result = work(ftp)
            except ftplib.error_perm as exc:
                self._release(ftp)  # a refusal leaves the connection usable
                raise perm_error(exc, what) from None
            except TransferError:
                _close(ftp)  # it may have stopped in the middle of a data transfer
                raise
            except _Gone:
                _close(ftp)
                continue
            except (ftplib.error_temp, ftplib.error_reply, ftplib.error_proto, EOFError) as exc:
                _close(ftp)
                if reused and not fresh and _stale(exc):
                    continue
                raise RetryableError("%s: %s" % (what, _reason(exc))) from None
            except OSError as exc:
                _close(ftp)
                if reused and not fresh:
                    continue
                raise RetryableError("%s: %s" % (what, _reason(exc))) from None
            except BaseException:
                _close(ftp)
                raise
            self._release(ftp)
            return result
        raise RetryableError("%s: the server keeps closing the connection" % what)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for ftp in idle:
            _close(ftp, polite=True)

    # ------------------------------------------------------------------ helpers

    def _is_dir(self, ftp: ftplib.FTP, path: str) -> bool:
        try:
            ftp.cwd(path)
        except ftplib.error_perm:
            return False
        finally:
            ftp.cwd(ftp.pegasus_home)
        return True

    def _exists(self, ftp: ftplib.FTP, path: str) -> bool:
        try:
            ftp.size(path)
            return True
        except ftplib.error_perm:
            return self._is_dir(ftp, path)

    def _makedirs(self, ftp: ftplib.FTP, path: str) -> None:
        path = posixpath.normpath(path)
        if path in (".", "/", "") or path in self._dirs:
            return
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            level = "/".join(parts[:i])
            if level in ("", ".") or level in self._dirs:
                continue
            try:
                ftp.mkd(level)
            except ftplib.error_perm:
                if not self._is_dir(ftp, level):
                    raise
            with self._lock:
                self._dirs.add(level)

    def _rmtree(self, ftp: ftplib.FTP, path: str) -> None:
        try:
            entries = [
                (name, facts.get("type", "")) for name, facts in ftp.mlsd(path, facts=["type"])
            ]
        except ftplib.error_perm:  # no MLSD: NLST, and find out what each name is
            entries = []
            for name in ftp.nlst(path):
                name = posixpath.basename(name.rstrip("/"))
                full = posixpath.join(path, name)
                entries.append((name, "dir" if self._is_dir(ftp, full) else "file"))
        for name, kind in entries:
            if name in (".", "..") or kind in ("cdir", "pdir"):
                continue
            full = posixpath.join(path, name)
            if kind == "dir":
                self._rmtree(ftp, full)
            else:
                ftp.delete(full)
        ftp.rmd(path)

    def _forget(self, path: str) -> None:
        path = posixpath.normpath(path)
        with self._lock:
            self._dirs = {d for d in self._dirs if d != path and not d.startswith(path + "/")}

    # ------------------------------------------------------------------ operations

    def get(self, src, sink) -> None:
        path = ftp_path(src.url)
        what = "ftp get %s" % src.url

        def write(data: bytes) -> None:
            try:
                sink.write(data)
            except OSError as exc:
                raise PermanentError(
                    "%s: cannot write %s: %s" % (what, sink.path, exc.strerror or exc)
                ) from None

        def work(ftp: ftplib.FTP) -> None:
            if sink.size:
                sink.seek(0)
            try:
                size = ftp.size(path)
            except ftplib.error_perm:
                size = None  # not supported, or not a plain file: RETR will tell
            except (EOFError, OSError, ftplib.error_temp) as exc:
                if _stale(exc):
                    raise _Gone() from None
                raise
            ftp.retrbinary("RETR " + path, write, blocksize=CHUNK)
            if size is not None and sink.size != size:
                raise RetryableError(
                    "%s: received %d bytes, the server announced %d" % (what, sink.size, size)
                )

        self._run(src.url, what, work)

    def put(self, source, dest) -> None:
        path = ftp_path(dest.url)
        what = "ftp put %s" % dest.url

        def work(ftp: ftplib.FTP) -> None:
            if source.tell():
                source.seek(0)
            self._makedirs(ftp, posixpath.dirname(path))
            ftp.storbinary("STOR " + path, source, blocksize=CHUNK)

        self._run(dest.url, what, work)

    def mkdir(self, target) -> None:
        path = ftp_path(target.url)
        self._run(target.url, "ftp mkdir %s" % target.url, lambda ftp: self._makedirs(ftp, path))

    def remove(self, target, recursive: bool) -> None:
        path = ftp_path(target.url).rstrip("/") or "."
        what = "ftp remove %s" % target.url
        if posixpath.normpath(path) in (".", "/"):
            raise PermanentError("%s: refusing to remove the top directory" % what)

        def work(ftp: ftplib.FTP) -> None:
            try:
                ftp.delete(path)
                return
            except ftplib.error_perm as exc:
                refusal = exc
            if self._is_dir(ftp, path):
                if not recursive:
                    raise PermanentError("%s: is a directory (a recursive remove is needed)" % what)
                self._rmtree(ftp, path)
                self._forget(path)
                return
            if self._exists(ftp, path):
                raise refusal
            # already gone: a success, as rm -f

        self._run(target.url, what, work)


def _stale(exc: BaseException) -> bool:
    """The kind of failure a connection that sat idle too long gives on its next command."""
    if isinstance(exc, (EOFError, OSError)):
        return True
    return isinstance(exc, ftplib.error_temp) and str(exc)[:3] == "421"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the server closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _close(ftp: ftplib.FTP, polite: bool = False) -> None:
    try:
        if polite:
            ftp.quit()
        else:
            ftp.close()
    except (ftplib.Error, EOFError, OSError):
        ftp.close()
