"""scp:// and sftp:// against a real OpenSSH sshd (tests/servers/sshd.py).

sshd runs as this user on 127.0.0.1, so a remote path is also a local one: the tests put
files where sshd can see them and look at the results directly.  Connections are counted in
sshd's own log ("Accepted publickey" once per login).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import threading

import pytest

from tests.conftest import console_script
from tests.servers.sshd import keygen
from tests.transfer.conftest import leftovers
from transfer.credentials import Credentials
from transfer.handlers.base import Context
from transfer.handlers.ssh import SshHandler
from transfer.inputs import Endpoint
from transfer.streams import AtomicFile, HashingReader
from transfer.urls import URL

pytestmark = pytest.mark.server

MIB = 1024 * 1024
SITE = "ssh-site"  # a '-' in the label: the variable is SSH_PRIVATE_KEY_ssh_site


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def entry(src: str, dst: str, lfn: str, src_site: str = "local", dst_site: str = SITE, **extra):
    item = {
        "type": "transfer",
        "lfn": lfn,
        "linkage": "input",
        "src_urls": [{"site_label": src_site, "url": src}],
        "dest_urls": [{"site_label": dst_site, "url": dst}],
    }
    item.update(extra)
    return item


def logins(server) -> int:
    return server.log_path.read_text(errors="replace").count("Accepted publickey for ")


class Remote:
    """A directory served by sshd, with URLs for it."""

    def __init__(self, server, root):
        self.server = server
        self.root = root
        root.mkdir(exist_ok=True)
        self.env = {"SSH_PRIVATE_KEY_ssh_site": str(server.client_key)}

    def url(self, relative: str, scheme: str = "scp", user: bool = True) -> str:
        who = "%s@" % self.server.user if user else ""
        return "%s://%s127.0.0.1:%d%s/%s" % (scheme, who, self.server.port, self.root, relative)


@pytest.fixture
def remote(sshd_server, tmp_path):
    return Remote(sshd_server, tmp_path / "remote")


# ---------------------------------------------------------------------------- put / get


def test_put_several_files_over_one_connection(remote, pegasus_transfer, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    payloads = {"f%d" % i: os.urandom(1000 * i + 1) for i in range(6)}
    for name, data in payloads.items():
        (src / name).write_bytes(data)
    (src / "f0").chmod(0o755)  # an executable stays executable
    targets = {
        "f0": remote.url("a/b/f0"),
        "f1": remote.url("a/b/f1"),
        "f2": remote.url("a/c/d/f2", scheme="sftp"),  # scp and sftp share the connection
        "f3": remote.url("f3", scheme="sftp"),
        "f4": remote.url("a/b/f4"),
        "f5": remote.url("a/f5"),
    }
    entries = [entry("file://%s" % (src / n), targets[n], n) for n in payloads]
    entries[1]["verify_checksum_remote"] = True  # read back over the same connection
    before = logins(remote.server)
    run = pegasus_transfer(entries, "-n", "4", env=remote.env)
    assert run.rc == 0, run.stderr
    assert logins(remote.server) - before == 1  # six puts, one SSH login
    places = {"f0": "a/b", "f1": "a/b", "f2": "a/c/d", "f3": "", "f4": "a/b", "f5": "a"}
    for name, data in payloads.items():
        assert (remote.root / places[name] / name).read_bytes() == data
    assert stat.S_IMODE((remote.root / "a/b/f0").stat().st_mode) & 0o100
    assert not stat.S_IMODE((remote.root / "a/b/f1").stat().st_mode) & 0o100
    for directory in ("", "a", "a/b", "a/c/d"):  # no temporary names left anywhere
        assert not [n for n in leftovers(remote.root / directory) if ".part-" in n]
    attempts = run.report["attempts"]
    assert len(attempts) == 6 and all(a["success"] for a in attempts)
    assert {a["lfn"]: a["sha256"] for a in attempts} == {n: sha256(d) for n, d in payloads.items()}
    assert {a["lfn"]: a["bytes"] for a in attempts} == {n: len(d) for n, d in payloads.items()}


def test_put_replaces_an_existing_file(remote, pegasus_transfer, tmp_path):
    (remote.root / "old").write_bytes(b"previous contents, longer than the new ones")
    (tmp_path / "new").write_bytes(b"new")
    run = pegasus_transfer([entry("file://%s" % (tmp_path / "new"), remote.url("old"), "new")],
                           env=remote.env)  # fmt: skip
    assert run.rc == 0, run.stderr
    assert (remote.root / "old").read_bytes() == b"new"
    assert leftovers(remote.root) == ["old"]


@pytest.mark.parametrize(
    "scheme, user", [("scp", True), ("sftp", True), ("scp", False)], ids=["scp", "sftp", "no-user"]
)
def test_get(remote, pegasus_transfer, tmp_path, scheme, user):
    files = {"one": os.urandom(70_000), "two": b"", "three": b"x" * 3}
    for name, data in files.items():
        (remote.root / "sub").mkdir(exist_ok=True)
        (remote.root / "sub" / name).write_bytes(data)
    dest = tmp_path / "dest"
    entries = [
        entry(remote.url("sub/" + n, scheme, user), "file://%s/%s" % (dest, n), n, SITE, "local")
        for n in files
    ]
    before = logins(remote.server)
    run = pegasus_transfer(entries, env=remote.env)
    assert run.rc == 0, run.stderr
    assert logins(remote.server) - before == 1
    for name, data in files.items():
        assert (dest / name).read_bytes() == data
    assert leftovers(dest) == sorted(files)
    assert {a["lfn"]: a["sha256"] for a in run.report["attempts"]} == {
        n: sha256(d) for n, d in files.items()
    }


def test_remote_to_remote_goes_through_a_local_file(remote, pegasus_transfer):
    data = os.urandom(123_457)
    (remote.root / "orig").write_bytes(data)
    run = pegasus_transfer(
        [entry(remote.url("orig"), remote.url("copies/dup", "sftp"), "dup", SITE, SITE)],
        env=remote.env,
    )
    assert run.rc == 0, run.stderr
    assert (remote.root / "copies" / "dup").read_bytes() == data
    assert run.report["attempts"][0]["sha256"] == sha256(data)


def test_50_mb_round_trip(remote, pegasus_transfer, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        for _ in range(50):
            fh.write(os.urandom(MIB))
    expected = file_sha256(big)
    run = pegasus_transfer([entry("file://%s" % big, remote.url("big/big.bin"), "big")],
                           env=remote.env)  # fmt: skip
    assert run.rc == 0, run.stderr
    assert file_sha256(remote.root / "big" / "big.bin") == expected
    assert run.report["attempts"][0]["sha256"] == expected
    back = tmp_path / "back" / "big.bin"
    run = pegasus_transfer(
        [entry(remote.url("big/big.bin", "sftp"), "file://%s" % back, "big", SITE, "local")],
        env=remote.env,
    )
    assert run.rc == 0, run.stderr
    assert file_sha256(back) == expected
    assert run.report["attempts"][0]["sha256"] == expected
    assert run.report["attempts"][0]["bytes"] == 50 * MIB


# ---------------------------------------------------------------------------- mkdir / remove


def test_mkdir(remote, pegasus_transfer):
    (remote.root / "exists").mkdir()
    (remote.root / "plainfile").write_bytes(b"")
    good = [
        {"type": "mkdir", "target": {"site_label": SITE, "url": remote.url("x/y/z")}},
        {"type": "mkdir", "target": {"site_label": SITE, "url": remote.url("x/y/w/", "sftp")}},
        {"type": "mkdir", "target": {"site_label": SITE, "url": remote.url("exists")}},
    ]
    run = pegasus_transfer(good, env=remote.env)
    assert run.rc == 0, run.stderr
    assert (remote.root / "x/y/z").is_dir() and (remote.root / "x/y/w").is_dir()
    bad = [{"type": "mkdir", "target": {"site_label": SITE, "url": remote.url("plainfile/sub")}}]
    run = pegasus_transfer(bad, env=remote.env)
    assert run.rc == 1
    assert "plainfile exists and is not a directory" in run.stderr
    assert (remote.root / "plainfile").is_file()


def test_remove(remote, pegasus_transfer, tmp_path):
    (remote.root / "lone").write_bytes(b"bye")
    tree = remote.root / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    for path in ("top", "a/one", "a/b/two", "a/b/.hidden"):
        (tree / path).write_bytes(b"data")
    keep = tmp_path / "keep"  # a link inside the tree must not be followed
    keep.mkdir()
    (keep / "precious").write_bytes(b"mine")
    (tree / "a" / "link").symlink_to(keep)

    def remove(relative, recursive=False, scheme="scp"):
        target = {"site_label": SITE, "url": remote.url(relative, scheme), "recursive": recursive}
        return {"type": "remove", "target": target}

    run = pegasus_transfer(
        [remove("lone"), remove("never-existed"), remove("tree", True, "sftp")], env=remote.env
    )
    assert run.rc == 0, run.stderr
    assert leftovers(remote.root) == []
    assert (keep / "precious").read_bytes() == b"mine"

    (remote.root / "dir" / "inner").mkdir(parents=True)
    run = pegasus_transfer([remove("dir")], env=remote.env)
    assert run.rc == 1
    assert "is a directory (a recursive remove is needed)" in run.stderr
    assert (remote.root / "dir" / "inner").is_dir()


# ---------------------------------------------------------------------------- failures


def test_checksum_mismatch_on_get(remote, pegasus_transfer, tmp_path):
    (remote.root / "data").write_bytes(b"the real bytes")
    dest = tmp_path / "dest"
    item = entry(remote.url("data"), "file://%s/data" % dest, "data", SITE, "local",
                 checksum=sha256(b"other bytes"))  # fmt: skip
    run = pegasus_transfer([item], env=remote.env)
    assert run.rc == 1
    assert "checksum mismatch" in run.stderr
    assert leftovers(dest) == []  # not even a temporary file
    attempts = run.report["attempts"]
    assert len(attempts) == 2 and not any(a["success"] for a in attempts)  # one re-fetch


def test_missing_remote_source(remote, pegasus_transfer, tmp_path):
    dest = tmp_path / "dest"
    item = entry(remote.url("nope/missing"), "file://%s/missing" % dest, "missing", SITE, "local")
    run = pegasus_transfer([item], env=remote.env)
    assert run.rc == 1
    attempts = run.report["attempts"]
    assert len(attempts) == 1  # not found: not retried
    assert "no such file" in attempts[0]["error"]
    assert leftovers(dest) == []


def test_a_remote_directory_is_not_a_source(remote, pegasus_transfer, tmp_path):
    (remote.root / "adir").mkdir()
    item = entry(remote.url("adir"), "file://%s/adir" % tmp_path, "adir", SITE, "local")
    run = pegasus_transfer([item], env=remote.env)
    assert run.rc == 1
    assert len(run.report["attempts"]) == 1
    assert "is a directory" in run.report["attempts"][0]["error"]
    assert not (tmp_path / "adir").exists()


def test_wrong_key(remote, pegasus_transfer, tmp_path):
    wrong = tmp_path / "wrong_ed25519"
    keygen(wrong)
    (tmp_path / "f").write_bytes(b"x")
    entries = [
        entry("file://%s" % (tmp_path / "f"), remote.url("w%d" % i), "w%d" % i) for i in range(3)
    ]
    refused = "Connection closed by authenticating user"  # sshd's line for a failed login
    before = remote.server.log_path.read_text(errors="replace").count(refused)
    run = pegasus_transfer(entries, "-d", env={"SSH_PRIVATE_KEY_ssh_site": str(wrong)})
    assert run.rc == 1
    where = "%s@127.0.0.1:%d" % (remote.server.user, remote.server.port)
    assert "ssh authentication to %s failed with the key from SSH_PRIVATE_KEY_ssh_site" % where in (
        run.stderr
    )
    secret = wrong.read_text()
    assert secret.splitlines()[1] not in run.stderr + run.stdout
    assert len(run.report["attempts"]) == 3  # one per file, none retried
    assert leftovers(remote.root) == []
    # the refusal is remembered: one login attempt for the three files (sshd logs a refusal
    # when the client hangs up, which may be a moment after the run; our debug log is exact)
    assert run.stderr.count("ssh: connecting to %s" % where) == 1
    after = remote.server.log_path.read_text(errors="replace").count(refused)
    assert after - before <= 1


def test_key_readable_by_others_is_made_private(remote, pegasus_transfer, tmp_path):
    key = tmp_path / "key"
    shutil.copyfile(remote.server.client_key, key)
    key.chmod(0o644)
    (remote.root / "g").write_bytes(b"got it")
    item = entry(remote.url("g"), "file://%s" % (tmp_path / "g"), "g", SITE, "local")
    run = pegasus_transfer([item], env={"SSH_PRIVATE_KEY": str(key)})
    assert run.rc == 0, run.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "was readable by others; changed it to 0600" in run.stderr
    assert (tmp_path / "g").read_bytes() == b"got it"


def test_missing_key_file(remote, pegasus_transfer, tmp_path):
    missing = tmp_path / "no-such-key"
    item = entry(remote.url("x"), "file://%s" % (tmp_path / "x"), "x", SITE, "local")
    run = pegasus_transfer([item], env={"SSH_PRIVATE_KEY": str(missing)})
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines == ["pegasus-transfer: SSH_PRIVATE_KEY names %s, which does not exist" % missing]
    assert not (tmp_path / "x").exists()


def test_key_with_a_passphrase(remote, pegasus_transfer, tmp_path):
    key = tmp_path / "locked"
    cmd = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-phrase", "-f", str(key)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    item = entry(remote.url("x"), "file://%s" % (tmp_path / "x"), "x", SITE, "local")
    run = pegasus_transfer([item], env={"SSH_PRIVATE_KEY_ssh_site": str(key)})
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines == [
        "pegasus-transfer: SSH_PRIVATE_KEY_ssh_site names %s, a key protected by a passphrase; "
        "use a key without one, or unset it and load the key into ssh-agent" % key
    ]
    assert "s3cret-phrase" not in run.stderr


def test_without_ssh_private_key_the_default_keys_are_used(remote, pegasus_transfer, tmp_path):
    """No SSH_PRIVATE_KEY: paramiko's own chain (ssh-agent, ~/.ssh/id_*), as ssh does."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (remote.root / "h").write_bytes(b"via ~/.ssh")
    item = entry(remote.url("h"), "file://%s" % (tmp_path / "h"), "h", SITE, "local")
    no_agent = {"HOME": str(home), "SSH_AUTH_SOCK": ""}
    run = pegasus_transfer([item], env=no_agent)  # nothing to log in with
    assert run.rc == 1
    assert "failed with ssh-agent and ~/.ssh keys (SSH_PRIVATE_KEY is not set)" in run.stderr
    assert len(run.report["attempts"]) == 1
    shutil.copyfile(remote.server.client_key, home / ".ssh" / "id_ed25519")
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    run = pegasus_transfer([item], env=no_agent)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "h").read_bytes() == b"via ~/.ssh"


