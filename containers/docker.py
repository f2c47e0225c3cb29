"""Docker: the docker SDK loads and pulls images, the docker CLI runs the task.

The task runs as ``docker run`` (see :mod:`containers.oci` for the flags) so that kickstart
wraps an ordinary process: it starts it, times it, forwards signals to it, and the CLI
relays them to the container.  Loading and pulling go through the docker SDK for Python
(``pip install docker``), imported only when an image must actually be loaded or pulled:
it costs a quarter of a second to import, and a job whose image is already on the node
does not pay it.  The small calls a job makes every time (is the image there, remove the
container) go to the engine's API directly over its unix socket (or plain TCP), standard
library only; a TLS or ssh ``DOCKER_HOST`` uses the SDK for those too.

Resource usage: as root with the ``cgroupfs`` cgroup driver, each container gets a parent
cgroup of its own and the usage is exact; otherwise the container's cgroup is sampled while
it runs (:mod:`containers.cgroups`).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from urllib.parse import quote, urlencode

from . import cgroups
from .base import ContainerError, find_program
from .cache import cache_root
from .oci import OciRuntime

DEFAULT_HOST = "unix:///var/run/docker.sock"
FACTS_TTL = 300.0  # seconds a node trusts what it learnt of the engine (ID, cgroup driver)


def _open_unix(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _open_tcp(address: str, timeout: float) -> socket.socket:
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]") or "localhost", int(port or 2375)), timeout)


def _exchange(sock: socket.socket, method: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.0 request: the engine answers and closes, so reading to EOF is the whole
    response.  (``http.client`` would cost 25 ms of imports on every job.)"""
    try:
        sock.sendall(
            ("%s %s HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n" % (method, path)).encode(
                "ascii"
            )
        )
        chunks = []
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError("not an HTTP answer from the Docker engine")
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return int(status_line[1]), body


def _dechunk(body: bytes) -> bytes:
    out = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        body = rest[size + 2 :]
    return b"".join(out)


class EngineAPI:
    """The few Docker Engine API calls a job makes each time, without the SDK's import."""

    def __init__(self, env: dict[str, str], timeout: float = 120):
        self.env = env
        self.host = env.get("DOCKER_HOST") or DEFAULT_HOST
        self.timeout = timeout
        self._sdk = None
        tls = env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_CERT_PATH")
        if self.host.startswith("unix://"):
            path = self.host[len("unix://") :]
            self._connect = lambda: _open_unix(path, timeout)
        elif self.host.startswith("tcp://") and not tls:
            address = self.host[len("tcp://") :].rstrip("/")
            self._connect = lambda: _open_tcp(address, timeout)
        else:
            self._connect = None  # TLS, ssh, npipe: the SDK knows how

    def sdk(self):
        """The docker SDK client (imported now, on first need)."""
        if self._sdk is None:
            try:
                import docker
            except ImportError:
                raise ContainerError(
                    "loading or pulling Docker images needs the docker SDK for Python "
                    "(pip install docker)"
                ) from None
            try:
                self._sdk = docker.from_env(environment=self.env, timeout=600)
            except docker.errors.DockerException as exc:
                raise self.unreachable(exc) from None
        return self._sdk

    def unreachable(self, exc: object) -> ContainerError:
        return ContainerError(
            "cannot reach the Docker engine at %s (is dockerd running, may this user use it?): %s"
            % (self.host, " ".join(str(exc).split()))
        )

    def request(self, method: str, path: str, query: dict | None = None) -> tuple[int, bytes]:
        if query:
            path += "?" + urlencode(query)
        if self._connect is None:
            client = self.sdk()
            try:
                response = client.api.request(method, client.api.base_url + path)
            except Exception as exc:
                raise self.unreachable(exc) from None
            return response.status_code, response.content
        try:
            return _exchange(self._connect(), method, path)
        except (OSError, ValueError) as exc:
            raise self.unreachable(exc) from None

    def get_json(self, path: str, query: dict | None = None):
        status, body = self.request("GET", path, query)
        if status == 404:
            return None
        if status >= 400:
            raise ContainerError("Docker engine: GET %s: %s" % (path, _message(body, status)))
        return json.loads(body)

    def info(self) -> dict:
        return self.get_json("/info") or {}

    def image(self, reference: str) -> dict | None:
        return self.get_json("/images/%s/json" % quote(reference, safe="/:@"))

    def container(self, name: str) -> dict | None:
        return self.get_json("/containers/%s/json" % quote(name, safe=""))


