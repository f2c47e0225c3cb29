"""http://, https:// (GET) and webdav://, webdavs:// (GET, PUT, MKCOL, DELETE, COPY) with requests.

One ``requests.Session`` per handler instance, that is per scheme, host and site: its
connection pool holds as many connections as there are worker threads, so parallel
transfers from one server reuse their connections.  Nothing is taken from the process
environment behind our back (``trust_env`` is off); what Pegasus's wget/curl call-outs
honoured is applied explicitly from the run's environment:

* TLS: ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) names the CA bundle; certificates
  are verified (Pegasus ran wget with ``--no-check-certificate``: this is stricter).
* Proxy, http(s) GETs only: ``http_proxy``/``https_proxy`` (either case), or
  ``OSG_SQUID_LOCATION`` when ``http_proxy`` is unset, as Pegasus; ``no_proxy`` honoured.
  Like Pegasus, a URL that failed through the proxy is fetched directly on the next try.
  WebDAV never uses a proxy (Pegasus clears ``http_proxy`` for its curl calls).
* Extra request headers: PEGASUS_CREDENTIALS (``PEGASUS_CREDENTIALS_<site>`` first),
  section ``[scheme://host:port]``, ``[scheme://host]``, ``[host:port]`` or ``[host]``, keys
  ``header.<Name> = value``.  They are not sent on to another host after a redirect.
* Logins: a URL's ``user:password`` (HTTP basic, digest when the server asks for it), else
  for WebDAV ``username``/``password`` of section ``[host:port]`` or ``[host]``, else
  ``~/.netrc`` (as wget).  Passwords never appear in a message.

A download is streamed into the engine's sink exactly as the server sent it (no content
decoding, so the bytes and the sha256 are the file's).  If the connection drops in the
middle of the body, the same ``get()`` asks for the rest with ``Range: bytes=<n>-`` (and
``If-Range``); a server that answers 200 instead makes it start over from byte 0.
"""

from __future__ import annotations

import datetime
import email.utils
import http.cookiejar
import ipaddress
import os
import posixpath
import re
import threading
import time

import requests
import requests.adapters
import requests.auth
import requests.utils
import urllib3.exceptions

from ..errors import (
    AccessDenied,
    CredentialError,
    NotFound,
    PermanentError,
    RetryableError,
    TransferError,
)
from ..urls import redact
from .base import Handler

CHUNK = 1 << 20
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 300.0  # wget --timeout=300, as Pegasus runs it
MAX_RESUMES = 8  # Range requests inside one get() before giving the attempt back to the engine
USER_AGENT = "pegasus-transfer (python-requests/%s)" % requests.__version__

# 5xx answers worth another try (501 Not Implemented and 505 are not)
_NOT_RETRYABLE_5XX = (501, 505)
_RETRYABLE_4XX = (408, 425, 429)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (``120``) or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_error(response: requests.Response, what: str) -> TransferError:
    """The ``transfer.errors`` class for an HTTP error status."""
    status = response.status_code
    text = "%s: HTTP %d %s" % (what, status, (response.reason or "").strip())
    text = text.rstrip()
    if status in (404, 410):
        return NotFound(text)
    if status in (401, 403):
        return AccessDenied(text)
    if status in _RETRYABLE_4XX or (500 <= status < 600 and status not in _NOT_RETRYABLE_5XX):
        return RetryableError(
            text, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    return PermanentError(text)


def reason(exc: BaseException) -> str:
    """A short cause for a requests/urllib3/socket error (their own texts are long)."""
    text = " ".join(str(exc).split())
    found = _ERRNO.findall(text)
    if found:
        return found[-1].strip()
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "incompleteread" in lowered or "connection broken" in lowered:
        return "connection broken before the end of the body"
    if "remote end closed" in lowered or "remotedisconnected" in lowered:
        return "the server closed the connection"
    if len(text) > 200:
        text = text[:200] + "..."
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def network_error(exc: requests.RequestException, what: str) -> TransferError:
    """A requests exception as a ``transfer.errors`` class."""
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc).lower()
        if "certificate" in text and ("verify" in text or "mismatch" in text):
            return PermanentError(
                "%s: the server's TLS certificate is not trusted (set REQUESTS_CA_BUNDLE to "
                "the CA bundle that signed it)" % what
            )
        return RetryableError("%s: TLS error: %s" % (what, reason(exc)))
    if isinstance(exc, requests.exceptions.ProxyError):
        return RetryableError("%s: proxy error: %s" % (what, reason(exc)))
    if isinstance(exc, requests.exceptions.Timeout):
        return RetryableError("%s: timed out" % what)
    if isinstance(
        exc,
        (
            requests.exceptions.TooManyRedirects,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.URLRequired,
        ),
    ):
        return PermanentError("%s: %s" % (what, redact(reason(exc))))
    return RetryableError("%s: %s" % (what, redact(reason(exc))))


