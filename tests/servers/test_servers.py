"""The test-server infrastructure itself: real processes, real ports, clean shutdown."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import urllib.request

import pytest

from tests.servers import ManagedServer, ServerUnavailable, free_port, unavailable


@pytest.mark.server
def test_nginx_serves_bytes_and_ranges(nginx_server):
    payload = os.urandom(100_000)
    (nginx_server.root / "blob.bin").write_bytes(payload)
    with urllib.request.urlopen(nginx_server.url + "/blob.bin", timeout=10) as resp:
        body = resp.read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(payload).hexdigest()
    req = urllib.request.Request(nginx_server.url + "/blob.bin", headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 206
        assert resp.read() == payload[10:20]


class _Dies(ManagedServer):
    name = "dies"

    def command(self) -> list[str]:
        return ["/bin/sh", "-c", "echo refusing to start >&2; exit 3"]


def test_server_that_exits_is_reported_with_its_log(tmp_path):
    with pytest.raises(ServerUnavailable) as info:
        _Dies(tmp_path).start()
    assert "exited with status 3" in str(info.value)
    assert "refusing to start" in str(info.value)


class _Sleeper(ManagedServer):
    name = "sleeper"

    def command(self) -> list[str]:
        # a real listener on the chosen port, started by a separate interpreter
        code = (
            "import socket,time;s=socket.socket();"
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
            "s.bind(('127.0.0.1',%d));s.listen();time.sleep(600)" % self.port
        )
        return [sys.executable, "-c", code]


def test_server_stops_and_frees_its_port(tmp_path):
    server = _Sleeper(tmp_path).start()
    server.stop()
    assert server.proc.returncode is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_unavailable_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        unavailable("no such server")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        unavailable("no such server")


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
