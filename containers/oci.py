"""What docker and podman share: finding the image (cache, tar, registry) and the run argv.

An engine subclass supplies the image operations (inspect, load, pull, remove) and the
container removal; this class decides which to use, keeps the node cache right, and builds
``<engine> run``:

    <engine> run --name N --rm --init --pull never --user UID:GID
        --volume W:W --workdir W --env HOME=W --env K=V ...
        [--volume MOUNT ...] [GPUs] [--cgroup-parent /pegasus-lite/N]
        --entrypoint ARGV0 [OPTIONS ...] IMAGE ARGV1 ...

* ``--user`` the host uid:gid, so what the task writes in the work dir is the job's;
* the work dir at the same path, as working directory, ``HOME`` inside it;
* ``--env`` for exactly the job's environment, never the host's;
* ``--init``: a small init as PID 1 passes signals on to the task (a task as PID 1 would
  ignore TERM), and ``docker run`` relays the signals it gets to the container, so a TERM
  to the ``run`` process group reaches the task;
* ``--entrypoint``: the task's own program, whatever the image's ENTRYPOINT says;
* ``--rm`` and, always, :meth:`cleanup` (``rm --force``): the container is gone after a
  success, a failure, a signal, or a KILL of the ``run`` process by kickstart's timeout.
"""

from __future__ import annotations

import os

from . import cgroups
from .base import (
    ContainerError,
    Runtime,
    current_user,
    digest_of,
    image_id_from_tar,
    sha256_file,
    strip_scheme,
)
from .cache import ImageCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .base import Log


def _normal_id(image_id: str) -> str:
    return image_id if image_id.startswith("sha256:") else "sha256:" + image_id