def _no_proxy_match(host: str, port: int | None, no_proxy: str) -> bool:
    """curl/requests semantics of ``no_proxy``: ``*``, domain suffixes, host:port, CIDRs."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.replace(" ", "").split(","):
        entry = entry.lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit():
            if port is not None and int(entry_port) != port:
                continue
            entry = name
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


class _Session(requests.Session):
    """A session that does not hand our credential headers to another host on a redirect."""

    credential_headers: set[str]

    def rebuild_auth(self, prepared_request, response):
        super().rebuild_auth(prepared_request, response)
        if self.credential_headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            for name in self.credential_headers:
                prepared_request.headers.pop(name, None)


class _Body:
    """A PUT body read from the engine's reader in large pieces, with its length known
    (so requests sends Content-Length, not chunks) and rewindable (digest auth replays it)."""

    def __init__(self, reader):
        self.reader = reader

    def __len__(self) -> int:
        return self.reader.size

    def __iter__(self):
        while True:
            data = self.reader.read(CHUNK)
            if not data:
                return
            yield data

    def tell(self) -> int:
        return self.reader.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.reader.seek(offset, whence)


class _HttpBase(Handler):
    """What HTTP and WebDAV share: the session, TLS, credentials, GET with resume."""

    use_proxy = False
    wire_schemes: dict[str, str] = {}

    def __init__(self, context):
        super().__init__(context)
        env = context.env
        session = _Session()
        session.trust_env = False  # the run's environment is applied explicitly below
        session.credential_headers = set()
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max(4, context.threads), max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        # the bytes as stored: no gzip that the server would have to make and we to undo
        session.headers["Accept-Encoding"] = "identity"
        bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
        if bundle:
            if not os.path.exists(bundle):
                raise CredentialError("REQUESTS_CA_BUNDLE names %s, which does not exist" % bundle)
            session.verify = bundle
        self.session = session
        self._lock = threading.Lock()
        self._headers: dict[tuple, dict[str, str]] = {}
        self._logins: dict[tuple, object] = {}
        self._digest: set[tuple] = set()
        self._proxy_failed: set[str] = set()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ addressing

    def wire_url(self, endpoint) -> str:
        """The http(s) URL the request goes to, without user or password."""
        url = endpoint.url
        return url.location(self.wire_schemes.get(url.scheme, url.scheme))

    # ------------------------------------------------------------------ credentials

    def credential_sections(self, endpoint) -> list[str]:
        url = endpoint.url
        names = []
        for host in (url.hostport, url.host):
            names.append("%s://%s" % (url.scheme, host))
        for host in (url.hostport, url.host):
            names.append(host)
        return list(dict.fromkeys(names))

    def _section(self, endpoint) -> tuple[str | None, dict[str, str] | None]:
        ini = self.context.credentials.pegasus_ini(endpoint.site)
        if ini is None:
            return None, None
        for name in self.credential_sections(endpoint):
            if ini.has_section(name):
                return name, dict(ini.items(name))
        return None, None

    def extra_headers(self, endpoint) -> dict[str, str]:
        """``header.<Name> = value`` keys of the endpoint's PEGASUS_CREDENTIALS section."""
        key = (endpoint.url.scheme, endpoint.url.hostport, endpoint.site)
        with self._lock:
            cached = self._headers.get(key)
        if cached is not None:
            return cached
        name, section = self._section(endpoint)
        headers: dict[str, str] = {}
        for option, value in (section or {}).items():
            if not option.startswith("header."):
                continue
            header = option[len("header.") :].strip()
            bad = not header or any(c in header for c in " :\r\n\t")
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                bad = True
            if bad or "\r" in value or "\n" in value:
                raise CredentialError(
                    "PEGASUS_CREDENTIALS section [%s]: %s is not a usable HTTP header"
                    % (name, option)
                )
            headers[header] = value
        with self._lock:
            self._headers[key] = headers
            self.session.credential_headers.update(headers)
        return headers

    def login(self, endpoint) -> tuple[str, str] | None:
        url = endpoint.url
        if url.user is not None:
            return url.user, url.password or ""
        return None

    def auth_for(self, endpoint):
        """A requests auth object for the endpoint (basic, or digest once a server asked)."""
        login = self.login(endpoint)
        if login is None:
            return None
        key = (endpoint.url.hostport, *login)
        with self._lock:
            auth = self._logins.get(key)
            if auth is None:
                if key in self._digest:
                    auth = requests.auth.HTTPDigestAuth(*login)
                else:
                    auth = requests.auth.HTTPBasicAuth(*login)
                self._logins[key] = auth
        return auth

    def _wants_digest(self, endpoint, auth, response) -> bool:
        """True when we sent basic and the server asks for digest only: digest from now on
        (for every thread: one that sent basic meanwhile asks again)."""
        if response.status_code != 401 or not isinstance(auth, requests.auth.HTTPBasicAuth):
            return False
        challenge = response.headers.get("WWW-Authenticate", "").lower()
        if "digest" not in challenge or "basic" in challenge:
            return False
        key = (endpoint.url.hostport, auth.username, auth.password)
        with self._lock:
            if key not in self._digest:
                self._digest.add(key)
                self._logins.pop(key, None)
        return True

    def denied(self, endpoint, response, what: str) -> TransferError:
        return status_error(response, what)

    # ------------------------------------------------------------------ requests

    def proxies_for(self, endpoint, wire: str) -> dict[str, str]:
        if not self.use_proxy or wire in self._proxy_failed:
            return {}
        env = self.context.env
        scheme = wire.split(":", 1)[0]
        if scheme == "http":
            proxy = env.get("http_proxy") or env.get("HTTP_PROXY") or env.get("OSG_SQUID_LOCATION")
        else:
            proxy = env.get("https_proxy") or env.get("HTTPS_PROXY")
        if not proxy:
            return {}
        no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
        if no_proxy and _no_proxy_match(endpoint.url.host, endpoint.url.port, no_proxy):
            return {}
        if "://" not in proxy:
            proxy = "http://" + proxy  # OSG_SQUID_LOCATION is often host:port
        return {scheme: proxy}

    def send(self, method: str, endpoint, what: str, url: str | None = None, **kwargs):
        """One request; a network failure becomes a ``transfer.errors`` class; a 401 asking
        for digest where we sent basic is answered once with digest."""
        url = url or self.wire_url(endpoint)
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        kwargs.setdefault("proxies", {})
        body = kwargs.get("data")
        for _ in range(2):
            auth = kwargs["auth"] = self.auth_for(endpoint)
            if self.context.debug:
                self.log.debug("%s %s", method, url)
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                raise network_error(exc, what) from None
            if self._wants_digest(endpoint, auth, response):
                response.close()
                if isinstance(body, _Body):
                    body.seek(0)
                continue
            return response
        return response

    # ------------------------------------------------------------------ GET

    def get(self, src, sink) -> None:
        wire = self.wire_url(src)
        what = "GET %s" % src.url
        headers = self.extra_headers(src)
        proxies = self.proxies_for(src, wire)
        try:
            self._get(src, sink, wire, what, headers, proxies)
        except TransferError:
            if proxies:
                self._proxy_failed.add(wire)  # Pegasus: the proxy only gets the first try
                self.log.info("%s failed through the proxy; the next try goes direct", what)
            raise

    def _get(self, src, sink, wire, what, headers, proxies) -> None:
        resumes = 0
        total: int | None = None
        validator: str | None = None
        while True:
            start = sink.size
            request_headers = dict(headers)
            if start:
                request_headers["Range"] = "bytes=%d-" % start
                if validator:
                    request_headers["If-Range"] = validator
            response = self.send(
                "GET",
                src,
                what,
                url=wire,
                headers=request_headers,
                proxies=proxies,
                stream=True,
            )
            problem = None
            try:
                status = response.status_code
                if status == 206 and start:
                    first, end, whole = _content_range(response.headers.get("Content-Range"))
                    if first != start:
                        problem = "the server resumed at the wrong byte"
                        sink.seek(0)
                    else:
                        if whole is not None:
                            total = whole
                        elif end is not None:
                            total = end + 1
                elif status == 416 and start:
                    _, _, whole = _content_range(response.headers.get("Content-Range"))
                    if whole is not None and whole == start:
                        return  # everything had arrived already
                    problem = "the server refused to resume"
                    sink.seek(0)
                elif status == 200:
                    if start:
                        self.log.info(
                            "%s: the server sent the whole file again; starting over", what
                        )
                        sink.seek(0)
                    total = _content_length(response)
                    validator = _validator(response)
                elif status == 206:  # a 206 we did not ask for: no way to know what it is
                    raise PermanentError("%s: unexpected 206 Partial Content" % what)
                elif status == 401:
                    raise self.denied(src, response, what)
                else:
                    raise status_error(response, what)
                if problem is None:
                    problem = self._read_body(response, sink, what)
            finally:
                response.close()
            if problem is None:
                if total is None or sink.size == total:
                    return
                if sink.size > total:
                    raise RetryableError(
                        "%s: received %d bytes, more than the %d announced"
                        % (what, sink.size, total)
                    )
                problem = "the connection closed after %d of %d bytes" % (sink.size, total)
            resumes += 1
            if resumes > MAX_RESUMES:
                raise RetryableError("%s: %s (gave up after %d resumes)" % (what, problem, resumes))
            self.log.info("%s: %s; resuming at byte %d", what, problem, sink.size)

    @staticmethod
    def _read_body(response, sink, what) -> str | None:
        """Copy the body into the sink; the cause if the connection broke, else None."""
        stream = response.raw.stream(CHUNK, decode_content=False)
        write = sink.write
        while True:
            try:
                chunk = next(stream, None)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                return reason(exc)
            if chunk is None:
                return None
            try:
                write(chunk)
            except OSError as exc:
                raise PermanentError(
                    "%s: cannot write %s: %s" % (what, sink.path, exc.strerror or exc)
                ) from None


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or response.headers.get("Transfer-Encoding"):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 199, 1000); ``bytes */1000`` -> (None, None, 1000)."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None, None
    first, last, whole = match.groups()
    return (
        int(first) if first else None,
        int(last) if last else None,
        int(whole) if whole and whole != "*" else None,
    )


