"""URLs as Pegasus writes them, and how to show them without their secrets."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

from .errors import BadInput

# Schemes whose "host" part is the local machine: the URL is a path on this node.
LOCAL_SCHEMES = ("file", "symlink", "moveto")


class URL:
    """``scheme://[user[:password]@]host[:port]/path``, or a local path for file-like schemes.

    Pegasus's rules: a URL without ``:`` is a local file; ``file:``, ``file://`` and
    ``file://localhost`` all mean a path; ``$VAR`` is expanded in local paths; repeated
    slashes in a path are one.
    """

    __slots__ = ("host", "password", "path", "port", "raw", "scheme", "user")

    def __init__(self, raw: str, env: dict[str, str] | None = None):
        self.raw = raw
        self.user = self.password = None
        self.port: int | None = None
        self.host = ""
        if ":" not in raw.split("/", 1)[0] and not raw.startswith(LOCAL_SCHEMES):
            raw = "file://" + raw
        scheme, sep, rest = raw.partition(":")
        plain = scheme.replace("+", "").replace("-", "")
        if not sep or not plain.isascii() or not plain.isalnum() or not plain[:1].isalpha():
            raise BadInput("not a URL: %s" % _shown(self.raw))
        self.scheme = scheme.lower()
        if self.scheme in LOCAL_SCHEMES:
            if rest.startswith("//localhost/"):
                rest = rest[len("//localhost") :]
            elif rest.startswith("//"):
                rest = rest[2:]
            self.path = _expand(rest, env)
            if not self.path.startswith("/"):
                self.path = os.path.abspath(self.path)
            self.path = _squeeze(self.path)
            return
        if not rest.startswith("//"):
            raise BadInput("not a URL (no //host part): %s" % _shown(self.raw))
        authority, slash, path = rest[2:].partition("/")
        self.path = _squeeze("/" + path) if slash else "/"
        userinfo, at, hostport = authority.rpartition("@")
        if any(c.isspace() or not c.isprintable() for c in authority):
            # no URL has these there, and the redaction of a password stops at a blank
            shown = "%s://%s%s%s" % (scheme, "XXXX@" if at else "", hostport, slash + path)
            raise BadInput("not a URL (a blank or control character before the path): %s"
                           % _shown(shown))  # fmt: skip
        if at:
            user, colon, password = userinfo.partition(":")
            self.user = unquote(user)
            self.password = unquote(password) if colon else None
        host, colon, port = hostport.rpartition(":") if "]" not in hostport[-1:] else ("", "", "")
        if colon and port.isascii() and port.isdigit():
            self.host, self.port = host, int(port)
        else:
            self.host = hostport
        if self.host.startswith("[") and self.host.endswith("]"):
            self.host = self.host[1:-1]

    @property
    def is_local(self) -> bool:
        return self.scheme in LOCAL_SCHEMES

    @property
    def hostport(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return host if self.port is None else "%s:%d" % (host, self.port)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def location(self, scheme: str | None = None) -> str:
        """``scheme://host[:port]/path`` without user or password: what a library is given."""
        return "%s://%s%s" % (scheme or self.scheme, self.hostport, self.path)

    def __str__(self) -> str:
        if self.is_local:
            return "%s://%s" % (self.scheme, self.path)
        return redact(self.raw)

    __repr__ = __str__


def _shown(raw: str) -> str:
    """A bad URL as an error message shows it: redacted (everything before an '@' of the
    authority, whatever the scheme looks like), and on one line."""
    shown = _USERINFO.sub(r"\1XXXX@", redact(raw))
    return shown.replace("\r", "\\r").replace("\n", "\\n")


_USERINFO = re.compile(r"(://)[^/]*@")


def _expand(path: str, env: dict[str, str] | None) -> str:
    if "$" not in path:
        return path
    env = os.environ if env is None else env
    out = []
    i = 0
    while i < len(path):
        c = path[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if path[i + 1 : i + 2] == "{":
            end = path.find("}", i + 2)
            if end > 0:
                out.append(env.get(path[i + 2 : end], ""))
                i = end + 1
                continue
        j = i + 1
        while j < len(path) and (path[j].isalnum() or path[j] == "_"):
            j += 1
        if j == i + 1:
            out.append("$")
            i += 1
            continue
        out.append(env.get(path[i + 1 : j], ""))  # unset expands to nothing, as in Pegasus
        i = j
    return "".join(out)


def _squeeze(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path


MASK = "XXXX"
# A URL in free text: its scheme, then everything up to a blank, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s\"'<>`]*)")
_QUERY_ITEM = re.compile(r"([?#&;])([^?#&;=]*)(=?)([^?#&;]*)")
_PATH_IN_TEXT = re.compile(r"(\burl: /[^\s?#\"'<>]*)([?#][^\s\"'<>()]*)")


def redact(text: str) -> str:
    """``text`` with every URL's secrets masked (XXXX), so it can be logged or recorded.

    The rule, for anything shown or written: a URL's password is masked
    (``https://user:XXXX@host/``), and so is every value of its query string and fragment,
    parameter names kept (``?X-Amz-Signature=XXXX&token=XXXX``): presigned URLs and
    ``?token=`` links carry bearer secrets there.  Local URLs (file, symlink, moveto) are
    paths, where '?' is just a character: they are left alone.
    """
    if "://" in text:
        text = _URL_IN_TEXT.sub(_redact_url, text)
    if "url: /" in text:  # urllib3's "Max retries exceeded with url: /path?query"
        text = _PATH_IN_TEXT.sub(_redact_path, text)
    return text


def _redact_url(match: re.Match) -> str:
    scheme, rest = match.group(1), match.group(2)
    if scheme.lower() in LOCAL_SCHEMES:
        return match.group(0)
    # the authority ends at the first '/', as URL() reads it; a password may hold '?' or '#'
    slash = rest.find("/")
    authority = rest if slash < 0 else rest[:slash]
    at = authority.rfind("@")
    head = ""
    if at >= 0:
        user, colon, _password = authority[:at].partition(":")
        head = (user + colon + (MASK if colon else "")) + "@"
        rest = rest[at + 1 :]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut >= 0:
        rest = rest[:cut] + _QUERY_ITEM.sub(_mask_item, rest[cut:])
    return "%s://%s%s" % (scheme, head, rest)


def _redact_path(match: re.Match) -> str:
    return match.group(1) + _QUERY_ITEM.sub(_mask_item, match.group(2))


def _mask_item(item: re.Match) -> str:
    separator, name, equals, value = item.groups()
    if equals:
        return "%s%s=%s" % (separator, name, MASK if value else "")
    return separator + (MASK if name else "")


def redact_record(record) -> bool:
    """A logging filter for the handlers that print our log: whatever a message holds (a
    library's exception text, a command line), its URLs are redacted before it is shown."""
    message = record.getMessage()
    if "://" in message or "url: /" in message:
        record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:  # --debug tracebacks: their messages too
        import logging

        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return True