def _message(body: bytes, status: int) -> str:
    try:
        return " ".join(str(json.loads(body).get("message")).split())
    except (ValueError, AttributeError):
        return "HTTP %d" % status


class DockerRuntime(OciRuntime):
    name = "docker"

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        cli = find_program("docker", env)
        if cli is None:
            raise ContainerError(
                "the docker command is not installed or not on PATH "
                "(Debian package docker.io, or docker-ce-cli)"
            )
        self.cli = cli
        self.api = EngineAPI(env)

    # ------------------------------------------------------------------ engine operations

    def connect(self) -> str:
        facts = self.engine_facts()
        self.use_parent = facts.get("CgroupDriver") == "cgroupfs" and cgroups.can_use_parent()
        engine = facts.get("ID") or self.api.host
        return "docker-" + hashlib.sha256(engine.encode()).hexdigest()[:12]

    def engine_facts(self) -> dict:
        """The engine's ID and cgroup driver.  ``/info`` takes several milliseconds, more
        than the rest of a cached image's preparation, so the node keeps the answer for
        FACTS_TTL seconds (``engine-<host>.json`` in the image cache directory)."""
        path = os.path.join(
            cache_root(self.env),
            "engine-%s.json" % hashlib.sha256(self.api.host.encode()).hexdigest()[:16],
        )
        try:
            with open(path, encoding="utf-8") as fh:
                facts = json.load(fh)
            if time.time() - float(facts.get("fetched", 0)) < FACTS_TTL:
                return facts
        except (OSError, ValueError, AttributeError, RecursionError):
            pass
        info = self.api.info()
        facts = {
            "ID": info.get("ID"),
            "CgroupDriver": info.get("CgroupDriver"),
            "ServerVersion": info.get("ServerVersion"),
            "fetched": time.time(),
        }
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            tmp = "%s.%d.tmp" % (path, os.getpid())
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(facts, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # no cache: ask again next time
        return facts

    def inspect_image(self, reference: str) -> dict | None:
        return self.api.image(reference)

    def load_image(self, tar: str) -> list[str]:
        client = self.api.sdk()
        import docker.errors

        try:
            with open(tar, "rb") as fh:
                images = client.images.load(fh)
        except OSError as exc:
            raise ContainerError("cannot read container file %s: %s" % (tar, exc)) from None
        except docker.errors.APIError as exc:
            raise ContainerError(
                "Unable to load image from %s: %s" % (os.path.basename(tar), _explain(exc))
            ) from None
        except docker.errors.DockerException as exc:
            raise self.api.unreachable(exc) from None
        return [image.id for image in images]

    def pull_image(self, reference: str) -> str:
        client = self.api.sdk()
        import docker.errors

        repository, tag = _split_reference(reference)
        try:
            image = client.images.pull(repository, tag=tag)
        except docker.errors.APIError as exc:
            raise ContainerError(
                "image %s could not be pulled: %s" % (reference, _explain(exc))
            ) from None
        except docker.errors.DockerException as exc:
            raise self.api.unreachable(exc) from None
        if isinstance(image, list):  # all tags: never asked for, but be safe
            image = image[0]
        return image.id

    def remove_image(self, entry: dict) -> bool:
        """Without force: the engine refuses (409) while a container uses the image or when
        it has other tags than the one it came with, and then it stays."""
        status, _ = self.api.request("DELETE", "/images/%s" % quote(entry["image"], safe=":"))
        return status in (200, 404)

    def remove_container(self, name: str) -> None:
        path = "/containers/%s" % quote(name, safe="")
        for _ in range(50):
            status, body = self.api.request("DELETE", path, {"force": "1", "v": "1"})
            if status in (204, 404):
                return
            if status == 409:  # removal already in progress (--rm): wait for it to finish
                time.sleep(0.1)
                continue
            raise ContainerError("cannot remove container %s: %s" % (name, _message(body, status)))

    # ------------------------------------------------------------------ usage when not root

    def started(self, name: str) -> None:
        if not self.use_parent:
            self.samplers[name] = cgroups.Sampler(lambda: self._pid(name))

    def _pid(self, name: str) -> int | None:
        info = self.api.container(name)
        if not info:
            return None
        return (info.get("State") or {}).get("Pid") or None


def _split_reference(reference: str) -> tuple[str, str | None]:
    """(repository, tag) of ``host:port/name:tag``; a digest stays with the repository."""
    if "@" in reference:
        return reference, None
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"


def _explain(exc: object) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return " ".join(str(text).split())