def _validator(response) -> str | None:
    """What If-Range may carry: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


class HttpHandler(_HttpBase):
    """http:// and https:// sources (Pegasus: wget or curl)."""

    schemes = ("http", "https")
    can_get = True
    use_proxy = True

    def login(self, endpoint):
        found = super().login(endpoint)
        if found is None:
            found = requests.utils.get_netrc_auth(self.wire_url(endpoint))
        return found


class WebdavHandler(_HttpBase):
    """webdav:// (http) and webdavs:// (https): GET, PUT, MKCOL, DELETE and COPY."""

    schemes = ("webdav", "webdavs")
    wire_schemes = {"webdav": "http", "webdavs": "https"}
    can_get = True
    can_put = True
    can_copy = True
    can_mkdir = True
    can_remove = True

    def __init__(self, context):
        super().__init__(context)
        self._collections: set[str] = {"/"}  # collection paths known to exist on this server

    def credential_sections(self, endpoint) -> list[str]:
        url = endpoint.url
        return list(dict.fromkeys([url.hostport, url.host]))

    def login(self, endpoint):
        found = super().login(endpoint)
        if found is not None:
            return found
        name, section = self._section(endpoint)
        if section is None:
            return None
        username, password = section.get("username"), section.get("password")
        if not username and not password:
            return None  # a section with headers only
        if username is None or password is None:
            raise CredentialError(
                "PEGASUS_CREDENTIALS section [%s] needs both username and password" % name
            )
        return username, password

    def denied(self, endpoint, response, what):
        login = self.login(endpoint)
        hostport = endpoint.url.hostport
        if login is None:
            return AccessDenied(
                "%s: HTTP 401: the server asks for a login; add a [%s] section with username "
                "and password to PEGASUS_CREDENTIALS" % (what, hostport)
            )
        return AccessDenied(
            "%s: HTTP 401: the server refused the login of user %r (PEGASUS_CREDENTIALS "
            "section [%s] or the URL)" % (what, login[0], hostport)
        )

    def _check(self, response, endpoint, what) -> None:
        if response.status_code == 401:
            raise self.denied(endpoint, response, what)
        raise status_error(response, what)

    # ------------------------------------------------------------------ collections

    def _wire_path(self, endpoint, path: str) -> str:
        url = endpoint.url
        return "%s://%s%s" % (self.wire_schemes[url.scheme], url.hostport, path)

    def _mkcol(self, endpoint, path: str) -> int:
        """MKCOL path/; the status (201 created, 405 exists, 409 parent missing)."""
        what = "MKCOL %s://%s%s" % (endpoint.url.scheme, endpoint.url.hostport, path)
        response = self.send(
            "MKCOL",
            endpoint,
            what,
            url=self._wire_path(endpoint, path.rstrip("/") + "/"),
            headers=self.extra_headers(endpoint),
        )
        response.close()
        status = response.status_code
        if status in (200, 201, 204, 301, 405, 409):
            return status
        self._check(response, endpoint, what)
        return status  # not reached

    def _known(self, path: str) -> bool:
        with self._lock:
            return path in self._collections

    def _learn(self, path: str) -> None:
        """path and every ancestor exist."""
        with self._lock:
            while path not in self._collections:
                self._collections.add(path)
                path = posixpath.dirname(path)

    def _forget(self, path: str) -> None:
        with self._lock:
            prefix = path.rstrip("/") + "/"
            self._collections = {
                p for p in self._collections if p == "/" or not (p == path or p.startswith(prefix))
            }

    def ensure_collection(self, endpoint, path: str) -> None:
        """MKCOL path and its missing ancestors: from the deepest level up until one exists
        (usually the first request), then down again creating what is missing."""
        path = "/" + posixpath.normpath("/" + path).lstrip("/")  # normpath keeps "//"
        path = path.rstrip("/") or "/"
        if path == "/" or self._known(path):
            return
        missing = []
        level = path
        while level != "/" and not self._known(level):
            status = self._mkcol(endpoint, level)
            if status == 409:  # the parent is missing
                missing.append(level)
                level = posixpath.dirname(level)
                continue
            break  # created, or already there
        self._learn(level)
        for level in reversed(missing):
            status = self._mkcol(endpoint, level)
            if status == 409:
                raise PermanentError(
                    "MKCOL %s://%s%s: HTTP 409 Conflict even after its parent was created"
                    % (endpoint.url.scheme, endpoint.url.hostport, level)
                )
            self._learn(level)

    # ------------------------------------------------------------------ operations

    def put(self, source, dest) -> None:
        what = "PUT %s" % dest.url
        path = dest.url.path
        if path.endswith("/"):
            raise PermanentError("%s: the destination names a collection, not a file" % what)
        parent = posixpath.dirname(path)
        headers = dict(self.extra_headers(dest))
        for attempt in range(2):
            self.ensure_collection(dest, parent)
            if source.tell():
                source.seek(0)
            headers["Content-Length"] = str(source.size)
            data = _Body(source) if source.size else b""
            response = self.send("PUT", dest, what, data=data, headers=headers)
            response.close()
            if response.status_code in (200, 201, 204):
                return
            if response.status_code == 409 and attempt == 0:
                self._forget(parent)  # someone removed the collection since we made it
                continue
            self._check(response, dest, what)

    def mkdir(self, target) -> None:
        self.ensure_collection(target, target.url.path)

    def remove(self, target, recursive: bool) -> None:
        what = "DELETE %s" % target.url
        path = target.url.path
        if path.strip("/") == "":
            raise PermanentError("%s: refusing to remove the top collection" % what)
        headers = self.extra_headers(target)
        response = self.send("DELETE", target, what, headers=headers)
        response.close()
        if response.status_code in (301, 409) and not path.endswith("/"):
            # some servers (nginx) delete a collection only when it is named with a slash
            response = self.send(
                "DELETE", target, what, url=self.wire_url(target) + "/", headers=headers
            )
            response.close()
        self._forget(path.rstrip("/") or "/")
        if response.status_code in (200, 202, 204, 404):
            return
        self._check(response, target, what)

    def copy(self, src, dest) -> None:
        """Server-side COPY to another path on the same server."""
        what = "COPY %s -> %s" % (src.url, dest.url)
        self.ensure_collection(dest, posixpath.dirname(dest.url.path))
        headers = dict(self.extra_headers(src))
        headers.update({"Destination": self.wire_url(dest), "Overwrite": "T"})
        response = self.send("COPY", src, what, headers=headers)
        response.close()
        if response.status_code in (200, 201, 204):
            return
        self._check(response, src, what)
