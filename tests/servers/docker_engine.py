"""A Docker engine, a local registry and a small python3 image, all offline and on loopback.

* :func:`ensure_docker_engine` uses a reachable engine (``$DOCKER_HOST`` or
  ``/var/run/docker.sock``) or starts a private ``dockerd`` (Debian's ``docker.io``) with its own
  data root, exec root, pid file and unix socket under ``/tmp/pegasus-lite-dockerd-*``; only a
  daemon it started is stopped again (:meth:`DockerEngine.stop`).
* :class:`DockerRegistry` is Debian's ``docker-registry`` on ``127.0.0.1:<free port>``; the engine
  treats registries on 127.0.0.0/8 as insecure (plain HTTP) without any configuration.
* :func:`ensure_test_image` builds a Debian ``minbase`` root file system with python3 once
  (``debootstrap`` from the mirror apt uses, about a minute), keeps the tarball in a cache
  directory, then ``docker import``s it and pushes it to the registry (seconds).

Docker Hub is never contacted.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from . import ManagedServer, ServerUnavailable, find_program

#: Bump when the image recipe changes; it is part of the cache key and of the local tag.
IMAGE_VERSION = "1"
IMAGE_REPOSITORY = "pegasus-lite/test"
IMAGE_TAG = "1"
IMAGE_PACKAGES = ("python3",)

DEFAULT_SOCKET = "/var/run/docker.sock"
DOCKERD_PREFIX = "pegasus-lite-dockerd-"
PERSISTENT_ROOT = Path("/var/lib/pegasus-lite-dockerd")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SUITE = "bookworm"
SYSTEM_CACHE = Path("/var/cache/pegasus-lite-test-image")
IMAGE_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C.UTF-8",
)
# Left out of the tarball: documentation and caches nobody inside a test container reads.
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt/archives",
    "var/cache/apt/pkgcache.bin",
    "var/cache/apt/srcpkgcache.bin",
    "var/lib/apt/lists",
    "var/log",
)


# --------------------------------------------------------------------------------------------
# the docker command line


def docker_program() -> str:
    return find_program("docker", "/usr/bin", "/usr/local/bin")


def docker(
    host: str, *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``docker -H host args...`` and capture its output (text)."""
    cmd = [docker_program(), "-H", host, *args]
    env = dict(os.environ, DOCKER_HOST=host)
    env.pop("DOCKER_CONTEXT", None)
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ServerUnavailable("%s timed out after %ss" % (" ".join(cmd), timeout)) from None
    except OSError as exc:
        raise ServerUnavailable("cannot run docker: %s" % exc) from None
    if check and proc.returncode != 0:
        raise ServerUnavailable(
            "%s failed with status %d: %s"
            % (" ".join(cmd), proc.returncode, (proc.stderr or proc.stdout).strip()[-2000:])
        )
    return proc


def engine_reachable(host: str, timeout: float = 15) -> bool:
    try:
        return docker(host, "info", "--format", "{{.ServerVersion}}", timeout=timeout).stdout != ""
    except ServerUnavailable:
        return False


