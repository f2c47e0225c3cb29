"""What a protocol handler is: what it can do, and the calls the engine makes.

The engine does the rest (retries, source failover, two-stage via a local file, atomic
local destinations, hashing), so a handler only moves bytes between its service and a
local file object.  Errors are raised as ``transfer.errors`` classes: ``NotFound`` and
``AccessDenied`` stop retries of that source, ``RetryableError`` asks for another try.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..credentials import Credentials
    from ..inputs import Endpoint
    from ..streams import AtomicFile, HashingReader


class Context:
    """Shared by all handlers of one run."""

    def __init__(self, env: dict[str, str], credentials: Credentials, threads: int, debug: bool):
        self.env = env
        self.credentials = credentials
        self.threads = threads
        self.debug = debug
        self.log = logging.getLogger("pegasus-transfer")


class Handler:
    schemes: tuple[str, ...] = ()
    can_get = False  # service -> local file object
    can_put = False  # local file -> service
    can_copy = False  # service -> same service, server side
    can_mkdir = False
    can_remove = False

    def __init__(self, context: Context):
        self.context = context
        self.log = context.log

    @classmethod
    def session_key(cls, endpoint: Endpoint) -> tuple:
        """URLs with the same key share one handler instance, so one connection per host.
        The default: one instance per scheme, host and site (credentials follow the site)."""
        url = endpoint.url
        return (cls.__name__, url.scheme, url.hostport, url.user, endpoint.site)

    def get(self, src: Endpoint, sink: AtomicFile) -> None:
        raise NotImplementedError

    def put(self, source: HashingReader, dest: Endpoint) -> None:
        raise NotImplementedError

    def copy(self, src: Endpoint, dest: Endpoint) -> None:
        raise NotImplementedError

    def mkdir(self, target: Endpoint) -> None:
        raise NotImplementedError

    def remove(self, target: Endpoint, recursive: bool) -> None:
        raise NotImplementedError

    def remote_sha256(self, endpoint: Endpoint) -> str | None:
        """The service's own sha256 of an object, where it keeps one (S3 checksums)."""
        return None

    def close(self) -> None:
        pass


def run_tool(
    command: list[str], env: dict[str, str], what: str, timeout: float, background=None
) -> tuple[int, str]:
    """Run a helper program (gfal-copy, pelican, ...) to completion: (exit code, the tail of
    what it printed).  ``background`` runs in this thread while the program works (feeding
    a pipe, say).  A program that cannot start or runs past ``timeout`` is a RetryableError;
    any interruption (a signal, a failure in ``background``) kills it before passing on."""
    import subprocess

    from ..errors import RetryableError

    try:
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise RetryableError("%s: cannot run %s: %s" % (what, command[0], exc.strerror)) from None
    try:
        if background is not None:
            background()
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RetryableError("%s: %s timed out" % (what, command[0])) from None
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, " ".join((err or out or "").split())[-400:]