class OciRuntime(Runtime):
    """docker and podman: same flags, same cache logic; the engine operations differ."""

    gpu_flags: tuple[str, ...] = ("--gpus", "all")

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        self.cli: str = ""
        self.cache: ImageCache | None = None
        self.lease = None
        self.use_parent = False  # containers in /pegasus-lite/<name>: exact usage
        self.samplers: dict = {}

    # ------------------------------------------------------------------ engine operations

    def connect(self) -> str:
        """Check the engine answers; returns the cache namespace for this engine."""
        raise NotImplementedError

    def inspect_image(self, reference: str) -> dict | None:
        """{"Id", "Size", "RepoTags", "RepoDigests"} or None when the engine lacks it."""
        raise NotImplementedError

    def load_image(self, tar: str) -> list[str]:
        """Load a ``docker save`` archive; the IDs of the images it held."""
        raise NotImplementedError

    def pull_image(self, reference: str) -> str:
        raise NotImplementedError

    def remove_image(self, entry: dict) -> bool:
        """Evict an image we loaded; False when it is in use (then it stays)."""
        raise NotImplementedError

    def remove_container(self, name: str) -> None:
        raise NotImplementedError

    def run_reference(self, image_id: str) -> str:
        return image_id

    # ------------------------------------------------------------------ prepare

    def prepare(self, container, workdir: str, log: Log, fetch: Callable | None = None) -> str:
        namespace = self.connect()
        try:
            self.cache = ImageCache(namespace, self.env)
        except (OSError, ValueError) as exc:
            raise ContainerError(str(exc)) from None
        reference = strip_scheme(container.image)
        tar = os.path.join(workdir, container.image_lfn) if container.image_lfn else None
        state = {"fetched": False}

        def get_tar() -> str | None:
            if tar is None:
                return None
            if not os.path.exists(tar) and fetch is not None:
                fetch()
                state["fetched"] = True
            return tar if os.path.exists(tar) else None

        key = self._first_key(container, reference, tar)
        if key is None:  # a tar without a checksum: its manifest says which image it is
            path = get_tar()
            image_id = image_id_from_tar(path) if path else None
            key = "id:" + image_id if image_id else None
        if key is None:
            image_id = self._obtain(container, reference, get_tar, state, log, None)
        else:
            with self.cache.acquire(key) as slot:
                image_id = self._from_cache(slot, log)
                if image_id is None:
                    image_id = self._obtain(container, reference, get_tar, state, log, slot)
        self._check_sha256(container, image_id)
        try:
            self.cache.evict(self.remove_image, keep={image_id}, log=log)
        except (OSError, ContainerError) as exc:  # never a reason to fail the job
            log("Image cache: eviction skipped: %s" % exc)
        return self.run_reference(image_id)

    def _first_key(self, container, reference: str, tar: str | None) -> str | None:
        if tar is not None:
            return "file:sha256:" + container.sha256 if container.sha256 else None
        digest = digest_of(reference)
        if digest:
            return "digest:" + digest
        return "ref:" + reference

    def _from_cache(self, slot, log: Log) -> str | None:
        entry = slot.entry
        if not entry or not entry.get("image"):
            return None
        lease = slot.use(entry["image"])
        info = self.inspect_image(entry["image"])
        if info is None:
            lease.release()
            slot.forget()
            log("Image cache: %s is no longer in the engine; getting it again" % entry["image"])
            return None
        slot.touch()
        self._claim(lease)
        self._facts(info, entry.get("reference"), "cache", entry.get("file"))
        log("Using cached %s image %s" % (self.name, self._label(info, entry.get("reference"))))
        return _normal_id(info["Id"])

    def _obtain(self, container, reference: str, get_tar, state, log: Log, slot) -> str:
        tar = get_tar()
        if tar is not None:
            return self._from_tar(container, tar, state["fetched"], log, slot)
        if container.image_lfn:
            log(
                "Container file %s was not staged: getting %s from its registry"
                % (container.image_lfn, reference)
            )
            slot = None  # the key names the file, which this image did not come from
        return self._from_registry(reference, log, slot)

    def _from_tar(self, container, tar: str, verified: bool, log: Log, slot) -> str:
        lfn = os.path.basename(tar)
        log("container file is %s" % lfn)
        if container.sha256 and not verified:
            actual = sha256_file(tar)
            if actual != container.sha256:
                raise ContainerError(
                    "container file %s: sha256 %s, expected %s" % (lfn, actual, container.sha256)
                )
        expected = image_id_from_tar(tar)
        if expected is not None:
            lease = self.cache.use(expected)
            info = self.inspect_image(expected)
            if info is not None:  # already in the engine: no need to load it
                self._claim(lease)
                self._store(slot, info, False, lfn)
                self._facts(info, None, "present", lfn)
                log("Image %s from %s is already loaded" % (self._label(info, None), lfn))
                return _normal_id(info["Id"])
            lease.release()
        ids = self.load_image(tar)
        if expected is not None and expected in ids:
            image_id = expected
        elif len(ids) == 1:
            image_id = ids[0]
        else:
            raise ContainerError(
                "container file %s holds %s, not one image"
                % (lfn, "%d images" % len(ids) if ids else "no image")
            )
        self._claim(self.cache.use(image_id))
        info = self.inspect_image(image_id)
        if info is None:
            raise ContainerError("image %s vanished right after loading %s" % (image_id, lfn))
        self._store(slot, info, True, lfn)
        self._facts(info, None, "tar", lfn)
        log("Loaded %s image %s" % (self.name, self._label(info, None)))
        return _normal_id(info["Id"])

    def _from_registry(self, reference: str, log: Log, slot) -> str:
        info = self.inspect_image(reference)
        owned = False
        if info is None:
            log("Pulling %s image %s" % (self.name, reference))
            image_id = self.pull_image(reference)
            owned = True
            info = self.inspect_image(image_id)
            if info is None:
                raise ContainerError("image %s vanished right after the pull" % reference)
        image_id = _normal_id(info["Id"])
        lease = self.cache.use(image_id)
        # claimed before checking again: an eviction in between would have removed it
        if self.inspect_image(image_id) is None:
            lease.release()
            raise ContainerError("image %s was removed while this job was starting" % reference)
        self._claim(lease)
        self._store(slot, info, owned, None, reference)
        self._facts(info, reference, "pull" if owned else "present", None)
        return image_id

    def _store(self, slot, info: dict, owned: bool, lfn: str | None, reference=None) -> None:
        if slot is None:
            return
        slot.store(
            image=_normal_id(info["Id"]),
            size=int(info.get("Size") or 0),
            owned=owned,
            reference=reference or next(iter(info.get("RepoTags") or []), None),
            file=lfn,
        )

    def _claim(self, lease) -> None:
        if self.lease is not None:
            self.lease.release()
        self.lease = lease

    def _facts(self, info: dict, reference: str | None, source: str, lfn: str | None) -> None:
        facts = {"image": reference or next(iter(info.get("RepoTags") or []), None)}
        facts["image_id"] = _normal_id(info["Id"])
        digests = [d for d in info.get("RepoDigests") or [] if "@" in d]
        if digests:
            facts["digest"] = digests[0].rsplit("@", 1)[1]
        if lfn:
            facts["image_file"] = lfn
        facts["source"] = source
        self.image_facts = {k: v for k, v in facts.items() if v is not None}

    def _label(self, info: dict, reference: str | None) -> str:
        tags = info.get("RepoTags") or []
        return reference or (tags[0] if tags else _normal_id(info["Id"]))

    def _check_sha256(self, container, image_id: str) -> None:
        """For a pulled image, ``sha256`` is its ID or its manifest digest."""
        if not container.sha256 or self.image_facts.get("image_file"):
            return  # the sha256 of an image file was checked as it was staged
        wanted = "sha256:" + container.sha256
        if image_id == wanted or self.image_facts.get("digest") == wanted:
            return
        digests = [d.rsplit("@", 1)[1] for d in self._digests(image_id)]
        if wanted not in digests:
            raise ContainerError(
                "image %s is %s, not the sha256 %s the job asks for"
                % (self.image_facts.get("image") or image_id, image_id, container.sha256)
            )

    def _digests(self, image_id: str) -> list[str]:
        info = self.inspect_image(image_id) or {}
        return [d for d in info.get("RepoDigests") or [] if "@" in d]

    # ------------------------------------------------------------------ run

    def command(
        self, image: str, argv: list[str], workdir: str, env: dict[str, str], container, name: str
    ) -> list[str]:
        if not argv:
            raise ContainerError("nothing to run in the container")
        cmd = [self.cli, "run", "--name", name, "--rm", "--init", "--pull", "never"]
        cmd += ["--user", current_user(), "--volume", "%s:%s" % (workdir, workdir)]
        cmd += ["--workdir", workdir]
        job_env = {"HOME": workdir, **env}
        for key, value in job_env.items():
            cmd += ["--env", "%s=%s" % (key, value)]
        for mount in container.mounts if container is not None else ():
            cmd += ["--volume", mount]
        if container is not None and container.gpus:
            cmd += list(self.gpu_flags)
        if self.use_parent:
            cmd += ["--cgroup-parent", cgroups.parent_path(name)]
        cmd += self.extra_run_flags()
        cmd += ["--entrypoint", argv[0]]
        cmd += list(container.options) if container is not None else []
        cmd += [image, *argv[1:]]
        self.started(name)
        return cmd

    def extra_run_flags(self) -> list[str]:
        return []

    def started(self, name: str) -> None:
        """Called as the run command is handed out: start watching ``name`` if need be."""

    def usage(self, name: str) -> dict | None:
        if self.use_parent:
            return cgroups.parent_usage(name)
        sampler = self.samplers.pop(name, None)
        return sampler.stop() if sampler is not None else None

    def stop(self, name: str) -> None:
        try:
            self.remove_container(name)
        except Exception:
            pass

    def cleanup(self, name: str) -> None:
        sampler = self.samplers.pop(name, None)
        if sampler is not None:
            sampler.stop()
        try:
            self.remove_container(name)
        except Exception:
            pass  # cleanup never raises; the next line of defence is --rm
        if self.use_parent:
            cgroups.remove_tree(cgroups.parent_path(name))

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None
