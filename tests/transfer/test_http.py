"""http:// and https:// sources: nginx (plain and TLS) from tests/servers, and a small
threaded http.server in this file where a test needs a server that misbehaves on purpose
(drops a connection mid-body, answers 503, counts connections, acts as a proxy)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from tests.transfer.conftest import leftovers, transfer

KIB = 1024
MIB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def credentials_file(path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def attempts_for(report: dict, lfn: str) -> list[dict]:
    return [a for a in report["attempts"] if a["lfn"] == lfn]


# ---------------------------------------------------------------------------- a stub server


class StubServer:
    """HTTP/1.1 with keep-alive on 127.0.0.1; serves ``files``; remembers every request and
    counts connections.  ``drop_after[path] = n`` cuts the first GET of path after n body
    bytes; ``ignore_range`` answers Range requests with the whole file (200);
    ``busy[path] = k`` answers the first k GETs with 503 and Retry-After: 1;
    ``login = (user, password)`` requires basic auth; ``redirects[path] = location`` answers
    302 with that Location."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.connections = 0
        self.drop_after: dict[str, int] = {}
        self.ignore_range = False
        self.busy: dict[str, int] = {}
        self.login: tuple[str, str] | None = None
        self.redirects: dict[str, str] = {}
        self.lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with stub.lock:
                    stub.connections += 1

            def log_message(self, *args):
                pass

            def do_GET(self):
                stub.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def seen(self, path: str) -> list[dict]:
        return [h for (m, p, h) in self.requests if p == path]

    def handle(self, req):
        headers = {k.lower(): v for k, v in req.headers.items()}
        path = req.path
        with self.lock:
            self.requests.append((req.command, path, headers))
            busy = self.busy.get(path, 0)
            if busy:
                self.busy[path] = busy - 1
            drop = self.drop_after.pop(path, None) if "range" not in headers else None
        if path.startswith("http://"):  # a proxy request: serve the path part
            path = "/" + path.split("/", 3)[3]
        if self.login is not None:
            expected = "Basic " + base64.b64encode(("%s:%s" % self.login).encode()).decode()
            if headers.get("authorization") != expected:
                return self.reply(req, 401, b"login", {"WWW-Authenticate": 'Basic realm="x"'})
        if busy:
            return self.reply(req, 503, b"busy", {"Retry-After": "1"})
        if path in self.redirects:
            return self.reply(req, 302, b"moved", {"Location": self.redirects[path]})
        data = self.files.get(path)
        if data is None:
            return self.reply(req, 404, b"not found")
        wanted = headers.get("range")
        if wanted and not self.ignore_range:
            first = int(wanted.split("=", 1)[1].split("-", 1)[0])
            rng = "bytes %d-%d/%d" % (first, len(data) - 1, len(data))
            return self.reply(req, 206, data[first:], {"Content-Range": rng})
        if drop is not None:
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.send_header("Accept-Ranges", "bytes")
            req.end_headers()
            req.wfile.write(data[:drop])
            req.wfile.flush()
            req.close_connection = True
            req.connection.shutdown(socket.SHUT_RDWR)
            return None
        return self.reply(req, 200, data, {"Accept-Ranges": "bytes"})

    @staticmethod
    def reply(req, status, body, headers=None):
        req.send_response(status)
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.close()


# ---------------------------------------------------------------------------- nginx


@pytest.mark.server
def test_many_small_files_in_one_run(nginx_server, pegasus_transfer, tmp_path):
    root = nginx_server.root / "small"
    root.mkdir(exist_ok=True)
    payloads = {}
    for i in range(200):
        payloads["f%03d" % i] = os.urandom(4 * KIB)
        (root / ("f%03d" % i)).write_bytes(payloads["f%03d" % i])
    dest = tmp_path / "out"
    entries = [
        transfer("%s/small/%s" % (nginx_server.url, n), "file://%s/%s" % (dest, n), lfn=n)
        for n in payloads
    ]
    run = pegasus_transfer(entries)
    assert run.rc == 0, run.stderr
    for name, data in payloads.items():
        assert (dest / name).read_bytes() == data
    assert leftovers(dest) == sorted(payloads)
    assert len(run.report["attempts"]) == 200
    assert all(a["success"] and a["bytes"] == 4 * KIB for a in run.report["attempts"])
    assert {a["sha256"] for a in run.report["attempts"]} == {sha256(d) for d in payloads.values()}