def test_put_onto_a_directory_leaves_no_partial_file(remote, pegasus_transfer, tmp_path):
    (remote.root / "taken").mkdir()  # the destination name is a directory: rename fails
    (tmp_path / "f").write_bytes(os.urandom(300_000))
    run = pegasus_transfer([entry("file://%s" % (tmp_path / "f"), remote.url("taken"), "f")],
                           env=remote.env)  # fmt: skip
    assert run.rc == 1
    assert "taken exists and is a directory" in run.stderr
    assert len(run.report["attempts"]) == 1
    assert leftovers(remote.root) == ["taken"]
    assert leftovers(remote.root / "taken") == []


def test_interrupted_upload_leaves_no_partial_file(remote, tmp_path):
    """The source is a FIFO fed by the test: once 1 MiB has gone through, the upload is
    under way (its temporary file exists on the server); then SIGINT, as Ctrl-C would."""
    fifo = tmp_path / "source.fifo"
    os.mkfifo(fifo)
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([entry("file://%s" % fifo, remote.url("out/file"), "file")]))
    env = dict(os.environ, **remote.env)
    proc = subprocess.Popen(
        [*console_script("pegasus-transfer"), "-m", "1", "-f", str(listing)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )

    def give_up():  # a hung run must fail the test, not hang it: unblock our FIFO calls
        proc.kill()
        try:
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass

    watchdog = threading.Timer(60, give_up)
    watchdog.start()
    writer = os.open(fifo, os.O_WRONLY)  # blocks until pegasus-transfer opens the source
    try:
        block = os.urandom(MIB)
        view = memoryview(block)
        while view:  # returns once the reader took all but a pipe buffer of it
            view = view[os.write(writer, view) :]
        partial = [n for n in leftovers(remote.root / "out") if ".part-" in n]
        assert len(partial) == 1  # the upload really is half done
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)  # the FIFO stays open: no EOF, no success
    finally:
        watchdog.cancel()
        os.close(writer)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert b"interrupted" in stderr
    assert leftovers(remote.root / "out") == [], stderr.decode()


