"""Apptainer (or Singularity): ``exec`` the task in a SIF image, as the job's own user.

``apptainer`` is preferred, ``singularity`` used when it is the only one, for either runtime
name, as PegasusLite does.  The run command::

    apptainer exec --no-home --cleanenv --bind W:W --pwd W [--nv] [--bind MOUNT ...]
        [OPTIONS ...] IMAGE ARGV...

``--cleanenv`` keeps the host's environment out; the job's goes in as ``APPTAINERENV_<K>``
(``SINGULARITYENV_<K>``) in the environment of the ``apptainer`` process itself, so values
with commas or newlines arrive intact and stay out of the argument vector.  Apptainer does
not let a job set ``HOME`` that way: with ``--no-home`` it is the user's home path, not
mounted.  The task is a descendant of the ``apptainer`` process, so kickstart's own
accounting (wait4 rusage) already covers it; there is no container object to remove.

Images: a SIF (or other image file) staged as ``image_lfn`` is run in place; a
``docker save`` archive staged as ``image_lfn`` is converted once per node
(``build <sif> docker-archive:<tar>``) into the node cache; ``docker://``,
``library://``, ``oras://`` and ``shub://`` references are pulled once per node into the
cache; a plain path (``/cvmfs/...``) is run as it is.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

from .base import ContainerError, Runtime, digest_of, find_program, image_id_from_tar, sha256_file
from .cache import ImageCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .base import Log

PULL_SCHEMES = ("docker://", "library://", "oras://", "shub://")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class ApptainerRuntime(Runtime):
    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        cli = find_program(("apptainer", "singularity"), env)
        if cli is None:
            raise ContainerError(
                "Unable to find apptainer or singularity executable on PATH "
                "(install apptainer: https://apptainer.org/docs/admin/main/installation.html)"
            )
        self.cli = cli
        self.name = "singularity" if os.path.basename(cli) == "singularity" else "apptainer"
        self.env_prefix = self.name.upper() + "ENV_"
        self.cache: ImageCache | None = None
        self.lease = None

    def run_tool(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [self.cli, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self.env,
                check=False,
            )
        except OSError as exc:
            raise ContainerError("%s %s failed: %s" % (self.name, args[0], exc)) from None

    # ------------------------------------------------------------------ prepare

    def prepare(self, container, workdir: str, log: Log, fetch: Callable | None = None) -> str:
        log("Using %s to run the container" % self.cli)
        image = container.image
        if container.image_lfn:
            path = os.path.join(workdir, container.image_lfn)
            fetched = False
            if not os.path.exists(path) and fetch is not None:
                key = "file:sha256:" + container.sha256 if container.sha256 else None
                if _is_archive(path) and key and self._cached(key, log):
                    return self.image_facts["image_file"]
                fetch()
                fetched = True
            if os.path.exists(path):
                log("container file is %s" % container.image_lfn)
                if container.sha256 and not fetched:
                    actual = sha256_file(path)
                    if actual != container.sha256:
                        raise ContainerError(
                            "container file %s: sha256 %s, expected %s"
                            % (container.image_lfn, actual, container.sha256)
                        )
                if _is_archive(path):
                    return self._convert(path, container, log)
                self.image_facts = {"image": image, "image_file": container.image_lfn}
                self.image_facts["source"] = "file"
                return path
            log(
                "Container file %s was not staged: getting %s instead"
                % (container.image_lfn, image)
            )
        if image.startswith(PULL_SCHEMES):
            return self._pull(image, log)
        if image.startswith("docker-archive:"):
            return self._convert(image[len("docker-archive:") :], container, log)
        if not os.path.exists(image):
            raise ContainerError("container image %s does not exist on this node" % image)
        self.image_facts = {"image": image, "source": "node"}
        return image

    def _cache(self) -> ImageCache:
        if self.cache is None:
            try:
                self.cache = ImageCache(self.name, self.env)
            except (OSError, ValueError) as exc:
                raise ContainerError(str(exc)) from None
        return self.cache

    def _cached(self, key: str, log: Log) -> bool:
        """A hit for ``key`` in the node cache: the image file is claimed and recorded."""
        with self._cache().acquire(key) as slot:
            return self._hit(slot, log)

    def _hit(self, slot, log: Log) -> bool:
        entry = slot.entry
        if not entry or not entry.get("image"):
            return False
        lease = slot.use(entry["image"])
        if not os.path.isfile(entry["image"]):
            lease.release()
            slot.forget()
            return False
        slot.touch()
        self._claim(lease)
        self.image_facts = {
            "image": entry.get("reference"),
            "image_file": entry["image"],
            "source": "cache",
        }
        self.image_facts = {k: v for k, v in self.image_facts.items() if v}
        log("Using cached image %s" % entry["image"])
        return True

    def _convert(self, tar: str, container, log: Log) -> str:
        """A docker-archive tar becomes a SIF in the node cache, once per image."""
        image_id = image_id_from_tar(tar)
        if container.sha256:
            key = "file:sha256:" + container.sha256
        elif image_id:
            key = "id:" + image_id
        else:
            key = "file:sha256:" + sha256_file(tar)
        return self._build(key, ["build", "--disable-cache"], "docker-archive:" + tar, log)

    def _pull(self, uri: str, log: Log) -> str:
        digest = digest_of(uri)
        key = "digest:" + digest if digest else "ref:" + uri
        return self._build(key, ["pull", "--disable-cache"], uri, log)

    def _build(self, key: str, verb: list[str], source: str, log: Log) -> str:
        cache = self._cache()
        with cache.acquire(key) as slot:
            if self._hit(slot, log):
                return self.image_facts["image_file"]
            target = os.path.join(cache.root, slot.name + ".sif")
            partial = "%s.%d.part" % (target, os.getpid())
            log("%s %s into the node image cache" % (verb[0].capitalize() + "ing", source))
            proc = self.run_tool(*verb, partial, source)
            if proc.returncode != 0 or not os.path.isfile(partial):
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                lines = [line for line in proc.stderr.splitlines() if line.strip()]
                raise ContainerError(
                    "%s %s failed: %s"
                    % (self.name, verb[0], lines[-1].strip() if lines else "no message")
                )
            os.replace(partial, target)
            self._claim(cache.use(target))
            slot.store(image=target, size=os.path.getsize(target), owned=True, reference=source)
            self.image_facts = {"image": source, "image_file": target, "source": verb[0]}
        try:
            cache.evict(_remove_file, keep={target}, log=log)
        except OSError as exc:  # never a reason to fail the job
            log("Image cache: eviction skipped: %s" % exc)
        return target

    def _claim(self, lease) -> None:
        if self.lease is not None:
            self.lease.release()
        self.lease = lease

    # ------------------------------------------------------------------ run

    def command(
        self, image: str, argv: list[str], workdir: str, env: dict[str, str], container, name: str
    ) -> list[str]:
        if not argv:
            raise ContainerError("nothing to run in the container")
        cmd = [self.cli, "exec", "--no-home", "--cleanenv"]
        cmd += ["--bind", "%s:%s" % (workdir, workdir), "--pwd", workdir]
        if container is not None and container.gpus:
            cmd.append("--nv")
        for mount in container.mounts if container is not None else ():
            cmd += ["--bind", mount]
        cmd += list(container.options) if container is not None else []
        return [*cmd, image, *argv]

    def host_env(self, env: dict[str, str], base: dict[str, str]) -> dict[str, str]:
        """The host's environment minus any ``*ENV_`` variables of its own (they would reach
        the container), plus the job's variables under the runtime's prefix."""
        out = {
            k: v for k, v in base.items() if not k.startswith(("APPTAINERENV_", "SINGULARITYENV_"))
        }
        for key, value in env.items():
            if key != "HOME":  # refused by apptainer: see the module docstring
                out[self.env_prefix + key] = value
        return out

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None


def _is_archive(path: str) -> bool:
    return path.endswith(ARCHIVE_SUFFIXES)


def _remove_file(entry: dict) -> bool:
    try:
        os.unlink(entry["image"])
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
