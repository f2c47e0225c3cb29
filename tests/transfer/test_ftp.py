"""ftp:// against pyftpdlib: the anonymous read-only server of tests/servers/ftp.py, and the
same program started here with a login and write access for put, mkdir and remove."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket

import pytest

from tests.servers import start_or_skip
from tests.servers.ftp import Ftp
from tests.transfer.conftest import transfer

pytestmark = pytest.mark.server

MIB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class WritableFtp(Ftp):
    """pyftpdlib with one user (``user``/``password``) allowed to write, anonymous disabled."""

    name = "ftp-rw"

    def __init__(self, workdir, root):
        super().__init__(workdir, root)
        self.user = "pegasus"
        self.password = secrets.token_urlsafe(12)

    def command(self) -> list[str]:
        return [
            *super().command(),
            "-w", "-u", self.user, "-P", self.password,
        ]  # fmt: skip

    def login_url(self, path: str, password: str | None = None) -> str:
        return "ftp://%s:%s@127.0.0.1:%d/%s" % (
            self.user,
            self.password if password is None else password,
            self.port,
            path.lstrip("/"),
        )


@pytest.fixture(scope="module")
def ftp_rw(tmp_path_factory):
    base = tmp_path_factory.mktemp("ftp-rw")
    root = base / "root"
    root.mkdir()
    server = start_or_skip(WritableFtp(base / "run", root))
    yield server
    server.stop()


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, os.urandom(4).hex())


# ---------------------------------------------------------------------------- anonymous, read-only


def test_get_many_files_and_a_large_one(ftp_server, pegasus_transfer, tmp_path):
    top = unique("get")
    (ftp_server.root / top).mkdir()
    files = {"f%02d" % i: os.urandom(10_000 + i) for i in range(25)}
    files["large.bin"] = os.urandom(20 * MIB)
    for name, data in files.items():
        (ftp_server.root / top / name).write_bytes(data)
    dest = tmp_path / "out"
    run = pegasus_transfer(
        [
            transfer("%s/%s/%s" % (ftp_server.url, top, n), "file://%s/%s" % (dest, n), n)
            for n in files
        ],
        "-n",
        "4",
    )
    assert run.rc == 0, run.stderr
    assert sorted(os.listdir(dest)) == sorted(files)
    for name, data in files.items():
        assert sha256((dest / name).read_bytes()) == sha256(data)
    by_lfn = {a["lfn"]: a for a in run.report["attempts"]}
    assert by_lfn["large.bin"]["sha256"] == sha256(files["large.bin"])
    assert by_lfn["large.bin"]["bytes"] == 20 * MIB


def test_missing_file_fails_once(ftp_server, pegasus_transfer, tmp_path):
    dest = tmp_path / "out"
    run = pegasus_transfer(
        [transfer(ftp_server.url + "/no/such/file", "file://%s/x" % dest, "missing")], "-m", "3"
    )
    assert run.rc == 1
    (attempt,) = run.report["attempts"]
    assert "550" in attempt["error"]
    assert "missing" in run.stderr
    assert not dest.exists() or os.listdir(dest) == []


def test_checksum_mismatch_leaves_nothing(ftp_server, pegasus_transfer, tmp_path):
    (ftp_server.root / "sum.bin").write_bytes(os.urandom(5000))
    dest = tmp_path / "out"
    run = pegasus_transfer(
        [transfer(ftp_server.url + "/sum.bin", "file://%s/s" % dest, "s", checksum="1" * 64)]
    )
    assert run.rc == 1
    assert "checksum mismatch" in run.stderr
    assert not dest.exists() or os.listdir(dest) == []


def test_put_to_read_only_server_is_refused(ftp_server, pegasus_transfer, tmp_path):
    (tmp_path / "up").write_bytes(b"up")
    run = pegasus_transfer([transfer("file://%s/up" % tmp_path, ftp_server.url + "/up")], "-m", "3")
    assert run.rc == 1
    (attempt,) = run.report["attempts"]  # refused: permanent, not retried
    assert "550" in attempt["error"]
    assert not (ftp_server.root / "up").exists()


# ---------------------------------------------------------------------------- login, writable


def test_put_mkdir_get_remove_round_trip(ftp_rw, pegasus_transfer, tmp_path):
    top = unique("rw")
    files = {"a.txt": b"a\n", "b.bin": os.urandom(3 * MIB)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    run = pegasus_transfer(
        [
            transfer("file://%s/%s" % (tmp_path, n), ftp_rw.login_url("%s/x/y/%s" % (top, n)), n)
            for n in files
        ],
        "-d",
    )
    assert run.rc == 0, run.stderr
    for name, data in files.items():
        assert (ftp_rw.root / top / "x" / "y" / name).read_bytes() == data
    assert {a["sha256"] for a in run.report["attempts"]} == {sha256(d) for d in files.values()}
    for text in (run.stdout, run.stderr, str(run.report)):
        assert ftp_rw.password not in text

    made = pegasus_transfer(
        [{"type": "mkdir", "target": {"site_label": "f", "url": ftp_rw.login_url(top + "/m/n")}}]
    )
    assert made.rc == 0, made.stderr
    assert (ftp_rw.root / top / "m" / "n").is_dir()

    back = tmp_path / "back"
    run = pegasus_transfer(
        [
            transfer(ftp_rw.login_url("%s/x/y/%s" % (top, n)), "file://%s/%s" % (back, n), n)
            for n in files
        ]
    )
    assert run.rc == 0, run.stderr
    for name, data in files.items():
        assert (back / name).read_bytes() == data

    def remove(path, recursive=False):
        return {
            "type": "remove",
            "target": {"site_label": "f", "url": ftp_rw.login_url(path), "recursive": recursive},
        }

    gone = pegasus_transfer(
        [remove(top + "/x/y/a.txt"), remove(top + "/nothing-here"), remove(top + "/m", True)]
    )
    assert gone.rc == 0, gone.stderr
    assert sorted(os.listdir(ftp_rw.root / top)) == ["x"]
    assert os.listdir(ftp_rw.root / top / "x" / "y") == ["b.bin"]

    refused = pegasus_transfer([remove(top + "/x")])  # a directory needs recursive
    assert refused.rc == 1
    assert "recursive" in refused.stderr
    assert (ftp_rw.root / top / "x" / "y" / "b.bin").exists()

    tree = pegasus_transfer([remove(top, True)])
    assert tree.rc == 0, tree.stderr
    assert not (ftp_rw.root / top).exists()


def test_parallel_puts_share_a_small_pool(ftp_rw, pegasus_transfer, tmp_path):
    top = unique("par")
    payloads = {"p%02d" % i: os.urandom(20_000) for i in range(30)}
    for name, data in payloads.items():
        (tmp_path / name).write_bytes(data)
    run = pegasus_transfer(
        [
            transfer("file://%s/%s" % (tmp_path, n), ftp_rw.login_url("%s/d/%s" % (top, n)), n)
            for n in payloads
        ],
        "-n",
        "6",
    )
    assert run.rc == 0, run.stderr
    assert sorted(os.listdir(ftp_rw.root / top / "d")) == sorted(payloads)
    for name, data in payloads.items():
        assert (ftp_rw.root / top / "d" / name).read_bytes() == data


def test_wrong_password_is_refused_and_never_shown(ftp_rw, pegasus_transfer, tmp_path):
    wrong = "wrong-%s" % os.urandom(8).hex()
    (ftp_rw.root / "exists.txt").write_bytes(b"x")
    run = pegasus_transfer(
        [transfer(ftp_rw.login_url("exists.txt", password=wrong), "file://%s/e" % tmp_path)],
        "-d",
        "-m",
        "3",
    )
    assert run.rc == 1
    assert "login as pegasus refused" in run.stderr
    assert len(run.report["attempts"]) == 1
    for text in (run.stdout, run.stderr, str(run.report)):
        assert wrong not in text and ftp_rw.password not in text
    assert not (tmp_path / "e").exists()


def test_connection_refused_is_retryable(pegasus_transfer, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = pegasus_transfer(
        [transfer("ftp://127.0.0.1:%d/x" % port, "file://%s/x" % tmp_path)], "-m", "2"
    )
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 2 and all("refused" in a["error"].lower() for a in attempts)


def test_absolute_path_with_percent_2f(ftp_server, pegasus_transfer, tmp_path):
    """RFC 1738: /dir/file is relative to the login directory, %2F makes it absolute."""
    top = unique("abs")
    (ftp_server.root / top).mkdir()
    (ftp_server.root / top / "f").write_bytes(b"absolute\n")
    url = "ftp://127.0.0.1:%d/%%2F%s/f" % (ftp_server.port, top)
    run = pegasus_transfer([transfer(url, "file://%s/f" % tmp_path)])
    assert run.rc == 0, run.stderr
    assert (tmp_path / "f").read_bytes() == b"absolute\n"


def test_refuses_to_remove_the_top_directory(ftp_rw, pegasus_transfer):
    marker = ftp_rw.root / unique("keep")
    marker.write_bytes(b"keep")
    run = pegasus_transfer(
        [
            {
                "type": "remove",
                "target": {"site_label": "f", "url": ftp_rw.login_url(""), "recursive": True},
            }
        ]
    )
    assert run.rc == 1
    assert "refusing" in run.stderr
    assert marker.exists()