# ---------------------------------------------------------------------------- the handler itself
# In-process, against the same sshd: what the command line cannot reach deterministically.


def make_handler(remote, threads: int = 4):
    env = dict(remote.env)
    return SshHandler(Context(env, Credentials(env), threads, debug=False))


def endpoint(remote, relative: str) -> Endpoint:
    return Endpoint(URL(remote.url(relative)), SITE)


class ReaderThatDropsTheConnection(HashingReader):
    """A local source that, after the first megabyte, kills the handler's SSH transport:
    the connection dies in the middle of an upload."""

    def __init__(self, path, handler):
        super().__init__(str(path))
        self.handler = handler
        self.dropped = False

    def readinto(self, buffer):
        if self.position and not self.dropped:
            self.dropped = True
            self.handler._client.get_transport().close()
        return super().readinto(buffer)


class SinkThatDropsTheConnection(AtomicFile):
    def __init__(self, path, handler):
        super().__init__(str(path))
        self.handler = handler
        self.dropped = False

    def write(self, data):
        if not self.dropped:
            self.dropped = True
            self.handler._client.get_transport().close()
        return super().write(data)


def test_a_connection_lost_mid_upload_is_reopened_once(remote, tmp_path):
    data = os.urandom(3 * MIB + 5)
    (tmp_path / "src").write_bytes(data)
    handler = make_handler(remote)
    before = logins(remote.server)
    try:
        reader = ReaderThatDropsTheConnection(tmp_path / "src", handler)
        try:
            handler.put(reader, endpoint(remote, "up/file"))
        finally:
            reader.close()
        assert reader.dropped
        assert reader.sha256 == sha256(data)  # the retry read the file again from the start
        assert handler.connections == 2
    finally:
        handler.close()
    assert logins(remote.server) - before == 2
    assert (remote.root / "up" / "file").read_bytes() == data
    assert leftovers(remote.root / "up") == ["file"]  # the first try's partial file removed