# --------------------------------------------------------------------------------------------
# process and mount helpers


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (deepest first), from /proc/self/mountinfo."""
    prefix = str(path).rstrip("/")
    found = []
    try:
        with open("/proc/self/mountinfo") as info:
            for line in info:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(point)
    except OSError:
        return []
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Unmount what is left below ``path`` (lazily), then delete it; never cross a mount."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    if _mounts_under(path):
        return
    shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_dockerd_dirs(base: Path) -> None:
    """Delete work dirs of private daemons whose test session was killed (dead pid file)."""
    for old in base.glob(DOCKERD_PREFIX + "*"):
        pidfile = old / "docker.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            # no pid file: either starting right now or never started; only very old ones go
            with contextlib.suppress(OSError):
                if time.time() - old.stat().st_mtime > 3600:
                    remove_tree(old)
            continue
        if not _pid_alive(pid):
            remove_tree(old)


# --------------------------------------------------------------------------------------------
# the engine


def _is_dockerd_on(pid: int, data_root: Path) -> bool:
    try:
        argv = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
    except OSError:
        return False
    return (
        bool(argv)
        and os.path.basename(argv[0]) == b"dockerd"
        and any(arg.endswith(os.fsencode(data_root)) for arg in argv)
    )


def _claim_persistent_root() -> tuple[Path, IO[str]] | None:
    """Lock the shared data root (kept between sessions); None when busy or unusable.

    Only one daemon may use a data root: a concurrent session gets None and falls back to a
    throw-away data root.  A daemon left by a killed session (it gets SIGTERM through
    PR_SET_PDEATHSIG) is given time to finish first.
    """
    base = Path(os.environ.get("PEGASUS_LITE_DOCKERD_ROOT") or PERSISTENT_ROOT)
    try:
        base.mkdir(parents=True, exist_ok=True)
        lock = open(base / "lock", "a")  # noqa: SIM115 - held until the engine stops
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return None
    data = base / "data"
    try:
        pid = int((base / "dockerd.pid").read_text().strip())
    except (OSError, ValueError):
        pid = 0
    deadline = time.monotonic() + 30
    while pid and _is_dockerd_on(pid, data):
        if time.monotonic() > deadline:
            lock.close()
            return None
        time.sleep(0.1)
    return data, lock


class DockerEngine:
    """A reachable Docker engine; ``host`` is the ``DOCKER_HOST`` value to use."""

    start_timeout = 90.0
    stop_timeout = 30.0

    def __init__(
        self, host: str, proc: subprocess.Popen | None = None, workdir: Path | None = None
    ):
        self.host = host
        self.proc = proc
        self.workdir = workdir
        self.data_root: Path | None = None
        self._lock: IO[str] | None = None

    @property
    def started_here(self) -> bool:
        return self.proc is not None

    def env(self, base: dict | None = None) -> dict:
        """``base`` (default: os.environ) with ``DOCKER_HOST`` pointing at this engine."""
        env = dict(os.environ if base is None else base)
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(self, *args: str, timeout: float = 300, check: bool = True):
        return docker(self.host, *args, timeout=timeout, check=check)

    def log_tail(self, lines: int = 20) -> str:
        if self.workdir is None:
            return "(not started here)"
        try:
            text = (self.workdir / "dockerd.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @classmethod
    def start_private(cls, base: Path = Path("/tmp")) -> DockerEngine:
        """Start ``dockerd`` listening on a unix socket only, with its own exec root and pid
        file in a fresh ``/tmp/pegasus-lite-dockerd-*`` directory.

        The data root (images) is kept between sessions in /var/lib/pegasus-lite-dockerd
        (``$PEGASUS_LITE_DOCKERD_ROOT``) when no other session is using it, so the test image
        need not be imported again; otherwise a throw-away one inside the directory is used.
        """
        dockerd = find_program("dockerd", "/usr/sbin", "/usr/bin")
        if os.geteuid() != 0:
            raise ServerUnavailable("no Docker engine reachable and dockerd needs root")
        _clean_stale_dockerd_dirs(base)
        workdir = Path(tempfile.mkdtemp(prefix=DOCKERD_PREFIX, dir=str(base)))
        os.chmod(workdir, 0o711)
        engine = cls("unix://%s" % (workdir / "docker.sock"), None, workdir)
        claimed = _claim_persistent_root()
        if claimed is not None:
            engine.data_root, engine._lock = claimed
        else:
            engine.data_root = workdir / "data"
        config = workdir / "daemon.json"
        config.write_text("{}\n")  # ignore /etc/docker/daemon.json
        cmd = [
            dockerd,
            "--config-file=%s" % config,
            "--data-root=%s" % engine.data_root,
            "--exec-root=%s" % (workdir / "exec"),
            "--pidfile=%s" % (workdir / "docker.pid"),
            "--host=%s" % engine.host,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--log-level=warn",
        ]
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
        with open(workdir / "dockerd.log", "ab") as log:
            engine.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        if engine._lock is not None:
            (engine.data_root.parent / "dockerd.pid").write_text("%d\n" % engine.proc.pid)
        try:
            engine._wait_ready()
            if engine._lock is not None:
                engine._reset()
        except BaseException:
            engine.stop()
            raise
        return engine

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.workdir is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerUnavailable(
                    "dockerd exited with status %s; log:\n%s"
                    % (self.proc.returncode, self.log_tail())
                )
            if (self.workdir / "docker.sock").exists() and engine_reachable(self.host, timeout=5):
                return
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    "dockerd did not answer in time; log:\n%s" % self.log_tail()
                )
            time.sleep(0.1)

    def _reset(self) -> None:
        """On a kept data root: drop containers and every image but the imported base."""
        ids = self.docker("ps", "--all", "--quiet", timeout=60).stdout.split()
        if ids:
            self.docker("rm", "--force", "--volumes", *ids, timeout=300, check=False)
        keep = local_image_tag()
        refs = self.docker(
            "images", "--format", "{{.Repository}}:{{.Tag}}", timeout=60
        ).stdout.split()
        stale = [ref for ref in refs if ref != keep and not ref.endswith(":<none>")]
        if stale:
            self.docker("rmi", *stale, timeout=300, check=False)
        self.docker("image", "prune", "--force", timeout=300, check=False)

    def stop(self) -> None:
        """Stop the daemon if it was started here (its containers stop with it); else no-op."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.workdir is not None:
            remove_tree(self.workdir)
        if self._lock is not None and self.data_root is not None:
            with contextlib.suppress(OSError):
                (self.data_root.parent / "dockerd.pid").unlink()
            self._lock.close()
            self._lock = None


