"""docker://image[:tag] -> a local tar, as ``docker pull`` then ``docker save`` (docker SDK).

The engine's sink receives the ``save`` stream directly: the tar is hashed as it is written
and appears at its destination only when complete.  Registry credentials come from the
Docker configuration (``docker login``), as the docker CLI's do.
"""

from __future__ import annotations

import threading

import docker
import docker.errors
import requests.exceptions

from ..errors import AccessDenied, NotFound, PermanentError, RetryableError
from .base import Handler

CHUNK = 4 << 20


def image_reference(endpoint) -> str:
    """``docker://127.0.0.1:5000/ns/img:tag`` -> ``127.0.0.1:5000/ns/img:tag``."""
    raw = endpoint.url.raw.split("://", 1)[1]
    if not raw or raw.startswith("/"):
        raise PermanentError("no image named in %s" % endpoint.url)
    return raw


class DockerHandler(Handler):
    schemes = ("docker",)
    can_get = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        return (cls.__name__,)  # one client for the local engine

    def __init__(self, context):
        super().__init__(context)
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                try:
                    self._client = docker.from_env(environment=self.context.env, timeout=600)
                    self._client.ping()
                except docker.errors.DockerException as exc:
                    self._client = None
                    host = self.context.env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                    raise PermanentError(
                        "cannot reach the Docker engine at %s (is dockerd running?): %s"
                        % (host, " ".join(str(exc).split()))
                    ) from None
            return self._client

    def get(self, src, sink) -> None:
        reference = image_reference(src)
        repository, tag = split_reference(reference)
        try:
            self.client.images.pull(repository, tag=tag)
            # save by the name asked for, so the tar's RepoTags hold exactly that reference
            # (Image.save(named=True) takes the image's first tag, whatever it is)
            for chunk in self.client.api.get_image(reference, chunk_size=CHUNK):
                sink.write(chunk)
        except docker.errors.ImageNotFound:
            raise NotFound("image %s not found" % reference) from None
        except docker.errors.APIError as exc:
            raise classify(exc, reference) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise RetryableError(
                "docker engine connection failed for %s: %s" % (reference, exc)
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of ``host:port/name:tag``; a digest stays with the repository."""
    if "@" in reference:
        return reference, None
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"


def classify(exc, reference: str) -> Exception:
    status = getattr(exc, "status_code", None) or 0
    text = " ".join(str(getattr(exc, "explanation", None) or exc).split())
    if status == 404 or "not found" in text.lower() or "manifest unknown" in text.lower():
        return NotFound("image %s not found: %s" % (reference, text))
    if status in (401, 403) or "unauthorized" in text.lower() or "denied" in text.lower():
        return AccessDenied("access to image %s denied: %s" % (reference, text))
    if status >= 500 or status in (408, 429):
        return RetryableError("pulling %s failed: %s" % (reference, text))
    return PermanentError("pulling %s failed: %s" % (reference, text))
