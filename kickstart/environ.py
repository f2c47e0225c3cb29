"""The ``environment:`` and ``limits:`` sections, with secrets redacted.

Records are copied to submit hosts, databases and bug reports; a credential in them is a
leak.  A variable is secret when its name says so, and a URL's password is removed from
every value.
"""

from __future__ import annotations

import sys

from .yamlfmt import quoted

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from collections.abc import Mapping

REDACTED = "<redacted>"

_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASS", "CREDENTIAL", "AUTH")
_SECRET_NAMES = frozenset(
    (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CLIENT_SECRET",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_SAS_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "HF_TOKEN",
        "GLOBUS_ACCESS_TOKEN",
        "IRODS_PASSWORD",
        "BEARER_TOKEN",
        "BEARER_TOKEN_FILE",
        "X509_USER_PROXY",
        "X509_USER_CERT",
        "X509_USER_KEY",
        "SCITOKENS",
        "_CONDOR_CREDS",
    )
)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in _SECRET_NAMES or any(word in upper for word in _SECRET_WORDS)


def redact_url_passwords(value: str) -> str:
    """Every URL's secrets in a value: ``scheme://user:pw@host/p?sig=s#t`` ->
    ``scheme://user:<redacted>@host/p?sig=<redacted>#<redacted>``.  Query and fragment
    values are masked too (names kept): presigned URLs and ``?token=`` links carry bearer
    secrets there.  Local URLs (file, symlink, moveto) are paths: only passwords go."""
    if "://" not in value:
        return value
    out = []
    rest = value
    while True:
        start = rest.find("://")
        if start < 0:
            out.append(rest)
            break
        authority_start = start + 3
        end = authority_start
        while end < len(rest) and rest[end] not in "/?# \t\n\"'":
            end += 1
        authority = rest[authority_start:end]
        at = authority.rfind("@")
        colon = authority.find(":", 0, at) if at >= 0 else -1
        if colon >= 0:
            authority = authority[: colon + 1] + REDACTED + authority[at:]
        url_end = end
        while url_end < len(rest) and rest[url_end] not in " \t\n\"'<>":
            url_end += 1
        tail = rest[end:url_end]
        if not _is_local_scheme(rest[:start]):
            tail = _mask_query(tail)
        out.append(rest[:authority_start] + authority + tail)
        rest = rest[url_end:]
    return "".join(out)


def _is_local_scheme(before: str) -> bool:
    """The scheme that ends ``before`` is file, symlink or moveto."""
    i = len(before)
    while i > 0 and (before[i - 1].isalnum() or before[i - 1] in "+.-"):
        i -= 1
    return before[i:].lower() in ("file", "symlink", "moveto")


def _mask_query(tail: str) -> str:
    """``/p?a=1&b#c`` -> ``/p?a=<redacted>&<redacted>#<redacted>``."""
    cut = min((i for i in (tail.find("?"), tail.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return tail
    out = [tail[:cut]]
    item = ""
    for ch in tail[cut:] + "&":
        if ch not in "?#&;":
            item += ch
            continue
        if item:
            name, equals, secret = item.partition("=")
            if not equals:
                out.append(REDACTED)
            else:
                out.append(name + "=" + (REDACTED if secret else ""))
        out.append(ch)
        item = ""
    return "".join(out)[:-1]


def redacted_value(name: str, value: str) -> str:
    if is_secret_name(name):
        return REDACTED
    return redact_url_passwords(value)


def environment_lines(env: Mapping[str, str], indent: str) -> list[str]:
    return [
        "%s%s: %s" % (indent, quoted(name), quoted(redacted_value(name, env[name])))
        for name in sorted(env)
    ]


# Linux resource numbers 0..15 and the names the C tool prints for them (it shows RSS and
# RTTIME as RESOURCE_5 and RESOURCE_15).
_LINUX_LIMITS = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RESOURCE_5",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RESOURCE_15",
)  # fmt: skip


def _limits(resource: object) -> list[tuple[str, int]]:
    if sys.platform.startswith("linux"):
        return list(zip(_LINUX_LIMITS, range(len(_LINUX_LIMITS))))
    return [(name, getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")]


def limits_lines(indent: str) -> list[str]:
    import resource

    lines = []
    for label, which in _limits(resource):
        try:
            soft, hard = resource.getrlimit(which)
        except (ValueError, OSError):
            continue
        for suffix, value in (("soft", soft), ("hard", hard)):
            shown = "unlimited" if value == resource.RLIM_INFINITY else str(value)
            lines.append("%s%s_%s: %s" % (indent, label, suffix, shown))
    return lines
