"""irods:// (transfer/handlers/irods.py) — NO REAL iRODS SERVER IS USED HERE.

No iRODS server (nor the iCommands) can be installed on this machine, so these tests stop at
the library boundary: ``iRODSSession`` in the handler module is replaced by ``FakeSession``,
which keeps data objects and collections in dicts and raises python-irodsclient's own
exception classes where a server would.  Everything above that line is our real code: the
entries are parsed by transfer.inputs, run by transfer.engine.Engine (retries, atomic local
files, hashing), and the handler finds its credentials as in production.  Two CLI tests use
the real python-irodsclient: a missing environment file, and a login to a closed port.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os

import pytest

pytest.importorskip("irods")

import irods.exception as ierr
from irods.password_obfuscation import encode

from tests.servers import free_port
from transfer import engine as engine_module
from transfer.credentials import Credentials
from transfer.engine import Engine
from transfer.errors import BadInput
from transfer.handlers import irods as irods_handler
from transfer.handlers.base import Context
from transfer.inputs import parse
from transfer.report import Report

from .conftest import transfer

PASSWORD = "s3cr3t-irods-pw"
ZONE = "tempZone"
HOME_COLL = "/tempZone/home/alice"


class Store:
    """What the fake "server" holds, shared by every FakeSession of a test."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.collections: set[str] = {"/", "/tempZone", "/tempZone/home", HOME_COLL}
        self.sessions: list[FakeSession] = []
        self.password = PASSWORD
        self.fail_next: list[BaseException] = []  # raised by the next open(), in order
        self.fail_write_after: int | None = None
        self.corrupt_checksums = False


class FakeWriter(io.RawIOBase):
    def __init__(self, store: Store, path: str):
        super().__init__()
        self.store, self.path, self.buffer = store, path, bytearray()
        store.objects[path] = b""  # open for write creates/truncates at once, as iRODS does

    def writable(self):
        return True

    def write(self, data):
        limit = self.store.fail_write_after
        if limit is not None and len(self.buffer) + len(data) > limit:
            self.store.objects[self.path] = bytes(self.buffer)  # what got there so far
            raise ierr.NetworkException("connection reset while writing")
        self.buffer += data
        return len(data)

    def close(self):
        if not self.closed and self.path in self.store.objects:
            self.store.objects[self.path] = bytes(self.buffer)
        super().close()


class FakeDataObjects:
    def __init__(self, session):
        self.session = session
        self.store = session.store

    def open(self, path, mode, **options):
        self.session.check()
        if self.store.fail_next:
            raise self.store.fail_next.pop(0)
        if mode == "r":
            if path not in self.store.objects:
                raise ierr.OBJ_PATH_DOES_NOT_EXIST()
            return io.BytesIO(self.store.objects[path])
        if mode == "w":
            if os.path.dirname(path) not in self.store.collections:
                raise ierr.CAT_UNKNOWN_COLLECTION()
            return FakeWriter(self.store, path)
        raise AssertionError("unexpected mode %r" % mode)

    def unlink(self, path, force=False, **options):
        self.session.check()
        if path not in self.store.objects:
            raise ierr.CAT_NO_ROWS_FOUND()
        del self.store.objects[path]

    def chksum(self, path, **options):
        self.session.check()
        if path not in self.store.objects:
            raise ierr.DataObjectDoesNotExist()
        digest = hashlib.sha256(self.store.objects[path]).digest()
        if self.store.corrupt_checksums:
            digest = hashlib.sha256(b"something else").digest()
        return "sha2:" + base64.b64encode(digest).decode()


class FakeCollections:
    def __init__(self, session):
        self.session = session
        self.store = session.store

    def create(self, path, recurse=True, **options):
        self.session.check()
        path = path.rstrip("/") or "/"
        if path in self.store.objects:
            raise ierr.CAT_NAME_EXISTS_AS_DATAOBJ()
        parent = os.path.dirname(path)
        if parent not in self.store.collections:
            if not recurse:
                raise ierr.CollectionDoesNotExist()
            self.create(parent, recurse=True)
        self.store.collections.add(path)

    def exists(self, path):
        self.session.check()
        return path in self.store.collections

    def remove(self, path, recurse=True, force=False, **options):
        self.session.check()
        if path not in self.store.collections:
            raise ierr.CollectionDoesNotExist()
        inside = [o for o in self.store.objects if o.startswith(path + "/")]
        subs = [c for c in self.store.collections if c.startswith(path + "/")]
        if (inside or subs) and not recurse:
            raise ierr.CAT_COLLECTION_NOT_EMPTY()
        for o in inside:
            del self.store.objects[o]
        self.store.collections -= {path, *subs}


