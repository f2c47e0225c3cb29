"""File objects that hash the bytes as they pass, for handlers' libraries to read or write.

A download writes into ``AtomicFile``: a hidden temporary name beside the destination,
renamed into place only when complete and, if a checksum is expected, only when it
matches.  An upload reads from ``HashingReader``.  Either way the sha256 comes from the
bytes that moved, never from reading the file a second time.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat

from .errors import ChecksumMismatch, NotFound, PermanentError

CHUNK = 1 << 20
PIPELINE_MIN = 16 << 20  # below this, threads cost more than they save
PIECE = 8 << 20
WINDOW = 256 << 20  # mapped (and faulted in) at a time: bounded memory for any file size

# A pipelined hashed copy keeps two cores busy (hash, write): the fastest way to copy one
# large file, but with several copies at once it only adds system time (measured on 2
# cores: one 200 MiB file 0.25 s pipelined vs 0.36 s in turn; five at once 0.8 s in turn
# vs 1.0-1.3 s pipelined).  The caller says which case it is in.
# Directories known to exist: a run of many small files must not retry mkdir for each.
_MADE_DIRS: set = set()
# AtomicFile temporaries being written now: what a job stopped by a signal removes, whatever
# thread or moment the signal caught them in (even between creating one and knowing its fd).
_LIVE: set = set()


def remove_partials() -> int:
    """Remove every AtomicFile temporary still in progress (a stopped job's cleanup)."""
    removed = 0
    for path in list(_LIVE):
        _LIVE.discard(path)
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            pass
    return removed


def _read_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # at import, before any thread of ours exists
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o644 & ~_read_umask()


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def _kernel_copy(src_fd: int, dst_fd: int, size: int) -> int:
    """copy_file_range (reflink/in-kernel), else sendfile, else read/write."""
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src_fd, dst_fd, size - copied)
            if n == 0:
                break
            copied += n
        return copied
    except (AttributeError, OSError):
        pass
    try:
        while copied < size:
            n = os.sendfile(dst_fd, src_fd, copied, size - copied)
            if n == 0:
                break
            copied += n
        return copied
    except OSError:
        os.lseek(src_fd, copied, os.SEEK_SET)
    while True:
        data = os.read(src_fd, CHUNK)
        if not data:
            return copied
        _write_all(dst_fd, memoryview(data))
        copied += len(data)


def _map(fd: int, offset: int, length: int):
    """A window of the file mapped read-only, its pages faulted in by one call where Linux
    allows (MAP_POPULATE): page faults one by one cost a sixth of a hashed copy's time."""
    import mmap

    populate = getattr(mmap, "MAP_POPULATE", 0)
    if populate:
        try:
            return mmap.mmap(
                fd, length, flags=mmap.MAP_SHARED | populate, prot=mmap.PROT_READ, offset=offset
            )
        except OSError:
            pass
    return mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset)