@pytest.mark.server
def test_checksum_match_and_mismatch(nginx_server, pegasus_transfer, tmp_path):
    data = os.urandom(300 * KIB)
    (nginx_server.root / "sum.bin").write_bytes(data)
    src = nginx_server.url + "/sum.bin"
    good, bad = tmp_path / "good", tmp_path / "bad"

    run = pegasus_transfer([transfer(src, "file://%s/sum.bin" % good, checksum=sha256(data))])
    assert run.rc == 0, run.stderr
    assert (good / "sum.bin").read_bytes() == data

    run = pegasus_transfer([transfer(src, "file://%s/sum.bin" % bad, checksum="0" * 64)], "-m", "3")
    assert run.rc == 1
    assert "checksum mismatch" in run.stderr
    assert leftovers(bad) == []  # nothing at the destination, no temporary file either
    attempts = run.report["attempts"]
    assert len(attempts) == 2  # the first try and one immediate re-fetch, no backoff rounds
    assert not any(a["success"] for a in attempts)


@pytest.mark.server
def test_missing_source_fails_at_once(nginx_server, pegasus_transfer, tmp_path):
    dest = tmp_path / "out"
    started = time.monotonic()
    run = pegasus_transfer(
        [transfer(nginx_server.url + "/no/such/file", "file://%s/x" % dest, lfn="gone")],
        "-m",
        "3",
    )
    elapsed = time.monotonic() - started
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 1, attempts  # 404 is permanent: no retry rounds
    assert "404" in attempts[0]["error"]
    assert "gone" in run.stderr and "404" in run.stderr
    assert leftovers(dest) == []
    assert elapsed < 20  # no backoff sleeps (the engine's first one is about a second)


@pytest.mark.server
def test_second_source_when_first_is_missing(nginx_server, pegasus_transfer, tmp_path):
    data = os.urandom(50 * KIB)
    (nginx_server.root / "replica.bin").write_bytes(data)
    entry = transfer("unused", "file://%s/r.bin" % tmp_path, lfn="r")
    entry["src_urls"] = [
        {"site_label": "a", "url": nginx_server.url + "/missing/replica.bin", "priority": 100},
        {"site_label": "b", "url": nginx_server.url + "/replica.bin", "priority": 10},
    ]
    run = pegasus_transfer([entry], "-m", "3")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "r.bin").read_bytes() == data
    first, second = run.report["attempts"]
    assert first["source"].endswith("/missing/replica.bin") and not first["success"]
    assert second["source"].endswith("/replica.bin") and second["success"]
    assert second["sha256"] == sha256(data)


@pytest.mark.server
def test_credentials_header_reaches_nginx(nginx_server, pegasus_transfer, tmp_path):
    """A header.<Name> key of a [scheme://host:port] section is sent (nginx logs the agent)."""
    (nginx_server.root / "hdr.txt").write_bytes(b"header test\n")
    agent = "pegasus-test-agent-%s" % os.urandom(4).hex()
    creds = credentials_file(
        tmp_path / "creds.ini",
        "[http://127.0.0.1:%d]\nheader.User-Agent = %s\n" % (nginx_server.port, agent),
    )
    run = pegasus_transfer(
        [transfer(nginx_server.url + "/hdr.txt", "file://%s/hdr.txt" % tmp_path)],
        env={"PEGASUS_CREDENTIALS": creds},
    )
    assert run.rc == 0, run.stderr
    log = (nginx_server.workdir / "access.log").read_text()
    assert any("/hdr.txt" in line and agent in line for line in log.splitlines())


# ---------------------------------------------------------------------------- nginx over TLS