def test_a_connection_lost_mid_download_is_reopened_once(remote, tmp_path):
    data = os.urandom(3 * MIB + 7)
    (remote.root / "down").write_bytes(data)
    handler = make_handler(remote)
    sink = SinkThatDropsTheConnection(tmp_path / "down", handler)
    try:
        handler.get(endpoint(remote, "down"), sink)
        assert sink.dropped and handler.connections == 2
        assert sink.sha256 == sha256(data)  # rewound: the bytes of the first try are gone
        sink.commit()
    finally:
        sink.close()
        handler.close()
    assert (tmp_path / "down").read_bytes() == data


def test_channels_are_shared_beyond_the_servers_max_sessions(remote):
    """sshd allows 10 sessions per connection (MaxSessions): twelve threads at once get
    channels on one connection, two of them waiting for a channel to be given back."""
    handler = make_handler(remote, threads=12)
    target = endpoint(remote, "x")
    got = []
    release = threading.Event()
    lock = threading.Lock()

    def worker():
        sftp, generation = handler._checkout(target)
        with lock:
            got.append(sftp)
        release.wait(60)
        sftp.stat(str(remote.root))  # the channel works
        handler._checkin(sftp, generation, True)

    workers = [threading.Thread(target=worker) for _ in range(12)]
    try:
        for thread in workers:
            thread.start()
        with handler._cond:  # until the server has refused an 11th channel
            assert handler._cond.wait_for(lambda: handler._max_channels is not None, 60)
        release.set()
        for thread in workers:
            thread.join(60)
        assert len(got) == 12
        assert handler._max_channels == 10
        assert len({id(sftp) for sftp in got}) == 10
        assert handler.connections == 1
    finally:
        release.set()
        handler.close()
