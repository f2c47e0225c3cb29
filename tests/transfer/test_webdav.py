"""webdav:// against wsgidav (tests/servers/webdav.py): PUT with MKCOL chains, GET, MKCOL,
DELETE and server-side COPY, each checked on the server's own disk."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.servers import start_or_skip
from tests.servers.nginx import Nginx
from tests.servers.webdav import WebDav
from tests.transfer.conftest import target, transfer

pytestmark = pytest.mark.server

MIB = 1024 * 1024


class DigestWebDav(WebDav):
    """wsgidav that accepts only HTTP digest logins."""

    name = "webdav-digest"

    def settings(self) -> dict:
        settings = super().settings()
        settings["http_authenticator"].update(
            {"accept_basic": False, "accept_digest": True, "default_to_digest": True}
        )
        return settings


@pytest.fixture(scope="module")
def digest_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("webdav-digest")
    root = base / "root"
    root.mkdir()
    server = start_or_skip(DigestWebDav(base / "run", root))
    yield server
    server.stop()


class NginxDav(Nginx):
    """nginx's own dav module (no login): MKCOL and collection DELETE need a trailing slash."""

    name = "nginx-dav"

    def server_directives(self) -> str:
        return "        dav_methods PUT DELETE MKCOL COPY MOVE;\n        client_max_body_size 0;\n"


@pytest.fixture(scope="module")
def nginx_dav(tmp_path_factory):
    base = tmp_path_factory.mktemp("nginx-dav")
    root = base / "root"
    root.mkdir()
    server = start_or_skip(NginxDav(base / "run", root))
    yield server
    server.stop()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def credentials(tmp_path, server, password=None, section=None) -> dict:
    path = tmp_path / "webdav-creds.ini"
    path.write_text(
        "[%s]\nusername = %s\npassword = %s\n"
        % (
            section or "127.0.0.1:%d" % server.port,
            server.username,
            server.password if password is None else password,
        )
    )
    path.chmod(0o600)
    return {"PEGASUS_CREDENTIALS": str(path)}


def dav(server, path: str) -> str:
    return "webdav://127.0.0.1:%d/%s" % (server.port, path.lstrip("/"))


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, os.urandom(4).hex())


def test_put_into_new_collections_then_get_back(webdav_server, pegasus_transfer, tmp_path):
    top = unique("put")
    files = {"one.txt": b"one\n", "two.bin": os.urandom(100_000), "big.bin": os.urandom(20 * MIB)}
    src = tmp_path / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    env = credentials(tmp_path, webdav_server)
    run = pegasus_transfer(
        [
            transfer("file://%s/%s" % (src, n), dav(webdav_server, "%s/a/b/c/%s" % (top, n)), n)
            for n in files
        ],
        env=env,
    )
    assert run.rc == 0, run.stderr
    on_disk = webdav_server.root / top / "a" / "b" / "c"
    for name, data in files.items():
        assert sha256((on_disk / name).read_bytes()) == sha256(data)
    done = [a for a in run.report["attempts"] if a["success"]]
    assert sorted(a["lfn"] for a in done) == sorted(files)  # each file arrived exactly once
    assert {a["sha256"] for a in done} == {sha256(d) for d in files.values()}

    back = tmp_path / "back"
    run = pegasus_transfer(
        [
            transfer(dav(webdav_server, "%s/a/b/c/%s" % (top, n)), "file://%s/%s" % (back, n), n)
            for n in files
        ],
        env=env,
    )
    assert run.rc == 0, run.stderr
    for name, data in files.items():
        assert (back / name).read_bytes() == data


def test_parallel_puts_into_one_new_collection(webdav_server, pegasus_transfer, tmp_path):
    top = unique("par")
    payloads = {"p%02d" % i: os.urandom(4096) for i in range(30)}
    for name, data in payloads.items():
        (tmp_path / name).write_bytes(data)
    run = pegasus_transfer(
        [
            transfer("file://%s/%s" % (tmp_path, n), dav(webdav_server, "%s/x/y/%s" % (top, n)), n)
            for n in payloads
        ],
        "-n",
        "8",
        env=credentials(tmp_path, webdav_server),
    )
    assert run.rc == 0, run.stderr
    on_disk = webdav_server.root / top / "x" / "y"
    assert sorted(os.listdir(on_disk)) == sorted(payloads)
    for name, data in payloads.items():
        assert (on_disk / name).read_bytes() == data


def test_mkdir_creates_the_whole_chain(webdav_server, pegasus_transfer, tmp_path):
    top = unique("mk")
    env = credentials(tmp_path, webdav_server)
    run = pegasus_transfer(
        [target("mkdir", site="dav", url=dav(webdav_server, "%s/d1/d2/d3" % top))], env=env
    )
    assert run.rc == 0, run.stderr
    assert (webdav_server.root / top / "d1" / "d2" / "d3").is_dir()
    again = pegasus_transfer(
        [target("mkdir", site="dav", url=dav(webdav_server, "%s/d1/d2" % top))], env=env
    )
    assert again.rc == 0, again.stderr  # already there is fine