@pytest.mark.server
@pytest.mark.slow
def test_large_file_over_https(https_server, pegasus_transfer, tmp_path):
    data = os.urandom(50 * MIB)
    (https_server.root / "big.bin").write_bytes(data)
    digest = sha256(data)
    run = pegasus_transfer(
        [transfer(https_server.url + "/big.bin", "file://%s/big.bin" % tmp_path, checksum=digest)],
        env={"REQUESTS_CA_BUNDLE": str(https_server.cafile)},
        timeout=300,
    )
    assert run.rc == 0, run.stderr
    assert sha256((tmp_path / "big.bin").read_bytes()) == digest
    (attempt,) = run.report["attempts"]
    assert attempt["bytes"] == len(data) and attempt["sha256"] == digest


@pytest.mark.server
def test_https_certificate_not_trusted(https_server, pegasus_transfer, tmp_path):
    (https_server.root / "tls.txt").write_bytes(b"tls\n")
    run = pegasus_transfer(
        [transfer(https_server.url + "/tls.txt", "file://%s/out/tls.txt" % tmp_path)],
        "-m",
        "3",
        env={"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"},
    )
    assert run.rc == 1
    assert "REQUESTS_CA_BUNDLE" in run.stderr and "certificate" in run.stderr
    assert len(run.report["attempts"]) == 1  # a certificate does not improve with retries
    assert leftovers(tmp_path / "out") == []


@pytest.mark.server
def test_https_many_files_and_site_credentials(https_server, pegasus_transfer, tmp_path):
    """PEGASUS_CREDENTIALS_<site> wins over PEGASUS_CREDENTIALS; [host:port] sections work."""
    for i in range(20):
        (https_server.root / ("t%02d" % i)).write_bytes(b"%d\n" % i)
    agent = "site-agent-%s" % os.urandom(4).hex()
    site = credentials_file(
        tmp_path / "site.ini",
        "[127.0.0.1:%d]\nheader.User-Agent = %s\n" % (https_server.port, agent),
    )
    other = credentials_file(tmp_path / "other.ini", "[127.0.0.1]\nheader.User-Agent = wrong\n")
    dest = tmp_path / "tls"
    entries = [
        transfer("%s/t%02d" % (https_server.url, i), "file://%s/t%02d" % (dest, i), lfn=str(i))
        for i in range(20)
    ]
    run = pegasus_transfer(
        entries,
        env={
            "REQUESTS_CA_BUNDLE": str(https_server.cafile),
            "PEGASUS_CREDENTIALS": other,
            "PEGASUS_CREDENTIALS_src": site,
        },
    )
    assert run.rc == 0, run.stderr
    assert [(dest / ("t%02d" % i)).read_bytes() for i in range(20)] == [
        b"%d\n" % i for i in range(20)
    ]
    log = (https_server.workdir / "access.log").read_text().splitlines()
    hits = [line for line in log if "GET /t" in line]
    assert len(hits) >= 20 and all(agent in line for line in hits[-20:])


# ---------------------------------------------------------------------------- stub server


def test_connections_are_reused(stub, pegasus_transfer, tmp_path):
    for i in range(40):
        stub.files["/c%02d" % i] = os.urandom(2 * KIB)
    entries = [
        transfer("%s/c%02d" % (stub.url, i), "file://%s/c%02d" % (tmp_path / "o", i), lfn=str(i))
        for i in range(40)
    ]
    run = pegasus_transfer(entries, "-n", "4")
    assert run.rc == 0, run.stderr
    for i in range(40):
        assert (tmp_path / "o" / ("c%02d" % i)).read_bytes() == stub.files["/c%02d" % i]
    assert len(stub.requests) == 40
    assert stub.connections <= 4  # one keep-alive connection per worker thread at most


def test_interrupted_download_resumes_with_range(stub, pegasus_transfer, tmp_path):
    data = os.urandom(3 * MIB + 123)
    stub.files["/big"] = data
    stub.drop_after["/big"] = 1_000_000
    run = pegasus_transfer([transfer(stub.url + "/big", "file://%s/big" % tmp_path)], "-m", "1")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "big").read_bytes() == data
    ranges = [h.get("range") for h in stub.seen("/big")]
    assert ranges == [None, "bytes=1000000-"]
    (attempt,) = run.report["attempts"]  # resumed inside the same attempt
    assert attempt["success"] and attempt["sha256"] == sha256(data)
    assert attempt["bytes"] == len(data)