def _pipelined_copy(src_fd: int, size: int, digest: object, dst_fd: int) -> None:
    """Each piece is hashed in this thread while another thread writes the same piece: both
    release the GIL, so a copy with sha256 costs about as much as the sha256 alone, and the
    file is read once (mapped), never a second time to hash it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as writer:
        for offset in range(0, size, WINDOW):
            with _map(src_fd, offset, min(WINDOW, size - offset)) as mapped:
                view = memoryview(mapped)
                try:
                    for start in range(0, len(view), PIECE):
                        piece = view[start : start + PIECE]
                        pending = writer.submit(_write_all, dst_fd, piece)
                        digest.update(piece)
                        pending.result()
                        piece.release()
                finally:
                    view.release()


class AtomicFile(io.RawIOBase):
    """Writable, hashing, all-or-nothing destination file."""

    def __init__(self, path: str, hashing: bool = True):
        super().__init__()
        self.path = path
        directory = os.path.dirname(path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise PermanentError(
                "cannot create directory %s: %s" % (directory, exc.strerror)
            ) from None
        base = os.path.basename(path)
        self.tmp = os.path.join(
            directory, ".%s.part-%d-%s" % (base[:100], os.getpid(), os.urandom(3).hex())
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self.done, self.fd = False, -1
        _LIVE.add(self.tmp)
        try:
            self.fd = os.open(self.tmp, flags, 0o644)
        except FileNotFoundError:  # the directory went away since we made it
            _MADE_DIRS.discard(directory)
            try:
                os.makedirs(directory, exist_ok=True)
                self.fd = os.open(self.tmp, flags, 0o644)
            except OSError as exc:
                _LIVE.discard(self.tmp)
                raise PermanentError("cannot write %s: %s" % (path, exc.strerror)) from None
        except OSError as exc:
            _LIVE.discard(self.tmp)
            raise PermanentError("cannot write %s: %s" % (path, exc.strerror)) from None
        self.hash = hashlib.sha256() if hashing else None
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if self.hash is not None:
            self.hash.update(view)
        written = 0
        while written < len(view):
            written += os.write(self.fd, view[written:])
        self.size += written
        return written

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only a rewind to the start (a library retrying a download) is allowed."""
        if whence == io.SEEK_SET and offset == 0:
            self.truncate(0)
            return 0
        if (whence == io.SEEK_CUR and offset == 0) or (whence == io.SEEK_END and offset == 0):
            return self.size
        raise io.UnsupportedOperation("AtomicFile can only rewind to the start")

    def truncate(self, size: int | None = None) -> int:
        if size not in (0, None) and size != self.size:
            raise io.UnsupportedOperation("AtomicFile can only be truncated to 0")
        if size == 0:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            self.size = 0
            if self.hash is not None:
                self.hash = hashlib.sha256()
        return self.size

    def absorb(self, path: str, pipeline: bool = True) -> None:
        """Copy a whole local file in, the fastest way: a kernel copy when not hashing; else
        the file mapped, each piece hashed while it is written."""
        with open(path, "rb", buffering=0) as src:
            st = os.fstat(src.fileno())
            size = st.st_size
            # a FIFO, a device or a /proc file says 0 bytes whatever it holds: read to EOF
            sized = stat.S_ISREG(st.st_mode) and size > 0
            if self.hash is None and sized:
                self.size += _kernel_copy(src.fileno(), self.fd, size)
                return
            if self.hash is not None and sized and pipeline and size >= PIPELINE_MIN:
                _pipelined_copy(src.fileno(), size, self.hash, self.fd)
                self.size += size
                return
            buffer = bytearray(min(PIECE, size) if sized else CHUNK)
            view = memoryview(buffer)
            while True:
                n = src.readinto(buffer)
                if not n:
                    return
                self.write(view[:n])

    @property
    def sha256(self) -> str | None:
        return self.hash.hexdigest() if self.hash is not None else None

    def commit(self, expected: str | None = None, mode: int | None = None) -> None:
        """Check, then move into place.  On a mismatch nothing appears at the destination."""
        if self.done:
            return
        if expected is not None and self.sha256 != expected:
            actual = self.sha256
            self.abort()
            raise ChecksumMismatch(
                "checksum mismatch for %s: expected sha256 %s, got %s"
                % (self.path, expected, actual)
            )
        if mode is not None and mode != _NEW_FILE_MODE:
            os.fchmod(self.fd, mode)
        os.close(self.fd)
        self.fd = -1
        os.replace(self.tmp, self.path)
        _LIVE.discard(self.tmp)
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.tmp)
        except OSError:
            pass
        _LIVE.discard(self.tmp)
        self.done = True

    def close(self) -> None:
        if not self.done:
            self.abort()
        super().close()


class HashingReader(io.RawIOBase):
    """Readable source file that hashes what it hands out; a rewind starts the hash over."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        try:
            self.fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        except OSError as exc:
            cls = NotFound if isinstance(exc, FileNotFoundError) else PermanentError
            raise cls("cannot read %s: %s" % (path, exc.strerror)) from None
        self.size = os.fstat(self.fh.fileno()).st_size
        self.hash = hashlib.sha256()
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        if n:
            if self.hash is not None:
                self.hash.update(memoryview(buffer)[:n])
            self.position += n
        return n or 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.position + offset}.get(
            whence, self.size + offset
        )
        if target == self.position:
            return target
        if target != 0:
            # reading from the middle would leave a hash of something other than the file
            self.hash = None
        else:
            self.hash = hashlib.sha256()
        self.position = self.fh.seek(target)
        return self.position

    @property
    def sha256(self) -> str | None:
        if self.hash is None or self.position != self.size:
            return None
        return self.hash.hexdigest()

    def close(self) -> None:
        self.fh.close()
        super().close()