def test_remove_file_collection_and_missing(webdav_server, pegasus_transfer, tmp_path):
    top = unique("rm")
    base = webdav_server.root / top
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "sub" / "leaf").write_bytes(b"leaf")
    (base / "tree" / "top").write_bytes(b"top")
    (base / "single.txt").write_bytes(b"single")
    env = credentials(tmp_path, webdav_server)
    run = pegasus_transfer(
        [
            target("remove", site="dav", url=dav(webdav_server, "%s/single.txt" % top)),
            target("remove", site="dav", url=dav(webdav_server, "%s/tree" % top), recursive=True),
            target("remove", site="dav", url=dav(webdav_server, "%s/never-existed" % top)),
        ],
        env=env,
    )
    assert run.rc == 0, run.stderr
    assert sorted(os.listdir(base)) == []


def test_server_side_copy(webdav_server, pegasus_transfer, tmp_path):
    top = unique("cp")
    data = os.urandom(200_000)
    (webdav_server.root / top).mkdir()
    (webdav_server.root / top / "orig.bin").write_bytes(data)
    entry = transfer(
        dav(webdav_server, "%s/orig.bin" % top), dav(webdav_server, "%s/new/dir/copy.bin" % top)
    )
    entry["src_urls"][0]["site_label"] = entry["dest_urls"][0]["site_label"] = "dav"
    run = pegasus_transfer([entry], env=credentials(tmp_path, webdav_server))
    assert run.rc == 0, run.stderr
    assert (webdav_server.root / top / "new" / "dir" / "copy.bin").read_bytes() == data
    assert (webdav_server.root / top / "orig.bin").read_bytes() == data
    (attempt,) = run.report["attempts"]
    assert attempt["bytes"] == 0  # no byte came through this node: the server copied


def test_copy_between_sites_goes_through_a_local_file(webdav_server, pegasus_transfer, tmp_path):
    top = unique("2stage")
    data = os.urandom(150_000)
    (webdav_server.root / top).mkdir()
    (webdav_server.root / top / "a.bin").write_bytes(data)
    entry = transfer(dav(webdav_server, "%s/a.bin" % top), dav(webdav_server, "%s/b.bin" % top))
    run = pegasus_transfer([entry], env=credentials(tmp_path, webdav_server))
    assert run.rc == 0, run.stderr
    assert (webdav_server.root / top / "b.bin").read_bytes() == data
    assert run.report["attempts"][0]["sha256"] == sha256(data)


def test_put_with_verify_checksum_remote(webdav_server, pegasus_transfer, tmp_path):
    top = unique("verify")
    data = os.urandom(64_000)
    (tmp_path / "v.bin").write_bytes(data)
    run = pegasus_transfer(
        [
            transfer(
                "file://%s/v.bin" % tmp_path,
                dav(webdav_server, "%s/v.bin" % top),
                "v.bin",
                verify_checksum_remote=True,
                checksum=sha256(data),
            )
        ],
        env=credentials(tmp_path, webdav_server),
    )
    assert run.rc == 0, run.stderr
    assert (webdav_server.root / top / "v.bin").read_bytes() == data


def test_get_missing_file(webdav_server, pegasus_transfer, tmp_path):
    dest = tmp_path / "out"
    run = pegasus_transfer(
        [transfer(dav(webdav_server, "no/such/file"), "file://%s/f" % dest, "missing")],
        "-m",
        "3",
        env=credentials(tmp_path, webdav_server),
    )
    assert run.rc == 1
    (attempt,) = run.report["attempts"]
    assert "404" in attempt["error"]
    assert not dest.exists() or os.listdir(dest) == []


def test_wrong_password_is_refused_and_never_shown(webdav_server, pegasus_transfer, tmp_path):
    wrong = "wrong-%s" % os.urandom(8).hex()
    env = credentials(tmp_path, webdav_server, password=wrong)
    (tmp_path / "up.txt").write_bytes(b"up\n")
    top = unique("deny")
    (webdav_server.root / top).mkdir()
    (webdav_server.root / top / "there.txt").write_bytes(b"there\n")
    runs = [
        pegasus_transfer(
            [transfer("file://%s/up.txt" % tmp_path, dav(webdav_server, "%s/up.txt" % top))],
            "-d",
            "-m",
            "3",
            env=env,
        ),
        pegasus_transfer(
            [transfer(dav(webdav_server, "%s/there.txt" % top), "file://%s/got" % tmp_path)],
            "-d",
            "-m",
            "3",
            env=env,
        ),
    ]
    for run in runs:
        assert run.rc == 1
        assert "401" in run.stderr and "refused the login of user 'dav'" in run.stderr
        assert len(run.report["attempts"]) == 1
        for text in (run.stdout, run.stderr, str(run.report)):
            assert wrong not in text and webdav_server.password not in text
    assert not (webdav_server.root / top / "up.txt").exists()
    assert not (tmp_path / "got").exists()


