"""The node image cache: one load of an image for all the jobs on a node.

Every job on the node finds the same directory (``$PEGASUS_IMAGE_CACHE``, else
``/var/tmp/pegasus-lite-images-<uid>``), with one subdirectory per engine.  In it, per image
key (the image file's sha256, the image ID, a digest, or a reference), ``<k>.json`` says what
the key resolved to (image ID or file, size, whether we loaded it) and its modification time
is the last use.  Two kinds of ``flock`` make it safe when a hundred jobs start at once:

* ``<k>.lock``, exclusive, while one job looks the key up and, on a miss, loads the image:
  the others wait, then find the entry and load nothing;
* ``use-<image>.lock``, shared, from the moment a job has chosen an image until it is done
  with it (:meth:`Slot.use` ... :meth:`Lease.release`).  Eviction takes both exclusively
  and without waiting, so it never removes an image a job is about to run or is running.

``$PEGASUS_IMAGE_CACHE_MAX`` (bytes; K, M, G, T suffixes accepted) bounds the total size of
the images the cache itself loaded (``owned``); when over it, the least recently used ones
not in use are removed.  Images that were already there are used but never removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_DIR = "/var/tmp/pegasus-lite-images-%d"
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str | None) -> int | None:
    """``"10G"`` -> bytes; None (no bound) for unset; ValueError for nonsense."""
    if text is None or not text.strip():
        return None
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    number = value[: len(value) - len(unit)] if unit else value
    try:
        size = int(float(number) * _UNITS[unit])
    except ValueError:
        raise ValueError("PEGASUS_IMAGE_CACHE_MAX=%r is not a size in bytes" % text) from None
    if size < 0:
        raise ValueError("PEGASUS_IMAGE_CACHE_MAX=%r is negative" % text)
    return size


def cache_root(env: dict[str, str]) -> str:
    return env.get("PEGASUS_IMAGE_CACHE") or DEFAULT_DIR % os.getuid()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40]


def _lock(path: str, mode: int, wait: bool = True) -> int | None:
    """An open fd holding ``flock(mode)`` on ``path``; None when busy and not waiting."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if not wait and exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    except BaseException:  # a signal while waiting: never leak the fd
        os.close(fd)
        raise
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing drops the flock


class Lease:
    """A job's shared claim on one image: eviction leaves it alone until released."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def release(self) -> None:
        _unlock(self.fd)
        self.fd = None


class Slot:
    """Exclusive hold of one cache key while the job looks it up and perhaps loads it."""

    def __init__(self, cache: ImageCache, key: str):
        self.cache = cache
        self.key = key
        self.name = _hash(key)
        self.path = os.path.join(cache.root, self.name + ".json")
        self.fd = _lock(os.path.join(cache.root, self.name + ".lock"), fcntl.LOCK_EX)
        self.entry = _read(self.path)

    def store(self, **entry) -> None:
        """Record what the key resolved to (atomically); this also marks it used now."""
        entry = {"key": self.key, "stored": time.time(), **entry}
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)
        os.replace(tmp, self.path)
        self.entry = entry

    def touch(self) -> None:
        """A cache hit: the entry is now the most recently used."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def forget(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.entry = None

    def use(self, image: str) -> Lease:
        """Claim ``image`` (shared) before checking that it is present and running it."""
        return self.cache.use(image)

    def release(self) -> None:
        _unlock(self.fd)
        self.fd = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


class ImageCache:
    """The cache of one engine (``namespace``) on this node."""

    def __init__(self, namespace: str, env: dict[str, str]):
        self.root = os.path.join(cache_root(env), namespace)
        self.max_bytes = parse_size(env.get("PEGASUS_IMAGE_CACHE_MAX"))
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise OSError(
                exc.errno, "cannot create the image cache %s: %s" % (self.root, exc.strerror)
            ) from None

    def acquire(self, key: str) -> Slot:
        return Slot(self, key)

    def use(self, image: str) -> Lease:
        return Lease(_lock(self._use_path(image), fcntl.LOCK_SH))

    def _use_path(self, image: str) -> str:
        return os.path.join(self.root, "use-%s.lock" % _hash(image))

    def entries(self) -> list[tuple[float, str, dict]]:
        """(last use, file name, entry) of every key, oldest first."""
        found = []
        for fname in os.listdir(self.root):
            if not fname.endswith(".json"):
                continue
            path = os.path.join(self.root, fname)
            entry = _read(path)
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            if entry is not None:
                found.append((mtime, fname[:-5], entry))
        found.sort(key=lambda item: item[0])
        return found

    def owned_bytes(self) -> int:
        return sum(_owned_sizes(self.entries()).values())

    def evict(
        self,
        remove: Callable[[dict], bool],
        keep: set[str] = frozenset(),
        log: Callable[[str], None] | None = None,
    ) -> list[dict]:
        """Remove least recently used owned images until under the bound.  ``remove(entry)``
        deletes the image (False when the engine refuses: in use elsewhere); images in
        ``keep`` or claimed by a running job are skipped.  Returns the evicted entries."""
        if self.max_bytes is None:
            return []
        entries = self.entries()
        sizes = _owned_sizes(entries)
        total = sum(sizes.values())
        evicted: list[dict] = []
        for mtime, name, entry in entries:
            if total <= self.max_bytes:
                break
            image = entry.get("image")
            if not entry.get("owned") or not image or image in keep or image not in sizes:
                continue
            key_fd = _lock(os.path.join(self.root, name + ".lock"), fcntl.LOCK_EX, wait=False)
            if key_fd is None:
                continue  # being looked up or loaded right now
            try:
                entry = _read(os.path.join(self.root, name + ".json"))
                if not entry or not entry.get("owned") or entry.get("image") != image:
                    continue
                use_fd = _lock(self._use_path(image), fcntl.LOCK_EX, wait=False)
                if use_fd is None:
                    continue  # a job is using it
                try:
                    if not remove(entry):
                        continue
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.root, name + ".json"))
                finally:
                    _unlock(use_fd)
            finally:
                _unlock(key_fd)
            self._forget_aliases(image, entries)
            total -= sizes.pop(image)
            evicted.append(entry)
            if log is not None:
                log(
                    "Image cache over its bound of %d bytes: removed %s (%d bytes, last used %s)"
                    % (
                        self.max_bytes,
                        entry.get("reference") or image,
                        int(entry.get("size") or 0),
                        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mtime)),
                    )
                )
        return evicted

    def _forget_aliases(self, image: str, entries: list[tuple[float, str, dict]]) -> None:
        """Other keys that resolved to the removed image: drop them (when not busy)."""
        for _, name, entry in entries:
            if entry.get("image") != image:
                continue
            fd = _lock(os.path.join(self.root, name + ".lock"), fcntl.LOCK_EX, wait=False)
            if fd is None:
                continue
            try:
                current = _read(os.path.join(self.root, name + ".json"))
                if current and current.get("image") == image:
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.root, name + ".json"))
            finally:
                _unlock(fd)


def _owned_sizes(entries: list[tuple[float, str, dict]]) -> dict[str, int]:
    """image -> size of every image the cache loaded (one image may have several keys)."""
    sizes: dict[str, int] = {}
    for _, _, entry in entries:
        if entry.get("owned") and entry.get("image"):
            sizes[entry["image"]] = max(sizes.get(entry["image"], 0), int(entry.get("size") or 0))
    return sizes