def test_range_ignored_starts_over(stub, pegasus_transfer, tmp_path):
    data = os.urandom(2 * MIB)
    stub.files["/whole"] = data
    stub.drop_after["/whole"] = 700_000
    stub.ignore_range = True
    run = pegasus_transfer([transfer(stub.url + "/whole", "file://%s/w" % tmp_path)], "-m", "1")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "w").read_bytes() == data  # rewound, not appended
    assert [h.get("range") for h in stub.seen("/whole")] == [None, "bytes=700000-"]
    (attempt,) = run.report["attempts"]
    assert attempt["sha256"] == sha256(data)


def test_503_is_retried_after_retry_after(stub, pegasus_transfer, tmp_path):
    stub.files["/later"] = b"eventually\n"
    stub.busy["/later"] = 1
    started = time.monotonic()
    run = pegasus_transfer([transfer(stub.url + "/later", "file://%s/l" % tmp_path)], "-m", "3")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "l").read_bytes() == b"eventually\n"
    first, second = run.report["attempts"]
    assert "503" in first["error"] and second["success"]
    assert second["start"] - first["start"] >= 0.95  # Retry-After: 1 was honoured
    assert time.monotonic() - started < 30


def test_header_sections_with_and_without_port(stub, pegasus_transfer, tmp_path):
    stub.files["/h"] = b"h"
    for section in ("http://127.0.0.1:%d" % stub.port, "http://127.0.0.1", "127.0.0.1"):
        creds = credentials_file(
            tmp_path / "c.ini", "[%s]\nheader.X-Pegasus-Token = tok-%s\n" % (section, len(section))
        )
        run = pegasus_transfer(
            [transfer(stub.url + "/h", "file://%s/h" % tmp_path)],
            env={"PEGASUS_CREDENTIALS": creds},
        )
        assert run.rc == 0, run.stderr
        assert stub.seen("/h")[-1].get("x-pegasus-token") == "tok-%s" % len(section)


def test_basic_auth_from_url_is_never_shown(stub, pegasus_transfer, tmp_path):
    secret = "pw-%s" % os.urandom(6).hex()
    stub.login = ("alice", secret)
    stub.files["/private"] = b"private\n"
    url = "http://alice:%s@127.0.0.1:%d/private" % (secret, stub.port)
    run = pegasus_transfer([transfer(url, "file://%s/p" % tmp_path)], "-d")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "p").read_bytes() == b"private\n"
    wrong = url.replace(secret, "not-" + secret)
    bad = pegasus_transfer([transfer(wrong, "file://%s/q" % tmp_path)], "-d", "-m", "3")
    assert bad.rc == 1
    assert "401" in bad.stderr
    assert len(bad.report["attempts"]) == 1  # refused: not retried
    for out in (run.stdout, run.stderr, bad.stdout, bad.stderr, str(run.report), str(bad.report)):
        assert secret not in out
    assert not (tmp_path / "q").exists()


def test_osg_squid_location_is_the_proxy(stub, pegasus_transfer, tmp_path):
    stub.files["/via-proxy"] = b"cached\n"
    run = pegasus_transfer(
        [transfer("http://origin.invalid/via-proxy", "file://%s/v" % tmp_path)],
        env={
            "http_proxy": "",
            "HTTP_PROXY": "",
            "no_proxy": "",
            "NO_PROXY": "",
            "OSG_SQUID_LOCATION": "127.0.0.1:%d" % stub.port,
        },
    )
    assert run.rc == 0, run.stderr
    assert (tmp_path / "v").read_bytes() == b"cached\n"
    assert stub.requests[0][1] == "http://origin.invalid/via-proxy"  # absolute URI: a proxy


