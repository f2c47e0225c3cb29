"""An HTTP file server that misbehaves on a seeded schedule, for the fault-injection tests.

It serves the files under a directory (GET with ``Range: bytes=N-``, a strong ETag, HTTP/1.1
keep-alive) and, request by request, either answers properly or injects one fault:

``reset``     headers, part of the body, then a TCP reset (SO_LINGER 0)
``truncate``  a Content-Length promised, fewer bytes sent, the connection closed
``stall``     headers, then silence until the client gives up (its read timeout)
``flip``      the whole body with one byte changed: same length, only a checksum can tell
``error500``  500 Internal Server Error
``busy503``   503 Service Unavailable with ``Retry-After``

The client (our http handler) copes with the first three inside one attempt (it resumes
with a Range request: ``RESUMING``); the last three end the attempt (``ENDING``), and the
transfer engine tries again.  Each path has its own random stream, seeded with the run's
seed and the path, so a schedule does not depend on the order in which parallel requests
arrive, and a run can be repeated exactly.

The schedule stays inside the engine's retry budget by construction: per path at most
``attempts - 1`` ending faults (so the last attempt is clean of them), at most one flip (a
second mismatch in a row is a corrupt source, which the engine rightly drops), at most
``max_resuming`` resuming faults (the handler resumes up to 8 times per attempt) and at
most one stall.  ``always`` and ``scripts`` override the schedule for chosen paths: a path
that fails every time (a body cut after its first byte, so resuming cannot win), or an
exact sequence of faults.
"""

from __future__ import annotations

import collections
import hashlib
import http.server
import os
import random
import select
import socket
import struct
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

RESUMING = ("reset", "truncate", "stall")
ENDING = ("error500", "busy503", "flip")
KINDS = RESUMING + ENDING
OK = "ok"


class _PathState:
    """What the schedule has done to one path so far."""

    __slots__ = ("ending", "flips", "injected", "requests", "resuming", "rng", "stalls")

    def __init__(self, seed: int, path: str):
        self.rng = random.Random("%d:%s" % (seed, path))
        self.requests = 0
        self.ending = 0
        self.flips = 0
        self.resuming = 0
        self.stalls = 0
        self.injected: list[str] = []


