"""gsiftp://, srm://, root://, xroot://, davs://, gsidavs:// through gfal2.

Two ways to drive gfal2, chosen once per handler:

* the gfal2 Python bindings (``import gfal2``), when this interpreter has them;
* else the gfal2-util programs ``gfal-copy`` / ``gfal-mkdir`` / ``gfal-rm``, as Pegasus runs them
  (``gfal-copy -f -p -t 7200 -T 7200``).  Debian's python3-gfal2 exists only for /usr/bin/python3
  and the ``gfal-*`` wrappers pick the first ``python`` on PATH that imports gfal2, which under
  pyenv or a venv is none: so ``GFAL_PYTHONBIN=/usr/bin/python3`` is set for them when that
  interpreter has gfal2 and the variable is not set already.

This module imports without gfal2 (the registry would otherwise say "needs the gfal2 Python
bindings" although gfal-copy is there); only when neither way exists does the handler report
the missing dependency.  Credentials as Pegasus: ``X509_USER_PROXY_<site>``, then
``X509_USER_PROXY``.  ``gsidavs`` is spoken as ``davs`` and ``xroot`` as ``root`` (as Pegasus);
XRootD and SRM URLs get their double slash back (``root://host//abs/path``).

gfal2 copies between URLs, so it cannot write into the engine's sink (a file object): ``get``
lets gfal write a temporary file in a private directory beside the sink, then streams those
bytes once into the sink (which hashes them and puts them in place atomically).  ``put`` gives
gfal the local file's path and, while gfal runs, reads the engine's reader to the end so the
sha256 of the local file still comes with the transfer.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import tempfile
import threading

from ..errors import AccessDenied, MissingDependency, NotFound, PermanentError, RetryableError
from .base import Handler, run_tool

try:  # optional: Debian's python3-gfal2 is only importable from /usr/bin/python3
    import gfal2
except ImportError:
    gfal2 = None

SYSTEM_PYTHON = "/usr/bin/python3"
TIMEOUT = 7200  # gfal-copy -t / -T, as Pegasus
PROCESS_TIMEOUT = 6 * 3600  # Pegasus's per-command limit
CHUNK = 4 << 20
SPOKEN = {"gsidavs": "davs", "xroot": "root"}
DOUBLE_SLASH = ("root", "srm")
FIX = (
    "apt-get install python3-gfal2 gfal2-util-scripts gfal2-plugin-xrootd "
    "gfal2-plugin-gridftp gfal2-plugin-http (Debian), or the gfal2-python package"
)

_probe_lock = threading.Lock()
_system_python_has_gfal: bool | None = None


def _system_python_ok() -> bool:
    """Does /usr/bin/python3 import gfal2 and gfal2_util?  (asked once per process)"""
    global _system_python_has_gfal
    with _probe_lock:
        if _system_python_has_gfal is None:
            try:
                probe = subprocess.run(
                    [SYSTEM_PYTHON, "-c", "import gfal2, gfal2_util"],
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                    timeout=60,
                    check=False,
                )
                _system_python_has_gfal = probe.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                _system_python_has_gfal = False
        return _system_python_has_gfal


def gfal_url(url) -> str:
    scheme = SPOKEN.get(url.scheme, url.scheme)
    if scheme in DOUBLE_SLASH:
        return "%s://%s/%s" % (scheme, url.hostport, url.path)
    return "%s://%s%s" % (scheme, url.hostport, url.path)


def _classify(code: int, message: str):
    """gfal2 reports errno values (gfal-copy exits with them)."""
    message = message.replace("\\x00", "").replace("\x00", "")  # XRootD's C strings
    lowered = message.lower()
    if code == errno.ENOENT or "no such file" in lowered or "not found" in lowered:
        error = NotFound(message)
    elif code in (errno.EACCES, errno.EPERM) or "permission denied" in lowered:
        error = AccessDenied(message)
    elif code in (
        errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.EINVAL,
        errno.EPROTONOSUPPORT, errno.EOPNOTSUPP, errno.ENOSYS,
    ):  # fmt: skip
        error = PermanentError(message)
    else:
        error = RetryableError(message)
    error.gfal_code = code
    return error


def _no_third_party(error: Exception) -> bool:
    text = str(error).lower()
    return getattr(error, "gfal_code", 0) in (errno.EOPNOTSUPP, errno.ENOSYS) or (
        "tpc" in text and "not supported" in text
    )


class GfalHandler(Handler):
    schemes = ("gsiftp", "srm", "root", "xroot", "davs", "gsidavs")
    can_get = True
    can_put = True
    can_copy = True  # gfal copies URL to URL (third-party, or streamed by gfal2 itself)
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        # No per-host state (gfal2 keeps its own connections): one instance for every gfal
        # URL, so that a copy between two of them is one gfal-copy, as in Pegasus.
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.no_third_party: set[tuple] = set()
        self.programs: dict[str, str] = {}
        if gfal2 is None:
            path = context.env.get("PATH", os.defpath)
            for name in ("gfal-copy", "gfal-mkdir", "gfal-rm"):
                found = shutil.which(name, path=path)
                if found is None:
                    raise MissingDependency(
                        "gsiftp/srm/root/davs",
                        "the gfal2 Python bindings or the gfal2-util programs (%s)" % name,
                        FIX,
                    )
                self.programs[name] = found

    # ------------------------------------------------------------------ helpers

    def _proxy(self, endpoint) -> str | None:
        return self.context.credentials.file("X509_USER_PROXY", endpoint.site)

    def _env(self, *endpoints) -> dict[str, str]:
        env = dict(self.context.env)
        for endpoint in endpoints:
            proxy = self._proxy(endpoint)
            if proxy:
                env["X509_USER_PROXY"] = proxy
                break
        if "GFAL_PYTHONBIN" not in env and _system_python_ok():
            env["GFAL_PYTHONBIN"] = SYSTEM_PYTHON
        return env

    def _run(self, args: list[str], env: dict[str, str], what: str, background=None) -> None:
        """Run a gfal-* program; ``background`` runs in this thread while it works."""
        command = [self.programs[args[0]], *args[1:]]
        if self.context.debug:
            command.insert(1, "-v")
        self.log.debug("running %s", " ".join(command))
        code, detail = run_tool(command, env, what, PROCESS_TIMEOUT, background)
        if code != 0:
            raise _classify(code, "%s: %s failed (exit %d): %s" % (what, args[0], code, detail))

    def _context(self, endpoint):
        ctx = getattr(self.local, "ctx", None)
        if ctx is None:
            ctx = self.local.ctx = gfal2.creat_context()
        proxy = self._proxy(endpoint)
        if proxy:
            ctx.set_opt_string("X509", "CERT", proxy)
            ctx.set_opt_string("X509", "KEY", proxy)
        return ctx

    def _gerror(self, exc, what: str):
        code = getattr(exc, "code", 0) or 0
        message = " ".join(str(getattr(exc, "message", None) or exc).split())
        return _classify(code, "%s: %s" % (what, message))

    def _filecopy(self, endpoint, src: str, dst: str, what: str, background=None) -> None:
        ctx = self._context(endpoint)
        params = ctx.transfer_parameters()
        params.overwrite = True
        params.create_parent = True
        params.timeout = TIMEOUT
        failure = []

        def copy():
            try:
                ctx.filecopy(params, src, dst)
            except gfal2.GError as exc:
                failure.append(self._gerror(exc, what))

        if background is None:
            copy()
        else:  # the copy releases the GIL: read the local file meanwhile
            worker = threading.Thread(target=copy, name="gfal-copy")
            worker.start()
            try:
                background()
            finally:
                worker.join()
        if failure:
            raise failure[0]

    # ------------------------------------------------------------------ engine calls

    def get(self, src, sink) -> None:
        source = gfal_url(src.url)
        what = "gfal get %s" % src.url
        directory = os.path.dirname(getattr(sink, "path", "") or "") or None
        try:
            workdir = tempfile.mkdtemp(prefix=".gfal-", dir=directory)
        except OSError:
            workdir = tempfile.mkdtemp(prefix="gfal-")
        try:
            local = os.path.join(workdir, "data")
            target = "file://" + local
            if gfal2 is not None:
                self._filecopy(src, source, target, what)
            else:
                args = ["gfal-copy", "-f", "-p", "-t", str(TIMEOUT), "-T", str(TIMEOUT)]
                self._run([*args, source, target], self._env(src), what)
            sink.absorb(local)  # read once, hashed as it is copied in
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def put(self, source, dest) -> None:
        target = gfal_url(dest.url)
        what = "gfal put %s" % dest.url
        origin = "file://" + os.path.abspath(source.path)

        def drain():  # the engine's sha256 of the local file, read while gfal sends it
            while source.read(CHUNK):
                pass

        if gfal2 is not None:
            self._filecopy(dest, origin, target, what, background=drain)
        else:
            args = ["gfal-copy", "-f", "-p", "-t", str(TIMEOUT), "-T", str(TIMEOUT)]
            self._run([*args, origin, target], self._env(dest), what, background=drain)

    def copy(self, src, dest) -> None:
        """Third-party first (GridFTP, HTTP COPY, XRootD TPC); a server pair that cannot do
        it (EOPNOTSUPP, "tpc not supported") is remembered and goes through a local file."""
        what = "gfal copy %s -> %s" % (src.url, dest.url)
        source, target = gfal_url(src.url), gfal_url(dest.url)
        pair = (src.url.scheme, src.url.hostport, dest.url.scheme, dest.url.hostport)
        if pair not in self.no_third_party:
            try:
                self._copy(src, dest, source, target, what)
                return
            except PermanentError as exc:
                if not _no_third_party(exc):
                    raise
                self.log.info(
                    "%s: the servers cannot copy third-party; going through a local file", what
                )
                self.log.debug("third-party copy failed: %s", exc)
                with self.lock:
                    self.no_third_party.add(pair)
        workdir = tempfile.mkdtemp(prefix="pegasus-transfer-gfal-")
        try:
            middle = "file://" + os.path.join(workdir, "data")
            self._copy(src, src, source, middle, what)
            self._copy(dest, dest, middle, target, what)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _copy(self, src, dest, source: str, target: str, what: str) -> None:
        if gfal2 is not None:
            self._filecopy(src, source, target, what)
        else:
            args = ["gfal-copy", "-f", "-p", "-t", str(TIMEOUT), "-T", str(TIMEOUT)]
            self._run([*args, source, target], self._env(src, dest), what)

    def mkdir(self, target) -> None:
        url = gfal_url(target.url)
        what = "gfal mkdir %s" % target.url
        if gfal2 is not None:
            try:
                self._context(target).mkdir_rec(url, 0o755)
            except gfal2.GError as exc:
                if getattr(exc, "code", 0) != errno.EEXIST:
                    raise self._gerror(exc, what) from None
            return
        self._run(["gfal-mkdir", "-p", url], self._env(target), what)

    def remove(self, target, recursive: bool) -> None:
        url = gfal_url(target.url)
        what = "gfal remove %s" % target.url
        if gfal2 is not None:
            try:
                self._remove_tree(self._context(target), url, recursive, what)
            except gfal2.GError as exc:
                if getattr(exc, "code", 0) != errno.ENOENT:
                    raise self._gerror(exc, what) from None
            return
        try:
            self._run(["gfal-rm", *(["-r"] if recursive else []), url], self._env(target), what)
        except NotFound:
            pass  # already gone: rm -f

    def _remove_tree(self, ctx, url: str, recursive: bool, what: str) -> None:
        info = ctx.stat(url)
        if not stat.S_ISDIR(info.st_mode):
            ctx.unlink(url)
            return
        if not recursive:
            raise PermanentError("%s: a directory (a recursive remove is needed)" % what)
        for name in ctx.listdir(url):
            if name not in (".", ".."):
                self._remove_tree(ctx, url.rstrip("/") + "/" + name, True, what)
        ctx.rmdir(url)
