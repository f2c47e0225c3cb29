"""The interface every container runtime implements, and what they share.

A runtime turns a job spec's ``container`` (runtime, image, image_lfn, sha256, mounts, gpus,
options) into a host-side command that kickstart runs and wraps.  Nothing of ours goes into
the image: no Python, no copy of this package.  The work dir is mounted at the same path
inside the container and is its working directory, so the paths in the kickstart record
(``-S``/``-s`` stat paths, ``cwd``) mean the same thing on both sides.

The life of one job::

    runtime = get_runtime("docker", env)
    image = runtime.prepare(spec.container, workdir, log, fetch=stage_the_tar)
    for each task:
        name = runtime.new_name(job_id)
        argv = runtime.command(image, task_argv, workdir, task_env, spec.container, name)
        kickstart.run(argv, options, env=runtime.host_env(task_env, host_env))
        runtime.usage(name)      # for the record, before cleanup
        runtime.cleanup(name)    # always: success, failure, signal, timeout
    (runtime.stop(name) kills a container that ignored a signal forwarded to it)
    runtime.close()              # ends this job's claim on the cached image
"""

from __future__ import annotations

import os
import re
import shutil

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Log = Callable[[str], None]


class ContainerError(Exception):
    """The container could not be set up: a one-line message naming the cause (exit 71)."""


class Runtime:
    """One container engine.  Subclasses implement prepare, command and cleanup."""

    name = "runtime"

    def __init__(self, env: dict[str, str]):
        self.env = dict(env)
        self.image_facts: dict = {}  # what prepare() learned: id, digest, source... (record)

    # ------------------------------------------------------------------ the contract

    def prepare(self, container, workdir: str, log: Log, fetch: Callable | None = None) -> str:
        """Make the image available and return the reference to run.

        ``fetch()``, when given, stages ``container.image_lfn`` into ``workdir`` (verified
        against ``container.sha256`` on the way in); it is called only when the image is not
        already cached, so a cache hit transfers nothing.  Raises ContainerError."""
        raise NotImplementedError

    def command(
        self, image: str, argv: list[str], workdir: str, env: dict[str, str], container, name: str
    ) -> list[str]:
        """The host-side argv that runs ``argv`` in ``image`` with exactly ``env``."""
        raise NotImplementedError

    def host_env(self, env: dict[str, str], base: dict[str, str]) -> dict[str, str]:
        """The environment of the runtime's own process (not the container's): ``base``
        plus whatever the runtime needs to carry the job's ``env`` inside."""
        return dict(base)

    def cleanup(self, name: str) -> None:
        """Remove the container called ``name`` and what it left; idempotent, never raises."""

    def stop(self, name: str) -> None:
        """Kill the container now (it ignored a signal), keeping what usage() reads."""
        self.cleanup(name)

    def usage(self, name: str) -> dict | None:
        """Resource usage of the container ``name`` (after it ended), or None."""
        return None

    def close(self) -> None:
        """The job is done with the image: release its claim in the node cache."""

    # ------------------------------------------------------------------ helpers

    def new_name(self, job: str | None = None) -> str:
        """A container name no other job on the node will pick."""
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", job or "job")[:64].strip("_.-") or "job"
        return "pegasus-lite-%s-%s" % (base, os.urandom(5).hex())

    def record_section(self, name: str, argv: list[str]) -> dict:
        """The ``container:`` section of the kickstart record for one task."""
        section = {"runtime": self.name}
        section.update(self.image_facts)
        section["name"] = name
        section["argument_vector"] = list(argv)
        usage = self.usage(name)
        if usage:
            section["usage"] = usage
        return section


def find_program(names: tuple[str, ...] | str, env: dict[str, str]) -> str | None:
    """The first of ``names`` on the job's PATH (or the default PATH)."""
    if isinstance(names, str):
        names = (names,)
    path = env.get("PATH") or os.defpath
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def strip_scheme(image: str, scheme: str = "docker") -> str:
    """``docker://127.0.0.1:5000/img:1`` -> ``127.0.0.1:5000/img:1``."""
    prefix = scheme + "://"
    return image[len(prefix) :] if image.startswith(prefix) else image


def digest_of(reference: str) -> str | None:
    """``repo@sha256:abc`` -> ``sha256:abc``."""
    if "@" in reference:
        digest = reference.rsplit("@", 1)[1]
        if digest.startswith("sha256:"):
            return digest
    return None


def sha256_file(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)


def image_id_from_tar(path: str) -> str | None:
    """The image ID (``sha256:<config digest>``) of a ``docker save`` tar, read from its
    ``manifest.json`` without reading the layers: tar headers are walked and the layer data
    is skipped with seeks.  None for a compressed archive, several images, or no manifest."""
    import json
    import tarfile

    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic == b"\xfd7zXZ\x00":
            return None  # compressed: finding the manifest would mean decompressing it all
        with tarfile.open(path, "r:") as tar:
            member = None
            for info in tar:
                if info.name.lstrip("./") == "manifest.json":
                    member = info
                    break
            if member is None:
                return None
            handle = tar.extractfile(member)
            manifest = json.loads(handle.read()) if handle else None
    except (OSError, tarfile.TarError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        return None
    config = str(manifest[0].get("Config") or "")
    hexdigest = os.path.basename(config)
    if hexdigest.endswith(".json"):
        hexdigest = hexdigest[:-5]
    if re.fullmatch(r"[0-9a-f]{64}", hexdigest):
        return "sha256:" + hexdigest
    return None


def split_mount(mount: str) -> tuple[str, str, str | None]:
    """``host[:container[:options]]`` -> (host, container, options)."""
    parts = mount.split(":")
    if len(parts) == 1:
        return parts[0], parts[0], None
    if len(parts) == 2:
        return parts[0], parts[1], None
    return parts[0], parts[1], ":".join(parts[2:])


def current_user() -> str:
    return "%d:%d" % (os.getuid(), os.getgid())