class FaultyHttpServer:
    """Serves ``root`` on 127.0.0.1 at a free port; ``url(name)`` addresses a file.

    ``rate`` is the chance that a request gets a fault (before the budget says no);
    ``kinds`` the faults to choose from; ``attempts`` the engine's attempts per transfer;
    ``retry_after`` the seconds a 503 asks for.  Counters: ``requests``, ``injected``
    (kind -> count) and ``faults_for(name)`` (the faults one path got, in order)."""

    def __init__(
        self,
        root: str | os.PathLike,
        seed: int = 0,
        rate: float = 0.2,
        kinds: tuple[str, ...] = KINDS,
        attempts: int = 3,
        retry_after: int = 1,
        max_resuming: int = 3,
        stall_limit: float = 120.0,
        always: dict[str, str] | None = None,
        scripts: dict[str, list[str]] | None = None,
    ):
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError("unknown fault kinds: %s" % ", ".join(sorted(unknown)))
        self.root = Path(root).resolve()
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kinds)
        self.attempts = attempts
        self.retry_after = retry_after
        self.max_resuming = max_resuming
        self.stall_limit = stall_limit
        self.always = dict(always or {})
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.requests = 0
        self.injected: collections.Counter = collections.Counter()
        self._paths: dict[str, _PathState] = {}
        self._etags: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life

    def start(self) -> FaultyHttpServer:
        handler = type("Handler", (_Handler,), {"faulty": self})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 128
        httpd.allow_reuse_address = True
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FaultyHttpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return self._httpd.server_address[1]

    def url(self, name: str) -> str:
        return "http://127.0.0.1:%d/%s" % (self.port, name.lstrip("/"))

    # ------------------------------------------------------------------ counters

    def faults_for(self, name: str) -> list[str]:
        with self._lock:
            state = self._paths.get("/" + name.lstrip("/"))
            return list(state.injected) if state else []

    def requests_for(self, name: str) -> int:
        with self._lock:
            state = self._paths.get("/" + name.lstrip("/"))
            return state.requests if state else 0

    @property
    def total_faults(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    # ------------------------------------------------------------------ the schedule

    def decide(self, path: str) -> tuple[str, float]:
        """The fault for this request of ``path`` (or "ok") and a fraction in [0, 1) that
        places it (where a body is cut, which byte flips)."""
        with self._lock:
            self.requests += 1
            state = self._paths.get(path)
            if state is None:
                state = self._paths[path] = _PathState(self.seed, path)
            index = state.requests
            state.requests += 1
            # three draws per request whatever happens, so one decision never shifts the next
            chance, pick, where = state.rng.random(), state.rng.random(), state.rng.random()
            if path.lstrip("/") in self.always:
                kind = self.always[path.lstrip("/")]
                where = 0.0  # a cut body brings one byte: no progress worth the name
            elif path.lstrip("/") in self.scripts:
                script = self.scripts[path.lstrip("/")]
                kind = script[index] if index < len(script) else OK
            elif chance < self.rate:
                allowed = [k for k in self.kinds if self._within_budget(state, k)]
                kind = allowed[int(pick * len(allowed))] if allowed else OK
            else:
                kind = OK
            return kind, where

    def _within_budget(self, state: _PathState, kind: str) -> bool:
        if kind in ENDING:
            if state.ending >= self.attempts - 1:
                return False
            return kind != "flip" or state.flips == 0
        if kind == "stall" and state.stalls:
            return False
        return state.resuming < self.max_resuming

    def record(self, path: str, kind: str) -> None:
        """A fault was really injected (a resuming one needs a body to cut)."""
        with self._lock:
            state = self._paths[path]
            state.injected.append(kind)
            self.injected[kind] += 1
            if kind in ENDING:
                state.ending += 1
                state.flips += kind == "flip"
            else:
                state.resuming += 1
                state.stalls += kind == "stall"

    def etag(self, path: Path, data: bytes) -> str:
        key = str(path)
        with self._lock:
            found = self._etags.get(key)
        if found is None:
            found = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
            with self._lock:
                self._etags[key] = found
        return found

    def stopping(self) -> bool:
        return self._stop.is_set()


def _first_byte(value: str | None, size: int) -> int | None:
    """The N of ``bytes=N-`` (the only form our client sends); None when absent or odd."""
    if not value or not value.startswith("bytes="):
        return None
    first, _, last = value[len("bytes=") :].partition("-")
    if last.strip() or not first.strip().isdigit():
        return None
    start = int(first)
    return start if start < size else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    faulty: FaultyHttpServer

    def log_message(self, *args) -> None:
        pass

    def _file(self) -> tuple[str, Path | None]:
        path = unquote(urlsplit(self.path).path)
        target = (self.faulty.root / path.lstrip("/")).resolve()
        if self.faulty.root not in target.parents or not target.is_file():
            return path, None
        return path, target

    def _plain(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        _, target = self._file()
        if target is None:
            self._plain(404, "not found\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(target.stat().st_size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:
        path, target = self._file()
        if target is None:
            self._plain(404, "not found\n")
            return
        data = target.read_bytes()
        etag = self.faulty.etag(target, data)
        start = _first_byte(self.headers.get("Range"), len(data))
        if_range = self.headers.get("If-Range")
        if start is not None and if_range and if_range != etag:
            start = None
        kind, where = self.faulty.decide(path)
        if kind == "error500":
            self.faulty.record(path, kind)
            self._plain(500, "injected fault\n")
            return
        if kind == "busy503":
            self.faulty.record(path, kind)
            self._plain(503, "busy\n", {"Retry-After": str(self.faulty.retry_after)})
            return
        body = data[start:] if start else data
        if kind in ("reset", "truncate") and len(body) < 2:
            kind = OK  # nothing to cut in half
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        try:
            if kind == OK:
                self.wfile.write(body)
            elif kind == "flip":
                spot = int(where * len(body))
                changed = bytearray(body)
                changed[spot] ^= 0xFF
                self.faulty.record(path, kind)
                self.wfile.write(changed)
            elif kind == "stall":
                self.faulty.record(path, kind)
                self._stall()
            else:
                cut = max(1, int(where * len(body)))  # 1 .. len-1 bytes of the body
                cut = min(cut, len(body) - 1)
                self.wfile.write(body[:cut])
                self.faulty.record(path, kind)
                if kind == "reset":
                    self._reset()
                else:
                    self.close_connection = True
        except OSError:
            self.close_connection = True  # the client went away: nothing more to say

    def _stall(self) -> None:
        """Say nothing until the client closes the connection (or the limit, or the end)."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + self.faulty.stall_limit
        while not self.faulty.stopping() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    if not sock.recv(65536):
                        return  # the client gave up
                except OSError:
                    return

    def _reset(self) -> None:
        """Close with an RST instead of a FIN: the client sees ECONNRESET."""
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the last reference besides the socket's own
        sock.close()