def test_no_credentials_section_says_what_to_add(webdav_server, pegasus_transfer, tmp_path):
    env = credentials(tmp_path, webdav_server, section="some.other.host")
    top = unique("nocred")
    (webdav_server.root / top).mkdir()
    (webdav_server.root / top / "f").write_bytes(b"f")
    run = pegasus_transfer(
        [transfer(dav(webdav_server, "%s/f" % top), "file://%s/f" % tmp_path)], env=env
    )
    assert run.rc == 1
    assert "add a [127.0.0.1:%d] section" % webdav_server.port in run.stderr
    assert not (tmp_path / "f").exists()


def test_login_in_the_url_is_redacted(webdav_server, pegasus_transfer, tmp_path):
    top = unique("urllogin")
    (tmp_path / "u.txt").write_bytes(b"url login\n")
    url = "webdav://%s:%s@127.0.0.1:%d/%s/u.txt" % (
        webdav_server.username,
        webdav_server.password,
        webdav_server.port,
        top,
    )
    run = pegasus_transfer([transfer("file://%s/u.txt" % tmp_path, url)], "-d")
    assert run.rc == 0, run.stderr
    assert (webdav_server.root / top / "u.txt").read_bytes() == b"url login\n"
    for text in (run.stdout, run.stderr, str(run.report)):
        assert webdav_server.password not in text
    assert "XXXX@127.0.0.1" in run.report["attempts"][0]["destination"]


def test_credentials_file_missing(webdav_server, pegasus_transfer, tmp_path):
    run = pegasus_transfer(
        [transfer(dav(webdav_server, "x"), "file://%s/x" % tmp_path)],
        env={"PEGASUS_CREDENTIALS": str(tmp_path / "absent.ini")},
    )
    assert run.rc == 1
    assert "absent.ini" in run.stderr and "does not exist" in run.stderr
    assert not (tmp_path / "x").exists()


def test_digest_only_server(digest_server, pegasus_transfer, tmp_path):
    """The server refuses basic: the handler switches to digest (as curl --anyauth does)."""
    files = {"small.txt": b"digest\n", "large.bin": os.urandom(3 * MIB)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = credentials(tmp_path, digest_server)
    entries = [
        transfer("file://%s/%s" % (tmp_path, n), dav(digest_server, n), n) for n in files
    ] + [
        transfer("file://%s/%s" % (tmp_path, n), dav(digest_server, "deeper/%s" % n), "deep-" + n)
        for n in files
    ]
    run = pegasus_transfer(entries, "-n", "2", env=env)
    assert run.rc == 0, run.stderr
    for name, data in files.items():
        assert (digest_server.root / name).read_bytes() == data
        assert (digest_server.root / "deeper" / name).read_bytes() == data
    back = pegasus_transfer(
        [transfer(dav(digest_server, "large.bin"), "file://%s/back.bin" % tmp_path)], env=env
    )
    assert back.rc == 0, back.stderr
    assert (tmp_path / "back.bin").read_bytes() == files["large.bin"]


def test_refuses_to_remove_the_top_collection(webdav_server, pegasus_transfer, tmp_path):
    marker = webdav_server.root / unique("keep")
    marker.write_bytes(b"keep")
    run = pegasus_transfer(
        [target("remove", site="dav", url=dav(webdav_server, "/"), recursive=True)],
        env=credentials(tmp_path, webdav_server),
    )
    assert run.rc == 1
    assert "refusing" in run.stderr
    assert marker.exists()


def test_nginx_dav_module(nginx_dav, pegasus_transfer, tmp_path):
    """Pegasus's MKCOL without a slash creates nothing on nginx; ours does, and a collection
    is deleted too."""
    data = os.urandom(100_000)
    (tmp_path / "up").write_bytes(data)
    root = nginx_dav.root
    put = pegasus_transfer([transfer("file://%s/up" % tmp_path, dav(nginx_dav, "a/b/up"))])
    assert put.rc == 0, put.stderr
    assert (root / "a" / "b" / "up").read_bytes() == data
    made = pegasus_transfer([target("mkdir", site="dav", url=dav(nginx_dav, "m/n"))])
    assert made.rc == 0, made.stderr
    assert (root / "m" / "n").is_dir()
    entry = transfer(dav(nginx_dav, "a/b/up"), dav(nginx_dav, "c/copy"))
    entry["src_urls"][0]["site_label"] = entry["dest_urls"][0]["site_label"] = "dav"
    copied = pegasus_transfer([entry])
    assert copied.rc == 0, copied.stderr
    assert (root / "c" / "copy").read_bytes() == data
    gone = pegasus_transfer([target("remove", site="dav", url=dav(nginx_dav, "a"), recursive=True)])
    assert gone.rc == 0, gone.stderr
    assert sorted(os.listdir(root)) == ["c", "m"]
