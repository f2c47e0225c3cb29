"""osdf://, stash://, pelican:// through the Pelican client (``pelican``) or ``stashcp``.

As Pegasus, the program is found on PATH, ``pelican`` first, else ``stashcp``; a present
``http_proxy`` is emptied for it.  Reads run ``pelican object get URL FILE`` (``stashcp URL
FILE``) into a temporary file in a private directory beside the engine's sink, whose bytes
are then streamed once into the sink (which hashes them and moves them into place
atomically): the program writes files, not file objects.  Writes run ``pelican object put
FILE URL`` (``stashcp FILE URL``) on the local file, while this thread reads the engine's
reader to the end so the local file's sha256 still comes with the transfer.  Tokens are the
client's own business (``BEARER_TOKEN_FILE``, ``_CONDOR_CREDS`` ... pass through the
environment).  mkdir is a success that does nothing (object stores have no directories; as
Pegasus); remove is not offered by the OSDF clients and fails with a clear message.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..errors import AccessDenied, MissingDependency, NotFound, PermanentError, RetryableError
from .base import Handler, run_tool

CHUNK = 4 << 20
PROCESS_TIMEOUT = 6 * 3600  # Pegasus's per-command limit
NOT_FOUND_WORDS = ("404", "not found", "no such file", "does not exist")
DENIED_WORDS = ("401", "403", "permission denied", "forbidden", "unauthorized", "token")


def _classify(message: str):
    lowered = message.lower()
    if any(word in lowered for word in NOT_FOUND_WORDS):
        return NotFound(message)
    if any(word in lowered for word in DENIED_WORDS):
        return AccessDenied(message)
    return RetryableError(message)


class PelicanHandler(Handler):
    schemes = ("osdf", "stash", "pelican")
    can_get = True
    can_put = True
    can_mkdir = True  # a no-op success
    can_remove = True  # refused with a clear message (the engine would say less)

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        path = context.env.get("PATH", os.defpath)
        pelican = shutil.which("pelican", path=path)
        stashcp = None if pelican else shutil.which("stashcp", path=path)
        if pelican:
            self.get_command = [pelican, "object", "get"]
            self.put_command = [pelican, "object", "put"]
        elif stashcp:
            self.get_command = self.put_command = [stashcp]
        else:
            raise MissingDependency(
                "osdf/stash/pelican",
                "the pelican or stashcp program",
                "install the Pelican client (https://docs.pelicanplatform.org, it provides "
                "'pelican') or stashcp, and put it on PATH",
            )
        self.program = os.path.basename((pelican or stashcp) or "")
        self.env = dict(context.env)
        if "http_proxy" in self.env:
            self.env["http_proxy"] = ""  # as Pegasus: no proxy for these clients

    @staticmethod
    def _url(endpoint) -> str:
        url = endpoint.url
        return "%s://%s%s" % (url.scheme, url.hostport, url.path)

    def _run(self, command: list[str], what: str, background=None) -> None:
        if self.context.debug:
            command = [*command[:-2], "--debug", *command[-2:]]
        self.log.debug("running %s", " ".join(command))
        code, detail = run_tool(command, self.env, what, PROCESS_TIMEOUT, background)
        if code != 0:
            raise _classify("%s: %s failed (exit %d): %s" % (what, self.program, code, detail))

    def get(self, src, sink) -> None:
        what = "%s get %s" % (src.url.scheme, src.url)
        directory = os.path.dirname(getattr(sink, "path", "") or "") or None
        try:
            workdir = tempfile.mkdtemp(prefix=".pelican-", dir=directory)
        except OSError:
            workdir = tempfile.mkdtemp(prefix="pelican-")
        try:
            local = os.path.join(workdir, src.url.name or "data")
            self._run([*self.get_command, self._url(src), local], what)
            try:
                sink.absorb(local)  # read once, hashed as it is copied in
            except FileNotFoundError:
                raise RetryableError(
                    "%s: %s reported success but wrote nothing" % (what, self.program)
                ) from None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def put(self, source, dest) -> None:
        what = "%s put %s" % (dest.url.scheme, dest.url)

        def drain():  # the engine's sha256 of the local file, read while the client sends it
            while source.read(CHUNK):
                pass

        local = os.path.abspath(source.path)
        self._run([*self.put_command, local, self._url(dest)], what, background=drain)

    def mkdir(self, target) -> None:
        """Nothing to do: OSDF namespaces have no directories to create (Pegasus: no-op)."""

    def remove(self, target, recursive: bool) -> None:
        raise PermanentError(
            "%s:// does not support remove (%s): the pelican and stashcp clients cannot delete "
            "objects; remove them through the origin's own interface"
            % (target.url.scheme, target.url)
        )
