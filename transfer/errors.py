"""What can go wrong in a transfer, sorted by what the engine should do about it.

Each error's message is one line, safe to log: URLs in it are already redacted.
"""

from __future__ import annotations


class TransferError(Exception):
    """A transfer attempt failed.  ``permanent`` errors are not retried with the same source."""

    permanent = False
    retry_after: float | None = None


class RetryableError(TransferError):
    """Network trouble, a 5xx, a timeout: try again after a backoff (or ``retry_after``)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(TransferError):
    """Trying the same source again cannot help: not found, forbidden, a bad URL."""

    permanent = True


class NotFound(PermanentError):
    pass


class AccessDenied(PermanentError):
    pass


class ChecksumMismatch(TransferError):
    """The bytes that arrived are not the bytes expected; worth one re-fetch."""


class BadInput(Exception):
    """The request itself is wrong (bad JSON, unknown entry type or scheme): nothing runs."""

    def __str__(self) -> str:
        # one line, whatever names from the input it quotes (a file name may hold \r or \n)
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class CredentialError(BadInput):
    """A credential file named by the environment is missing or unreadable."""


class MissingDependency(BadInput):
    """A scheme needs a library or program that is not installed."""

    def __init__(self, scheme: str, what: str, fix: str):
        super().__init__("%s:// URLs need %s, which is not installed: %s" % (scheme, what, fix))
