"""http://, https:// (GET) and webdav://, webdavs:// (GET, PUT, MKCOL, DELETE, COPY).

GETs go through urllib3 directly: one ``PoolManager`` per handler instance, that is per
scheme, host and site, whose pool for a host holds as many connections as there are
worker threads, so parallel transfers from one server reuse their connections.  The other
WebDAV methods, and any request to a server that asked for HTTP digest, use a
``requests.Session`` (imported only then).  Nothing is taken from the process environment
behind our back; what Pegasus's wget/curl call-outs honoured is applied explicitly from
the run's environment:

* TLS: ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) names the CA bundle, else certifi's;
  certificates are verified (Pegasus ran wget with ``--no-check-certificate``: this is
  stricter).
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
decoding, so the bytes and the sha256 are the file's), in reads of up to 1 MiB into a
buffer each thread reuses.  If the connection drops in the middle of the body, the same
``get()`` asks for the rest with ``Range: bytes=<n>-`` (and ``If-Range``); a server that
answers 200 instead makes it start over from byte 0.

Time limits: 30 s to connect, 300 s of silence while waiting for an answer or for more of
the body (wget's ``--timeout=300``, as Pegasus runs it).  ``PEGASUS_TRANSFER_TIMEOUT``
(seconds, > 0) replaces both, for networks where a stalled server should be given up on
sooner (a silent body then resumes with a Range request, a silent answer is retried).
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import os
import posixpath
import re
import sys
import threading
import time
from urllib.parse import unquote, urljoin, urlsplit

import urllib3
import urllib3.exceptions
from urllib3._collections import HTTPHeaderDict

from ..errors import (
    AccessDenied,
    BadInput,
    CredentialError,
    MissingDependency,
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
MAX_REDIRECTS = 30  # as requests
# an unwanted body (error page, redirect) up to this size is read, so its connection is kept
DRAIN_LIMIT = 64 << 10
USER_AGENT = "pegasus-transfer (python-urllib3/%s)" % urllib3.__version__
DEFAULT_HEADERS = {
    "User-Agent": USER_AGENT,
    # the bytes as stored: no gzip that the server would have to make and we to undo
    "Accept-Encoding": "identity",
    "Accept": "*/*",
    "Connection": "keep-alive",
}

# 5xx answers worth another try (501 Not Implemented and 505 are not)
_NOT_RETRYABLE_5XX = (501, 505)
_RETRYABLE_4XX = (408, 425, 429)
_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")
_buffers = threading.local()  # each worker thread's receive buffer


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


def timeouts(env: dict[str, str]) -> tuple[float, float]:
    """(connect, read) seconds: ours, or both from PEGASUS_TRANSFER_TIMEOUT."""
    value = env.get("PEGASUS_TRANSFER_TIMEOUT", "").strip()
    if not value:
        return CONNECT_TIMEOUT, READ_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 1e6:  # also refuses nan
        raise BadInput(
            "PEGASUS_TRANSFER_TIMEOUT must be a number of seconds above 0, not %r" % value
        )
    return seconds, seconds


def _status(response) -> int:
    """The status of a urllib3 or a requests response."""
    status = getattr(response, "status", None)
    return response.status_code if status is None else status


def status_error(response, what: str) -> TransferError:
    """The ``transfer.errors`` class for an HTTP error status (urllib3 or requests response)."""
    status = _status(response)
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


def network_error(exc: BaseException, what: str) -> TransferError:
    """A urllib3 (GETs) or requests (other WebDAV methods) exception as a ``transfer.errors``
    class."""
    errors = urllib3.exceptions
    requests_module = sys.modules.get("requests")  # never imported just to classify an error
    rex = requests_module.exceptions if requests_module is not None else None

    def isa(ours: tuple, theirs: str) -> bool:
        return isinstance(exc, ours) or (rex is not None and isinstance(exc, getattr(rex, theirs)))

    if isa((errors.SSLError,), "SSLError"):
        text = str(exc).lower()
        if "certificate" in text and ("verify" in text or "mismatch" in text):
            return PermanentError(
                "%s: the server's TLS certificate is not trusted (set REQUESTS_CA_BUNDLE to "
                "the CA bundle that signed it)" % what
            )
        return RetryableError("%s: TLS error: %s" % (what, reason(exc)))
    if isa((errors.ProxyError,), "ProxyError"):
        return RetryableError("%s: proxy error: %s" % (what, reason(exc)))
    # urllib3's NewConnectionError (refused, no such host) is a ConnectTimeoutError too
    if not isinstance(exc, errors.NewConnectionError) and isa((errors.TimeoutError,), "Timeout"):
        return RetryableError("%s: timed out" % what)
    if isinstance(exc, errors.LocationValueError) or (
        rex is not None
        and isinstance(
            exc,
            (
                rex.TooManyRedirects,
                rex.InvalidURL,
                rex.InvalidSchema,
                rex.MissingSchema,
                rex.InvalidHeader,
                rex.URLRequired,
            ),
        )
    ):
        return PermanentError("%s: %s" % (what, redact(reason(exc))))
    return RetryableError("%s: %s" % (what, redact(reason(exc))))


def _no_proxy_match(host: str, port: int | None, no_proxy: str) -> bool:
    """curl/requests semantics of ``no_proxy``: ``*``, domain suffixes, host:port, CIDRs."""
    import ipaddress

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


def _should_strip_auth(old_url: str, new_url: str) -> bool:
    """requests' rule: a redirect to another host, port or scheme loses the credentials
    (except http -> https on the standard ports)."""
    old, new = urlsplit(old_url), urlsplit(new_url)
    if old.hostname != new.hostname:
        return True
    if (
        old.scheme == "http"
        and old.port in (80, None)
        and new.scheme == "https"
        and new.port in (443, None)
    ):
        return False
    changed_port = old.port != new.port
    changed_scheme = old.scheme != new.scheme
    default_port = (_DEFAULT_PORTS.get(old.scheme), None)
    if not changed_scheme and old.port in default_port and new.port in default_port:
        return False
    return changed_port or changed_scheme


def _basic(login: tuple[str, str]) -> str:
    """The Authorization value for HTTP basic (latin-1, as requests; UTF-8 beyond it)."""
    import base64

    text = "%s:%s" % login
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


_session_class = None


def _requests_session_class():
    """A requests.Session that does not hand our credential headers to another host on a
    redirect (built on first use: a plain GET never imports requests)."""
    global _session_class
    if _session_class is None:
        import requests

        class _Session(requests.Session):
            credential_headers: set[str]

            def rebuild_auth(self, prepared_request, response):
                super().rebuild_auth(prepared_request, response)
                if self.credential_headers and self.should_strip_auth(
                    response.request.url, prepared_request.url
                ):
                    for name in self.credential_headers:
                        prepared_request.headers.pop(name, None)

        _session_class = _Session
    return _session_class


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


def _release(raw, drain: bool = False) -> None:
    """Give a urllib3 response's connection back to its pool: as it is when the body was
    read to the end, after reading a small unwanted body when ``drain``, else closed (the
    pool opens a new one when it is needed)."""
    try:
        if not raw.isclosed():
            remaining = raw.length_remaining
            if drain and remaining is not None and remaining <= DRAIN_LIMIT:
                raw.drain_conn()
            if not raw.isclosed():
                raw.close()
        raw.release_conn()
    except Exception:  # a connection being thrown away must not replace the real outcome
        pass


class _HttpBase(Handler):
    """What HTTP and WebDAV share: the pools, TLS, credentials, GET with resume."""

    use_proxy = False
    wire_schemes: dict[str, str] = {}

    def __init__(self, context):
        super().__init__(context)
        env = context.env
        bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
        if bundle and not os.path.exists(bundle):
            raise CredentialError("REQUESTS_CA_BUNDLE names %s, which does not exist" % bundle)
        self._ca_bundle = bundle or None
        self._connect_timeout, self._read_timeout = timeouts(env)
        self._timeout = urllib3.Timeout(connect=self._connect_timeout, read=self._read_timeout)
        self._maxsize = max(4, context.threads)  # a connection per worker thread
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._managers: dict[str, urllib3.PoolManager] = {}  # proxy URL ("" direct) -> pools
        self._tls = None
        self._session = None
        self._headers: dict[tuple, dict[str, str]] = {}
        self._base_headers: dict[tuple, HTTPHeaderDict] = {}
        self._credential_headers: set[str] = set()
        self._logins: dict[tuple, object] = {}
        self._digest: set[tuple] = set()
        self._proxy_failed: set[str] = set()

    def close(self) -> None:
        for manager in list(self._managers.values()):
            manager.clear()
        if self._session is not None:
            self._session.close()

    # ------------------------------------------------------------------ connections

    def _tls_context(self):
        """One SSLContext for every connection of this handler: the CA bundle is loaded once
        (about 16 ms), not per connection."""
        if self._tls is None:
            from urllib3.util.ssl_ import create_urllib3_context

            context = create_urllib3_context()
            where = self._ca_bundle or _certifi_bundle()
            try:
                if where is None:
                    context.load_default_certs()
                elif os.path.isdir(where):
                    context.load_verify_locations(capath=where)
                else:
                    context.load_verify_locations(cafile=where)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise PermanentError(
                    "the CA bundle %s cannot be loaded: %s" % (where, reason(exc))
                ) from None
            self._tls = context
        return self._tls

    def _new_manager(self, proxy: str | None, tls: bool):
        kwargs: dict = {
            "num_pools": 8,
            "maxsize": self._maxsize,
            "block": False,
            "retries": False,
            "timeout": self._timeout,
        }
        if tls:
            kwargs["ssl_context"] = self._tls_context()
        else:  # TLS only after a redirect to https: let urllib3 load the bundle then
            where = self._ca_bundle or _certifi_bundle()
            if where is not None:
                kwargs["ca_cert_dir" if os.path.isdir(where) else "ca_certs"] = where
        if not proxy:
            return urllib3.PoolManager(**kwargs)
        if proxy.split(":", 1)[0].lower().startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise PermanentError(
                    "the SOCKS proxy %s needs PySocks (pip install pysocks)" % redact(proxy)
                ) from None
            return SOCKSProxyManager(proxy, **kwargs)
        parsed = urllib3.util.parse_url(proxy)
        headers = None
        if parsed.auth:
            user, _, password = parsed.auth.partition(":")
            headers = urllib3.util.make_headers(
                proxy_basic_auth="%s:%s" % (unquote(user), unquote(password))
            )
        return urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)

    def _manager(self, proxy: str | None, url: str):
        key = proxy or ""
        manager = self._managers.get(key)
        if manager is None:
            with self._pool_lock:
                manager = self._managers.get(key)
                if manager is None:
                    tls = url.startswith("https:")
                    manager = self._managers[key] = self._new_manager(proxy, tls)
        return manager

    @property
    def session(self):
        """The requests session (WebDAV methods other than GET; digest logins)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._new_session()
        return self._session

    def _new_session(self):
        try:
            import http.cookiejar

            import requests.adapters
        except ImportError:
            raise MissingDependency(
                "webdav", "requests", "pip install 'pegasus-lite[http]'"
            ) from None
        session = _requests_session_class()()
        session.trust_env = False  # the run's environment is applied explicitly
        session.credential_headers = self._credential_headers
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=self._maxsize, max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(DEFAULT_HEADERS)
        if self._ca_bundle:
            session.verify = self._ca_bundle
        return session

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
            self._credential_headers.update(headers)
        return headers

    def base_headers(self, endpoint) -> HTTPHeaderDict:
        """Our default headers with the endpoint's extra ones over them (names compared
        without case, as requests merges them); to be copied, not changed."""
        key = (endpoint.url.scheme, endpoint.url.hostport, endpoint.site)
        found = self._base_headers.get(key)
        if found is None:
            found = HTTPHeaderDict(DEFAULT_HEADERS)
            for name, value in self.extra_headers(endpoint).items():
                found[name] = value
            self._base_headers[key] = found
        return found

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
        import requests.auth

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

    def _wants_digest(self, endpoint, login, response) -> bool:
        """True when we sent basic (``login``) and the server asks for digest only: digest
        from now on (for every thread: one that sent basic meanwhile asks again)."""
        if login is None or _status(response) != 401:
            return False
        challenge = response.headers.get("WWW-Authenticate", "").lower()
        if "digest" not in challenge or "basic" in challenge:
            return False
        key = (endpoint.url.hostport, *login)
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
        """One request through the requests session; a network failure becomes a
        ``transfer.errors`` class; a 401 asking for digest where we sent basic is answered
        once with digest."""
        import requests

        url = url or self.wire_url(endpoint)
        kwargs.setdefault("timeout", (self._connect_timeout, self._read_timeout))
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
            basic = isinstance(auth, requests.auth.HTTPBasicAuth)
            login = (auth.username, auth.password) if basic else None
            if self._wants_digest(endpoint, login, response):
                response.close()
                if isinstance(body, _Body):
                    body.seek(0)
                continue
            return response
        return response

    def _open(self, src, what: str, url: str, headers: HTTPHeaderDict, proxies: dict):
        """GET ``url``, redirects followed: the final urllib3 response, body unread.  Digest
        logins go through the requests session (its HTTPDigestAuth does the handshake)."""
        login = self.login(src)
        if login is not None and (src.url.hostport, *login) in self._digest:
            return self._open_session(src, what, url, headers, proxies)
        if login is not None:  # else the handler's own headers, which urllib3 only reads
            headers = HTTPHeaderDict(headers)
            headers["Authorization"] = _basic(login)
        debug = self.context.debug
        stripped = False
        for _ in range(MAX_REDIRECTS + 1):
            proxy = proxies.get(url.split(":", 1)[0]) if proxies else None
            if debug:
                self.log.debug("GET %s", url)
            try:
                response = self._manager(proxy, url).urlopen(
                    "GET",
                    url,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise network_error(exc, what) from None
            status = response.status
            location = response.headers.get("Location") if status in _REDIRECTS else None
            if not location:
                if not stripped and self._wants_digest(src, login, response):
                    _release(response, drain=True)
                    return self._open_session(src, what, url, headers, proxies)
                return response
            _release(response, drain=True)
            target = urljoin(url, location.strip())
            scheme = target.split(":", 1)[0].lower()
            if scheme not in ("http", "https"):
                raise PermanentError(
                    "%s: redirected to %s, which is not http(s)" % (what, redact(target))
                )
            if not stripped and _should_strip_auth(url, target):
                stripped = True
                headers = HTTPHeaderDict(headers)
                headers.discard("Authorization")
                for name in self._credential_headers:
                    headers.discard(name)
                headers.setdefault("User-Agent", USER_AGENT)
            url = target
        raise PermanentError("%s: more than %d redirects" % (what, MAX_REDIRECTS))

    def _open_session(self, src, what: str, url: str, headers, proxies: dict):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        response = self.send(
            "GET", src, what, url=url, headers=headers, proxies=proxies, stream=True
        )
        return response.raw  # the urllib3 response under it: read and released as ours

    # ------------------------------------------------------------------ GET

    def get(self, src, sink) -> None:
        wire = self.wire_url(src)
        what = "GET %s" % src.url
        headers = self.base_headers(src)
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
            request_headers = headers
            if start:
                request_headers = HTTPHeaderDict(headers)
                request_headers["Range"] = "bytes=%d-" % start
                if validator:
                    request_headers["If-Range"] = validator
            response = self._open(src, what, wire, request_headers, proxies)
            problem = None
            reading = False
            try:
                status = response.status
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
                    reading = True
                    problem = _read_body(response, sink, what)
            finally:
                _release(response, drain=not reading)
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


def _certifi_bundle() -> str | None:
    """certifi's CA bundle, as requests uses by default; None without certifi."""
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _read_body(response, sink, what) -> str | None:
    """Copy a urllib3 response's body into the sink; the cause if the connection broke, else
    None.  Reads go straight from the http.client response under urllib3's (no content
    decoding is wanted) into a 1 MiB buffer that each thread reuses."""
    fp = getattr(response, "_fp", None)
    if not isinstance(fp, http.client.HTTPResponse):
        return _stream_body(response, sink, what)
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = memoryview(bytearray(CHUNK))
    readinto = fp.readinto
    write = sink.write
    while True:
        try:
            count = readinto(buffer)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            return reason(exc)
        if not count:
            return None
        try:
            write(buffer[:count])
        except OSError as exc:
            raise PermanentError(
                "%s: cannot write %s: %s" % (what, sink.path, exc.strerror or exc)
            ) from None


def _stream_body(response, sink, what) -> str | None:
    """The same through urllib3's own reads (a response not backed by http.client)."""
    stream = response.stream(CHUNK, decode_content=False)
    write = sink.write
    while True:
        try:
            chunk = next(stream, None)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
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

    def __init__(self, context):
        super().__init__(context)
        self._netrc: dict[str, tuple[str, str] | None] = {}  # host -> ~/.netrc login

    def login(self, endpoint):
        found = super().login(endpoint)
        if found is None:
            host = endpoint.url.host
            try:
                found = self._netrc[host]
            except KeyError:
                hostname = urlsplit(self.wire_url(endpoint)).hostname
                found = self._netrc[host] = _netrc_login(self.context.env, hostname)
        return found


def _netrc_login(env: dict[str, str], host: str | None) -> tuple[str, str] | None:
    """(login, password) for host from $NETRC, else ~/.netrc or ~/_netrc, as requests (and
    wget) find it; None when there is none or the file cannot be read."""
    if not host:
        return None
    names = [env["NETRC"]] if env.get("NETRC") is not None else ["~/.netrc", "~/_netrc"]
    for name in names:
        path = os.path.expanduser(name)
        if os.path.exists(path):
            break
    else:
        return None
    import netrc

    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError):
        return None
    if not entry:
        return None
    return (entry[0] or entry[1] or ""), (entry[2] or "")


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
