"""Proxies that put faults between our client and a real server, on a seeded schedule.

``CuttingProxy`` relays TCP (sshd behind it, say) and cuts chosen connections in the middle
of the stream with a reset.  Its connections are numbered in the order they arrive; each
gets its own random stream from the seed and that number, which decides whether it is cut
and after how many relayed bytes (both directions counted).  At most ``max_cuts`` are cut,
so with one proxy per file and ``max_cuts = attempts - 1`` the engine's last attempt always
gets through.

``FaultyS3Proxy`` speaks HTTP/1.1 in front of an S3 server (moto): it relays each request
and, on a schedule, answers in the server's place with S3's own error documents, ``500
InternalError`` or ``503 SlowDown``.  Requests are grouped by object path (``/bucket/key``)
and each path has its own random stream and a budget of at most ``max_faults`` faults.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import random
import socket
import struct
import threading
from urllib.parse import urlsplit

S3_FAULTS = {
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "SlowDown": (503, "Please reduce your request rate."),
}
# not relayed either way: they describe one hop, not the message
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "expect",
}  # fmt: skip


def _rst(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0): the peer sees ECONNRESET, not an orderly end.
    The read side is shut first: it wakes a thread blocked reading the socket, which would
    otherwise hold the socket open (and the reset back) until the peer sends something."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Relay:
    """One client connection and its upstream twin, two pump threads, a shared byte count."""

    def __init__(self, proxy: CuttingProxy, number: int, client: socket.socket, cut_at: int | None):
        self.proxy = proxy
        self.number = number
        self.client = client
        self.cut_at = cut_at
        self.relayed = 0
        self.cut = False
        self.lock = threading.Lock()
        self.upstream: socket.socket | None = None

    def start(self) -> None:
        try:
            self.upstream = socket.create_connection(self.proxy.target, timeout=10)
            self.upstream.settimeout(None)
        except OSError:
            _rst(self.client)
            return
        for src, dst in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self.lock:
                    if self.cut:
                        return
                try:
                    dst.shutdown(socket.SHUT_WR)  # pass the orderly end on
                except OSError:
                    pass
                return
            with self.lock:
                if self.cut:
                    return
                allowed = len(data)
                if self.cut_at is not None:
                    allowed = min(allowed, self.cut_at - self.relayed)
                self.relayed += allowed
                cutting = self.cut_at is not None and self.relayed >= self.cut_at
                if cutting:
                    self.cut = True
            try:
                if allowed > 0:
                    dst.sendall(data[:allowed])
            except OSError:
                pass
            if cutting:
                self.proxy._record_cut(self.number, self.relayed)
                _rst(self.client)
                _rst(self.upstream)
                return

    def close(self) -> None:
        _rst(self.client)
        if self.upstream is not None:
            _rst(self.upstream)


class CuttingProxy:
    """TCP on 127.0.0.1:``port`` relayed to ``target``; cuts some connections mid-stream.

    Each connection is cut with chance ``rate`` (while fewer than ``max_cuts`` were cut),
    after a number of relayed bytes drawn from [``cut_from``, ``cut_to``).  Counters:
    ``connections``, ``cuts`` (how many were really cut) and ``cut_log`` [(number, bytes)]."""

    def __init__(
        self,
        target: tuple[str, int],
        seed: int = 0,
        name: str = "",
        rate: float = 0.2,
        max_cuts: int = 2,
        cut_from: int = 8192,
        cut_to: int = 65536,
        script: list[bool] | None = None,
    ):
        self.target = target
        self.seed = seed
        self.name = name
        self.rate = rate
        self.max_cuts = max_cuts
        self.cut_from = cut_from
        self.cut_to = max(cut_to, cut_from + 1)
        self.script = script
        self.connections = 0
        self.planned = 0
        self.cut_log: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._relays: list[_Relay] = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread: threading.Thread | None = None

    @property
    def cuts(self) -> int:
        with self._lock:
            return len(self.cut_log)

    def start(self) -> CuttingProxy:
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._listener.close()
        with self._lock:
            relays, self._relays = self._relays, []
        for relay in relays:
            relay.close()

    def __enter__(self) -> CuttingProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _plan(self, number: int) -> int | None:
        """Where connection ``number`` is cut (relayed bytes), or None."""
        rng = random.Random("%d:%s:%d" % (self.seed, self.name, number))
        chance, where = rng.random(), rng.random()
        if self.planned >= self.max_cuts:
            return None
        if self.script is not None:
            wanted = number < len(self.script) and self.script[number]
        else:
            wanted = chance < self.rate
        if not wanted:
            return None
        self.planned += 1
        return self.cut_from + int(where * (self.cut_to - self.cut_from))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                number = self.connections
                self.connections += 1
                relay = _Relay(self, number, client, self._plan(number))
                self._relays.append(relay)
            relay.start()

    def _record_cut(self, number: int, relayed: int) -> None:
        with self._lock:
            self.cut_log.append((number, relayed))


class FaultyS3Proxy:
    """HTTP/1.1 on 127.0.0.1:``port`` in front of ``backend`` (``http://host:port``).

    Each request of an object path gets a fault with chance ``rate`` while that path has had
    fewer than ``max_faults``; ``codes`` are the S3 error codes to choose from.  Counters:
    ``requests``, ``injected`` (code -> count) and ``faults_for(path)``."""

    def __init__(
        self,
        backend: str,
        seed: int = 0,
        rate: float = 0.2,
        max_faults: int = 2,
        codes: tuple[str, ...] = tuple(S3_FAULTS),
        always: set[str] | None = None,
    ):
        parts = urlsplit(backend)
        self.backend = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.seed = seed
        self.rate = rate
        self.max_faults = max_faults
        self.codes = tuple(codes)
        self.always = set(always or ())
        self.requests = 0
        self.injected: collections.Counter = collections.Counter()
        self._paths: dict[str, list] = {}  # path -> [rng, faults injected]
        self._lock = threading.Lock()
        handler = type("Handler", (_S3Handler,), {"proxy": self})
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def start(self) -> FaultyS3Proxy:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultyS3Proxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def faults_for(self, path: str) -> list[str]:
        with self._lock:
            found = self._paths.get(path)
            return list(found[1]) if found else []

    @property
    def total_faults(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def decide(self, path: str) -> str | None:
        """The S3 error code to answer this request of ``path`` with, or None (relay it)."""
        with self._lock:
            self.requests += 1
            state = self._paths.get(path)
            if state is None:
                state = self._paths[path] = [random.Random("%d:%s" % (self.seed, path)), []]
            rng, faults = state
            chance, pick = rng.random(), rng.random()
            if path not in self.always and (chance >= self.rate or len(faults) >= self.max_faults):
                return None
            code = self.codes[int(pick * len(self.codes))]
            faults.append(code)
            self.injected[code] += 1
            return code


class _S3Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultyS3Proxy

    def log_message(self, *args) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            pieces = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(pieces)
                pieces.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _relay(self) -> None:
        body = self._body()
        path = urlsplit(self.path).path
        code = self.proxy.decide(path)
        if code is not None:
            self._error(code, path)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.proxy.backend, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                    continue
                self.send_header(name, value)
            if self.command == "HEAD":
                length = response.getheader("Content-Length")
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        finally:
            upstream.close()

    def _error(self, code: str, path: str) -> None:
        status, message = S3_FAULTS[code]
        request_id = "%016X" % random.getrandbits(64)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            "<Resource>%s</Resource><RequestId>%s</RequestId></Error>"
            % (code, message, path, request_id)
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay
