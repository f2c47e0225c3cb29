"""Stat records: the executable, stdio, and the files named with -S/-s."""

from __future__ import annotations

import errno
import os
import stat
import time

from .stamps import iso_s
from .yamlfmt import plain, quoted

_names: dict = {}


def user_name(uid: int) -> str | None:
    """Cached: on cluster nodes a passwd lookup can go to LDAP/SSSD."""
    key = ("u", uid)
    if key not in _names:
        import pwd

        try:
            _names[key] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _names[key] = None
    return _names[key]


def group_name(gid: int) -> str | None:
    key = ("g", gid)
    if key not in _names:
        import grp

        try:
            _names[key] = grp.getgrgid(gid).gr_name
        except KeyError:
            _names[key] = None
    return _names[key]


def stat_lines(st: os.stat_result, indent: str) -> list[str]:
    """The stat fields, in the C tool's order."""
    lines = [
        "%smode: 0o%o" % (indent, st.st_mode),
        "%ssize: %d" % (indent, st.st_size),
        "%sinode: %d" % (indent, st.st_ino),
        "%snlink: %d" % (indent, st.st_nlink),
        "%sblksize: %d" % (indent, st.st_blksize),
        "%sblocks: %d" % (indent, st.st_blocks),
        "%smtime: %s" % (indent, iso_s(st.st_mtime)),
        "%satime: %s" % (indent, iso_s(st.st_atime)),
        "%sctime: %s" % (indent, iso_s(st.st_ctime)),
        "%suid: %d" % (indent, st.st_uid),
    ]
    user = user_name(st.st_uid)
    if user is not None:
        lines.append("%suser: %s" % (indent, plain(user)))
    lines.append("%sgid: %d" % (indent, st.st_gid))
    group = group_name(st.st_gid)
    if group is not None:
        lines.append("%sgroup: %s" % (indent, plain(group)))
    return lines


def sha256_file(path: str) -> str:
    """Refuses what is not a regular file: a FIFO (or a device) the task left as an output
    would block the read forever, with no writer left to end it."""
    import hashlib

    digest = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    # O_NONBLOCK: opening a FIFO with no writer does not wait for one
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb", buffering=0) as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


class NotRegularFile(OSError):
    """An output that is a FIFO, a device or a socket: it has no content to hash."""


class FileEntry:
    """One -S or -s entry: ``lfn=pfn`` or just ``pfn``."""

    def __init__(self, spec: str, output: bool):
        lfn, sep, pfn = spec.partition("=")
        if not sep:
            lfn, pfn = spec, spec
        self.lfn = lfn
        self.pfn = pfn
        self.output = output
        self.size: int | None = None  # set by render(): what the record says
        self.sha256: str | None = None

    @classmethod
    def named(cls, lfn: str, pfn: str, output: bool) -> FileEntry:
        """An entry from its parts, for library callers: a name holding ``=`` (or starting
        with ``@``) is not mistaken for ``lfn=pfn`` (or a list file)."""
        entry = cls("", output)
        entry.lfn, entry.pfn = lfn, pfn
        return entry

    def render(
        self, cwd: str, indent: str, hash_output: bool = True, inside: str | tuple | None = None
    ) -> tuple:
        """(lines, integrity_error).  Stat and hash happen here, after the job for -s.

        With ``inside`` (a directory, or several directories and files), a file whose real
        path is elsewhere (a symlink out) is neither stat'ed nor read: the record gives
        EACCES for it."""
        inner = indent + "  "
        path = self.pfn if os.path.isabs(self.pfn) else os.path.join(cwd, self.pfn)
        lines = ["%s%s:" % (indent, quoted(self.lfn))]
        try:
            roots = (inside,) if isinstance(inside, str) else inside or ()
            if inside is not None and not any(is_inside(path, root) for root in roots):
                raise PermissionError(errno.EACCES, "outside %s" % ", ".join(roots))
            st = os.stat(path)
        except OSError as exc:
            lines.append("%serror: %d" % (inner, exc.errno or 0))
            lines.append("%slfn: %s" % (inner, quoted(self.lfn)))
            lines.append("%sfile_name: %s" % (inner, plain(os.fsdecode(path))))
            return lines, False
        lines.append("%slfn: %s" % (inner, quoted(self.lfn)))
        lines.append("%sfile_name: %s" % (inner, plain(os.fsdecode(path))))
        lines.extend(stat_lines(st, inner))
        self.size = st.st_size
        if not self.output:
            return lines, False
        lines.append("%soutput: True" % inner)
        if not hash_output:
            return lines, False
        started = time.monotonic()
        try:
            digest = sha256_file(path)
        except OSError as exc:
            why = "failed creating a checksum"
            if isinstance(exc, NotRegularFile):
                why += ": not a regular file"
            lines.append("%sintegrity_error: %s" % (inner, quoted(why)))
            return lines, True
        self.sha256 = digest
        lines.append("%ssha256: %s" % (inner, digest))
        lines.append("%schecksum_timing: %.2f" % (inner, time.monotonic() - started))
        return lines, False


def is_inside(path: str, directory: str) -> bool:
    """``path``, all its symlinks followed, is ``directory`` (or that file) or below it."""
    real = os.path.realpath(path)
    top = os.path.realpath(directory)
    return real == top or real.startswith(top.rstrip("/") + "/")


def read_list_file(path: str) -> list[str]:
    """Entries of an ``@file``: one per line; comment lines (``#``) and blank lines skipped.

    The C tool turns a blank line into an entry named by a newline, which breaks its YAML.
    Environment variables in the file's name are expanded, as Pegasus 5.1 does."""
    with open(os.path.expandvars(path), encoding="utf-8", errors="surrogateescape") as fh:
        entries = []
        for raw in fh:
            line = raw.strip()
            if line and not line.startswith("#"):
                entries.append(line)
    return entries