def ensure_docker_engine() -> DockerEngine:
    """A running engine: ``$DOCKER_HOST``, the system socket, or a private ``dockerd``."""
    candidates = []
    if os.environ.get("DOCKER_HOST"):
        candidates.append(os.environ["DOCKER_HOST"])
    if os.path.exists(DEFAULT_SOCKET):
        candidates.append("unix://" + DEFAULT_SOCKET)
    if candidates:
        docker_program()  # the CLI is required either way
    for host in candidates:
        if engine_reachable(host):
            return DockerEngine(host)
    return DockerEngine.start_private()


# --------------------------------------------------------------------------------------------
# the registry

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
health:
  storagedriver:
    enabled: false
"""


class DockerRegistry(ManagedServer):
    """Debian's ``docker-registry`` (distribution 2.8), plain HTTP on 127.0.0.1."""

    name = "docker-registry"

    def command(self) -> list[str]:
        program = find_program("docker-registry", "/usr/bin")
        storage = self.workdir / "storage"
        storage.mkdir(exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(
            REGISTRY_CONFIG.format(storage=storage, port=self.port, secret=os.urandom(16).hex())
        )
        return [program, "serve", str(config)]

    @property
    def address(self) -> str:
        """``host:port`` as it appears in image references."""
        return "127.0.0.1:%d" % self.port


# --------------------------------------------------------------------------------------------
# the test image


def _os_release() -> dict:
    values = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value.strip().strip('"')
    return values


def image_suite() -> str:
    """The Debian release of the image: ``$PEGASUS_LITE_TEST_IMAGE_SUITE`` or the host's."""
    if os.environ.get("PEGASUS_LITE_TEST_IMAGE_SUITE"):
        return os.environ["PEGASUS_LITE_TEST_IMAGE_SUITE"]
    release = _os_release()
    if release.get("ID") == "debian" and release.get("VERSION_CODENAME"):
        return release["VERSION_CODENAME"]
    return DEFAULT_SUITE


def _apt_sources() -> list[tuple[str, list[str]]]:
    """(URI, suites) of every ``deb`` source apt is configured with, in apt's order."""
    sources: list[tuple[str, list[str]]] = []
    files = [Path("/etc/apt/sources.list")]
    files += sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    sources.append((line[1], [line[2]]))
        elif path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    sources.append((uri, fields.get("suites", "").split()))
    return sources


def debian_mirror(suite: str) -> str:
    """``$PEGASUS_LITE_DEBIAN_MIRROR``, else the first apt source carrying ``suite``."""
    if os.environ.get("PEGASUS_LITE_DEBIAN_MIRROR"):
        return os.environ["PEGASUS_LITE_DEBIAN_MIRROR"]
    for uri, suites in _apt_sources():
        if suite in suites and re.match(r"(https?|file)://", uri) and "security" not in uri:
            return uri
    return DEFAULT_MIRROR


def image_cache_dir() -> Path:
    """``$PEGASUS_LITE_TEST_IMAGE_CACHE``, /var/cache/pegasus-lite-test-image (root) or ~/.cache."""
    if os.environ.get("PEGASUS_LITE_TEST_IMAGE_CACHE"):
        return Path(os.environ["PEGASUS_LITE_TEST_IMAGE_CACHE"])
    if os.geteuid() == 0:
        return SYSTEM_CACHE
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pegasus-lite" / "test-image"


def _arch() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def image_key(suite: str) -> str:
    return "%s-%s-%s" % (IMAGE_VERSION, suite, _arch())


def _debootstrap_env() -> dict:
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    env.pop("LANG", None)
    if not env.get("http_proxy"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            proxy = subprocess.run(
                ["apt-config", "shell", "P", "Acquire::http::Proxy"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            match = re.match(r"P='([^']+)'", proxy.strip())
            if match:
                env["http_proxy"] = match.group(1)
    return env


def _build_rootfs(cache: Path, final: Path, suite: str, mirror: str) -> None:
    """debootstrap into a scratch dir inside ``cache``, tar it, rename the tar into place."""
    debootstrap = find_program("debootstrap", "/usr/sbin")
    if os.geteuid() != 0:
        raise ServerUnavailable("building the test image with debootstrap needs root")
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=str(cache)))
    try:
        root = build / "root"
        log = build / "debootstrap.log"
        cmd = [
            debootstrap,
            "--variant=minbase",
            "--include=%s" % ",".join(IMAGE_PACKAGES),
            suite,
            str(root),
            mirror,
        ]
        keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
        if keyring.exists():
            cmd.insert(1, "--keyring=%s" % keyring)
        started = time.monotonic()
        with open(log, "wb") as out:
            try:
                proc = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=_debootstrap_env(),
                    timeout=1200,
                    check=False,
                )
                status = proc.returncode
            except subprocess.TimeoutExpired:
                status = "timeout"
        if status != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise ServerUnavailable(
                "debootstrap %s from %s failed (%s):\n%s" % (suite, mirror, status, tail)
            )
        seconds = time.monotonic() - started
        for mount in _mounts_under(root):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        for rel in TRIM:
            target = root / rel
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True, exist_ok=True)
            elif target.exists():
                target.unlink()
        tarball = build / "rootfs.tar"
        tar = subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."],
            capture_output=True,
            text=True,
            check=False,
        )
        if tar.returncode != 0:
            raise ServerUnavailable("tar of the test rootfs failed: %s" % tar.stderr[-2000:])
        with open(tarball, "rb") as handle:
            os.fsync(handle.fileno())
        meta = {
            "key": final.stem,
            "suite": suite,
            "mirror": mirror,
            "packages": list(IMAGE_PACKAGES),
            "debootstrap_seconds": round(seconds, 1),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (build / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        os.replace(build / "meta.json", final.with_suffix(".json"))
        os.replace(tarball, final)  # atomic: readers see no tarball or a complete one
        with contextlib.suppress(OSError):
            dirfd = os.open(str(cache), os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
    finally:
        remove_tree(build)


def ensure_rootfs_tarball() -> Path:
    """The cached root file system tarball, built with debootstrap when missing."""
    suite = image_suite()
    cache = image_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServerUnavailable("cannot create the image cache %s: %s" % (cache, exc)) from None
    final = cache / ("rootfs-%s.tar" % image_key(suite))
    if final.exists():
        return final
    with open(cache / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building the same tarball
        try:
            if not final.exists():
                for old in cache.glob(".build-*"):  # left by a killed build
                    remove_tree(old)
                _build_rootfs(cache, final, suite, debian_mirror(suite))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return final


def local_image_tag() -> str:
    """The engine-local tag of the imported base image (registry independent)."""
    return "%s-base:%s" % (IMAGE_REPOSITORY, image_key(image_suite()))


def ensure_local_image(docker_host: str) -> str:
    """Import the cached rootfs into the engine unless the tag is already there."""
    tag = local_image_tag()
    if docker(docker_host, "image", "inspect", tag, check=False, timeout=60).returncode == 0:
        return tag
    tarball = ensure_rootfs_tarball()
    args = ["import"]
    for value in IMAGE_ENV:
        args += ["--change", "ENV %s" % value]
    args += ["--change", 'CMD ["/bin/bash"]', str(tarball), tag]
    docker(docker_host, *args, timeout=600)
    return tag


def ensure_test_image(docker_host: str, registry: DockerRegistry) -> str:
    """Push the python3 test image to ``registry`` and return its reference.

    The reference is ``127.0.0.1:<port>/pegasus-lite/test:1``.  The first build (debootstrap)
    takes about a minute; later sessions import the cached tarball in seconds.
    """
    ref = "%s/%s:%s" % (registry.address, IMAGE_REPOSITORY, IMAGE_TAG)
    tag = ensure_local_image(docker_host)
    docker(docker_host, "tag", tag, ref, timeout=60)
    docker(docker_host, "push", ref, timeout=600)
    return ref