class FakeSession:
    """Stands in for irods.session.iRODSSession: same constructor keywords, same managers."""

    store: Store

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.ticket__ = ""
        self.cleaned = False
        self.data_objects = FakeDataObjects(self)
        self.collections = FakeCollections(self)
        self.store.sessions.append(self)

    def check(self):
        # like the server: the login happens with the first request on a connection
        if self.kwargs.get("password") != self.store.password:
            raise ierr.CAT_INVALID_AUTHENTICATION("failed to authenticate")

    def cleanup(self):
        self.cleaned = True


@pytest.fixture
def store(monkeypatch):
    s = Store()
    monkeypatch.setattr(FakeSession, "store", s, raising=False)
    monkeypatch.setattr(irods_handler, "iRODSSession", FakeSession)
    monkeypatch.setattr(engine_module, "BACKOFF_FIRST", 0.01)  # retries without long waits
    return s


def env_file(tmp_path, name="irods_environment.json", **extra) -> str:
    settings = {
        "irods_host": "irods.example.org",
        "irods_port": 1247,
        "irods_user_name": "alice",
        "irods_zone_name": ZONE,
        "irods_client_server_policy": "CS_NEG_REFUSE",
        "irodsPassword": PASSWORD,
    }
    settings.update(extra)
    settings = {k: v for k, v in settings.items() if v is not None}
    path = tmp_path / name
    path.write_text(json.dumps(settings))
    path.chmod(0o600)
    return str(path)


def run(tmp_path, entries, env=None, threads=4, attempts=3):
    full_env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    full_env.update(env or {})
    context = Context(full_env, Credentials(full_env), threads, False)
    report = Report(progress=False)
    engine = Engine(context, max_attempts=attempts, threads=threads, report=report, meta_dir=None)
    ok = engine.run(parse(json.dumps(entries), full_env))
    by_lfn: dict[str, list] = {}
    for a in report.attempts:
        by_lfn.setdefault(a.lfn, []).append(a)
    return ok, by_lfn


