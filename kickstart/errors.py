"""Kickstart's failures, each carrying the exit code the C tool uses for it."""

from __future__ import annotations


class KickstartError(Exception):
    """Base class; ``exitcode`` is what the CLI exits with."""

    exitcode = 1


class UsageError(KickstartError):
    """Bad command line (the C tool exits 127 for these)."""

    exitcode = 127


class SetupError(KickstartError):
    """-w/-W could not change directory, or the program could not be prepared."""

    exitcode = 127


class StdioError(KickstartError):
    """The job's stdin, stdout or stderr could not be connected."""

    exitcode = 126


class ListFileError(KickstartError):
    """An ``-S @file`` / ``-s @file`` list could not be read: the job is skipped, exit errno."""

    def __init__(self, path: str, errno: int, reason: str):
        super().__init__("cannot read list file %s: %s" % (path, reason))
        self.exitcode = errno or 1