def test_missing_ca_bundle_is_one_line(pegasus_transfer, tmp_path):
    run = pegasus_transfer(
        [transfer("https://127.0.0.1:1/x", "file://%s/x" % tmp_path)],
        env={"REQUESTS_CA_BUNDLE": str(tmp_path / "nope.pem")},
    )
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if "nope.pem" in line]
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_connection_refused_is_retried_then_fails(pegasus_transfer, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = pegasus_transfer(
        [transfer("http://127.0.0.1:%d/x" % port, "file://%s/out/x" % tmp_path)], "-m", "2"
    )
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 2 and all("refused" in a["error"].lower() for a in attempts)
    assert leftovers(tmp_path / "out") == []


def test_redirects_keep_credentials_on_the_same_host_only(stub, pegasus_transfer, tmp_path):
    other = StubServer()
    try:
        stub.files["/final"] = b"final\n"
        other.files["/elsewhere"] = b"elsewhere\n"
        stub.redirects["/same"] = "/final"  # relative: the same host
        stub.redirects["/away"] = other.url + "/elsewhere"  # another port: another origin
        creds = credentials_file(
            tmp_path / "c.ini", "[127.0.0.1:%d]\nheader.X-Pegasus-Token = tok\n" % stub.port
        )
        base = "http://alice:pw@127.0.0.1:%d" % stub.port
        run = pegasus_transfer(
            [
                transfer(base + "/same", "file://%s/same" % tmp_path, lfn="same"),
                transfer(base + "/away", "file://%s/away" % tmp_path, lfn="away"),
            ],
            env={"PEGASUS_CREDENTIALS": creds},
        )
        assert run.rc == 0, run.stderr
        assert (tmp_path / "same").read_bytes() == b"final\n"
        assert (tmp_path / "away").read_bytes() == b"elsewhere\n"
        (final,) = stub.seen("/final")
        assert final.get("x-pegasus-token") == "tok" and final.get("authorization")
        (elsewhere,) = other.seen("/elsewhere")
        assert "x-pegasus-token" not in elsewhere and "authorization" not in elsewhere
    finally:
        other.close()


def test_redirect_loop_is_permanent(stub, pegasus_transfer, tmp_path):
    stub.redirects["/loop"] = "/loop"
    run = pegasus_transfer([transfer(stub.url + "/loop", "file://%s/l" % tmp_path)], "-m", "3")
    assert run.rc == 1
    (attempt,) = run.report["attempts"]
    assert "redirects" in attempt["error"]


def test_netrc_login(stub, pegasus_transfer, tmp_path):
    stub.login = ("bob", "from-netrc")
    stub.files["/n"] = b"netrc\n"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password from-netrc\n")
    netrc.chmod(0o600)
    run = pegasus_transfer(
        [transfer(stub.url + "/n", "file://%s/n" % tmp_path)], env={"NETRC": str(netrc)}
    )
    assert run.rc == 0, run.stderr
    assert (tmp_path / "n").read_bytes() == b"netrc\n"
    assert "from-netrc" not in run.stderr


def test_proxy_login_from_the_proxy_url(stub, pegasus_transfer, tmp_path):
    stub.files["/p"] = b"proxied\n"
    run = pegasus_transfer(
        [transfer("http://origin.invalid/p", "file://%s/p" % tmp_path)],
        env={
            "http_proxy": "http://squid:s%%40cret@127.0.0.1:%d" % stub.port,
            "no_proxy": "",
            "NO_PROXY": "",
        },
    )
    assert run.rc == 0, run.stderr
    (seen,) = stub.seen("http://origin.invalid/p")
    expected = base64.b64encode(b"squid:s@cret").decode()
    assert seen.get("proxy-authorization") == "Basic " + expected
    assert "cret" not in run.stderr


def test_connection_kept_after_a_missing_file(stub, pegasus_transfer, tmp_path):
    """A 404's small body is read, so its keep-alive connection serves the next request."""
    entries = []
    for i in range(5):
        stub.files["/k%d" % i] = b"%d" % i
        entry = transfer("unused", "file://%s/k%d" % (tmp_path, i), lfn="k%d" % i)
        entry["src_urls"] = [
            {"site_label": "a", "url": "%s/gone%d" % (stub.url, i), "priority": 100},
            {"site_label": "a", "url": "%s/k%d" % (stub.url, i), "priority": 10},
        ]
        entries.append(entry)
    run = pegasus_transfer(entries, "-n", "1")
    assert run.rc == 0, run.stderr
    assert len(stub.requests) == 10
    assert stub.connections == 1