def irods_url(path: str) -> str:
    return "irods://alice@irods.example.org:1247%s" % path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_then_get_round_trip_through_the_engine(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    local = tmp_path / "in"
    local.mkdir()
    payloads = {"f%d" % i: os.urandom(1000 * i + 7) for i in range(5)}
    payloads["big"] = os.urandom((9 << 20) + 3)  # several chunks
    for name, data in payloads.items():
        (local / name).write_bytes(data)

    ok, attempts = run(
        tmp_path,
        [
            transfer(
                "file://%s/%s" % (local, n), irods_url("%s/run1/sub/%s" % (HOME_COLL, n)), lfn=n
            )
            for n in payloads
        ],
        env,
    )
    assert ok
    for name, data in payloads.items():
        assert store.objects["%s/run1/sub/%s" % (HOME_COLL, name)] == data
        assert attempts[name][0].sha256 == sha256(data)
    assert "%s/run1/sub" % HOME_COLL in store.collections

    out = tmp_path / "out"
    ok, attempts = run(
        tmp_path,
        [
            transfer(irods_url("%s/run1/sub/%s" % (HOME_COLL, n)), "file://%s/%s" % (out, n), lfn=n)
            for n in payloads
        ],
        env,
    )
    assert ok
    for name, data in payloads.items():
        assert (out / name).read_bytes() == data
        assert attempts[name][0].sha256 == sha256(data)
    assert sorted(os.listdir(out)) == sorted(payloads)  # no temporary files left

    # one session per handler instance, configured from the environment file
    assert len(store.sessions) == 2  # one per engine run
    kwargs = store.sessions[0].kwargs
    assert kwargs["host"] == "irods.example.org" and kwargs["port"] == 1247
    assert kwargs["user"] == "alice" and kwargs["zone"] == ZONE
    assert kwargs["password"] == PASSWORD
    assert kwargs["irods_client_server_policy"] == "CS_NEG_REFUSE"
    assert "irodsPassword" not in kwargs
    assert all(s.cleaned for s in store.sessions)


def test_site_environment_file_wins(tmp_path, store):
    generic = env_file(tmp_path, "generic.json", irodsPassword="wrong")
    site = env_file(tmp_path, "site.json", irods_user_name="bob")
    store.objects[HOME_COLL + "/x"] = b"hello"
    entry = transfer(irods_url(HOME_COLL + "/x"), "file://%s/x" % tmp_path)
    entry["src_urls"][0]["site_label"] = "my-site"

    ok, _ = run(
        tmp_path,
        [entry],
        {"IRODS_ENVIRONMENT_FILE": generic, "IRODS_ENVIRONMENT_FILE_my_site": site},
    )

    assert ok and (tmp_path / "x").read_bytes() == b"hello"
    assert store.sessions[0].kwargs["user"] == "bob"


def test_password_from_scrambled_irodsA(tmp_path, store):
    env = env_file(tmp_path, irodsPassword=None)
    auth = tmp_path / "dot-irodsA"
    auth.write_text(encode(PASSWORD) + "\n")
    store.objects[HOME_COLL + "/y"] = b"scrambled ok"

    ok, _ = run(
        tmp_path,
        [transfer(irods_url(HOME_COLL + "/y"), "file://%s/y" % tmp_path)],
        {"IRODS_ENVIRONMENT_FILE": env, "IRODS_AUTHENTICATION_FILE": str(auth)},
    )

    assert ok and (tmp_path / "y").read_bytes() == b"scrambled ok"
    assert store.sessions[0].kwargs["password"] == PASSWORD


def test_ticket_is_supplied(tmp_path, store):
    env = env_file(tmp_path, irodsTicket="TICKET123")
    store.objects[HOME_COLL + "/t"] = b"t"
    ok, _ = run(
        tmp_path,
        [transfer(irods_url(HOME_COLL + "/t"), "file://%s/t" % tmp_path)],
        {"IRODS_ENVIRONMENT_FILE": env},
    )
    assert ok
    assert store.sessions[0].ticket__ == "TICKET123"


def test_missing_object_is_not_found_not_retried_nothing_left(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    out = tmp_path / "out"
    ok, attempts = run(
        tmp_path,
        [transfer(irods_url(HOME_COLL + "/nope"), "file://%s/nope" % out, lfn="nope")],
        env,
    )
    assert not ok
    assert len(attempts["nope"]) == 1  # permanent: no second try
    assert "OBJ_PATH_DOES_NOT_EXIST" in attempts["nope"][0].error
    assert not out.exists() or os.listdir(out) == []


def test_rejected_login_is_access_denied_without_the_password(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path, irodsPassword="not-the-password")}
    store.objects[HOME_COLL + "/z"] = b"z"
    ok, attempts = run(
        tmp_path, [transfer(irods_url(HOME_COLL + "/z"), "file://%s/z" % tmp_path, lfn="z")], env
    )
    assert not ok
    assert len(attempts["z"]) == 1
    error = attempts["z"][0].error
    assert "iRODS rejected the login of alice@irods.example.org:1247" in error
    assert "CAT_INVALID_AUTHENTICATION" in error
    assert "not-the-password" not in error and PASSWORD not in error
    assert not (tmp_path / "z").exists()


def test_network_error_is_retried(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    store.objects[HOME_COLL + "/n"] = b"after a retry"
    store.fail_next.append(ierr.NetworkException("Could not connect to specified host and port"))
    ok, attempts = run(
        tmp_path, [transfer(irods_url(HOME_COLL + "/n"), "file://%s/n" % tmp_path, lfn="n")], env
    )
    assert ok
    assert [a.success for a in attempts["n"]] == [False, True]
    assert "NetworkException" in attempts["n"][0].error
    assert (tmp_path / "n").read_bytes() == b"after a retry"


def test_failed_put_leaves_no_partial_object(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(10 << 20))
    store.fail_write_after = 5 << 20
    ok, attempts = run(
        tmp_path,
        [transfer("file://%s" % src, irods_url(HOME_COLL + "/partial.bin"), lfn="p")],
        env,
        attempts=1,
    )
    assert not ok
    assert "connection reset" in attempts["p"][0].error
    assert HOME_COLL + "/partial.bin" not in store.objects


def test_verify_checksum_remote_uses_the_server_sha256(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    src = tmp_path / "v.bin"
    src.write_bytes(b"verified bytes")
    entry = transfer("file://%s" % src, irods_url(HOME_COLL + "/v.bin"), lfn="v")
    entry["verify_checksum_remote"] = True
    ok, _ = run(tmp_path, [entry], env)
    assert ok

    store.corrupt_checksums = True
    ok, attempts = run(tmp_path, [entry], env, attempts=1)
    assert not ok
    assert "remote checksum mismatch" in attempts["v"][-1].error


def test_mkdir_and_remove(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    ok, _ = run(
        tmp_path,
        [{"type": "mkdir", "target": {"site_label": "s", "url": irods_url(HOME_COLL + "/a/b/c")}}],
        env,
    )
    assert ok
    assert {HOME_COLL + "/a", HOME_COLL + "/a/b", HOME_COLL + "/a/b/c"} <= store.collections

    store.objects[HOME_COLL + "/a/b/c/obj"] = b"1"
    store.objects[HOME_COLL + "/a/top"] = b"2"

    def remove(path, recursive=None):
        target = {"site_label": "s", "url": irods_url(path)}
        if recursive is not None:
            target["recursive"] = recursive
        return {"type": "remove", "target": target}

    ok, _ = run(tmp_path, [remove(HOME_COLL + "/a/top"), remove(HOME_COLL + "/a/never")], env)
    assert ok  # a path already gone counts as removed
    assert HOME_COLL + "/a/top" not in store.objects

    ok, _ = run(tmp_path, [remove(HOME_COLL + "/a/b")], env, attempts=1)
    assert not ok  # a collection needs recursive
    assert HOME_COLL + "/a/b/c/obj" in store.objects

    ok, _ = run(tmp_path, [remove(HOME_COLL + "/a/b", "true")], env)
    assert ok
    assert HOME_COLL + "/a/b/c/obj" not in store.objects
    assert not any(c.startswith(HOME_COLL + "/a/b") for c in store.collections)


def test_irods_to_irods_goes_through_a_local_file(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path)}
    store.objects[HOME_COLL + "/from"] = b"two stage"
    ok, _ = run(
        tmp_path, [transfer(irods_url(HOME_COLL + "/from"), irods_url(HOME_COLL + "/to/copy"))], env
    )
    assert ok
    assert store.objects[HOME_COLL + "/to/copy"] == b"two stage"


def test_missing_environment_file_is_one_clear_line(tmp_path, store):
    with pytest.raises(BadInput) as caught:
        run(tmp_path, [transfer(irods_url(HOME_COLL + "/x"), "file://%s/x" % tmp_path)])
    message = str(caught.value)
    assert "IRODS_ENVIRONMENT_FILE_src or IRODS_ENVIRONMENT_FILE" in message

    with pytest.raises(BadInput) as caught:
        run(
            tmp_path,
            [transfer(irods_url(HOME_COLL + "/x"), "file://%s/x" % tmp_path)],
            {"IRODS_ENVIRONMENT_FILE": str(tmp_path / "absent.json")},
        )
    assert "absent.json, which does not exist" in str(caught.value)


def test_no_password_anywhere_is_a_credential_error(tmp_path, store):
    env = {"IRODS_ENVIRONMENT_FILE": env_file(tmp_path, irodsPassword=None)}
    with pytest.raises(BadInput) as caught:
        run(tmp_path, [transfer(irods_url(HOME_COLL + "/x"), "file://%s/x" % tmp_path)], env)
    assert "no iRODS password for alice" in str(caught.value)


# ------------------------------------------------------------- CLI, real python-irodsclient


def test_cli_without_environment_file(pegasus_transfer, tmp_path):
    run_ = pegasus_transfer(
        [transfer(irods_url(HOME_COLL + "/x"), "file://%s/x" % tmp_path)],
        env={"HOME": str(tmp_path / "home"), "IRODS_ENVIRONMENT_FILE": ""},
    )
    assert run_.rc == 1
    lines = [line for line in run_.stderr.splitlines() if line.startswith("pegasus-transfer:")]
    assert len(lines) == 1 and "IRODS_ENVIRONMENT_FILE" in lines[0]


def test_cli_unreachable_server_fails_cleanly(pegasus_transfer, tmp_path):
    """The real python-irodsclient against a port nobody listens on: a retryable network
    error, exit 1, the password nowhere in the output, no file at the destination."""
    env_path = env_file(tmp_path, irods_host="127.0.0.1", irods_port=free_port())
    run_ = pegasus_transfer(
        [transfer(irods_url(HOME_COLL + "/x"), "file://%s/out/x" % tmp_path, lfn="x")],
        "-m",
        "1",
        env={"IRODS_ENVIRONMENT_FILE": env_path, "HOME": str(tmp_path / "home")},
    )
    assert run_.rc == 1
    assert PASSWORD not in run_.stderr + run_.stdout + json.dumps(run_.report)
    (attempt,) = run_.report["attempts"]
    assert not attempt["success"] and "NetworkException" in attempt["error"]
    assert not (tmp_path / "out" / "x").exists()
