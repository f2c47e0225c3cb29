"""``pegasus-transfer`` as an HTCondor file transfer plugin (multi-file protocol, version 2).

With this, a pool admin adds ``pegasus-transfer`` to ``FILETRANSFER_PLUGINS`` and jobs can name
any URL our engine handles in ``transfer_input_files`` / ``output_destination``.  The protocol,
as the starter speaks it:

* ``-classad``: print the capability ad in the long (one attribute per line) form:
  ``MultipleFileSupport`` (true), ``PluginVersion`` (string), ``PluginType`` ("FileTransfer"),
  ``ProtocolVersion`` (2) and ``SupportedMethods`` (one string, schemes separated by commas).
* ``-infile IN -outfile OUT [-upload]``: IN holds one new-syntax ClassAd per file
  (``[ Url = "..."; LocalFileName = "..." ]``, back to back, attribute names without case,
  possibly with attributes we must ignore).  Without ``-upload`` Url is copied to
  LocalFileName, with it LocalFileName to Url.  OUT, which the starter pre-fills with
  spaces so a full disk still leaves room for the answer, gets one result ad per input ad,
  in the same syntax: TransferFileName, TransferURL, TransferSuccess, TransferTotalBytes,
  TransferStartTime / TransferEndTime (epoch seconds), and for a failure TransferError
  (for the job's owner) and TransferErrorData (a list with one ad per failed try: ErrorType
  Parameter / Resolution / Contact / Authorization / Specification / Transfer, the stanza of
  that type, ErrorCode, ErrorString and Retryable: -1 not retryable, 0 retryable, k = retry
  after k seconds).  Exit 0 when every file arrived, 1 otherwise; the starter holds the job
  on a non-zero exit (HoldReasonSubCode = exit << 8).
* Credentials come in the environment: ``_CONDOR_CREDS`` is a directory of OAuth tokens,
  ``<name>.use`` for a URL written ``<name>+https://...`` (a '.' in the name is '_' in the
  file; the file holds the bare token or JSON with ``access_token``), sent as a Bearer
  header; ``X509_USER_PROXY`` names a grid proxy.  Everything else is the engine's own
  credential lookup (PEGASUS_CREDENTIALS, SSH_PRIVATE_KEY, ...).
* HTCondor defines no checksum attribute for plugin input ads; ``Checksum`` (a sha256 in
  hex, ``ChecksumType`` "sha256" or absent), the names its reuse manifests use, is honoured
  as an extension: a mismatch fails that file.

Secrets never reach a result ad: passwords in URLs become XXXX and query strings (presigned
S3 URLs carry their signature there) become ``?...``, as HTCondor itself prints URLs.  The
ClassAd text is read and written here, with the standard library only.

Sources read for the protocol (nothing copied):
https://htcondor.readthedocs.io/en/latest/apis/file-transfer-plugins/index.html and
.../transfer_error_data.html (docs/apis/file-transfer-plugins/ in github.com/htcondor/htcondor);
in that repository src/condor_utils/file_transfer.cpp
(FileTransfer::InvokeMultipleFileTransferPlugin: input/output files, pre-allocation, exit
status handling, the plugin's environment), src/condor_starter.V6.1/filter.cpp (the result
attributes and types the starter keeps), src/condor_filetransfer_plugins/
multifile_curl_plugin.cpp (capability ad, ``<cred>+<scheme>`` URLs and token files),
src/condor_examples/filetransfer_example_plugin.py, and src/classad/lexer.cpp, util.cpp and
sink.cpp (string literals and their escapes).
"""

from __future__ import annotations

import configparser
import errno
import json
import logging
import math
import os
import re
import sys
import time

from .classad_text import ClassAdSyntaxError, format_ad, format_long, parse_ads
from .credentials import Credentials
from .engine import Engine, describe_error
from .errors import (
    AccessDenied,
    BadInput,
    ChecksumMismatch,
    CredentialError,
    NotFound,
    PermanentError,
)
from .handlers.base import Context
from .inputs import Endpoint, Transfer
from .registry import HANDLERS
from .report import Attempt, Report
from .urls import URL, redact

log = logging.getLogger("pegasus-transfer")

USAGE = "usage: pegasus-transfer -classad | -infile FILE -outfile FILE [-upload] [-diagnostic]"
SITE = "local"  # the site label of every plugin endpoint (PEGASUS_CREDENTIALS_local, ...)
TOKEN_SCHEMES = ("http", "https", "webdav", "webdavs")


def plugin_version() -> str:
    try:
        from importlib.metadata import version

        return version("pegasus-lite")
    except Exception:  # not installed as a distribution (a bundle, a source tree)
        return "unknown"


def supported_methods() -> list[str]:
    """Every scheme the registry knows, in its order; a library missing on this node is a
    failure of that file at run time, with the fix in TransferError."""
    return list(HANDLERS)


def capability_ad() -> dict:
    return {
        "MultipleFileSupport": True,
        "PluginVersion": plugin_version(),
        "PluginType": "FileTransfer",
        "ProtocolVersion": 2,
        "SupportedMethods": ",".join(supported_methods()),
    }


# ---------------------------------------------------------------------------- requests


class TokenError(CredentialError):
    """A token from $_CONDOR_CREDS is missing or unreadable: refreshing it may help."""


class Request:
    """One input ad: what to move where, and what went wrong before a byte moved."""

    def __init__(self, index: int, url: str, local: str):
        self.index = index
        self.url = url  # as the ad gave it (TransferURL, redacted)
        self.local = local  # as the ad gave it (TransferFileName)
        self.remote: URL | None = None
        self.cred: str | None = None  # the token's name in a <name>+https URL
        self.transfer: Transfer | None = None
        self.problem: BaseException | None = None
        self.started = time.time()

    def remote_endpoint(self) -> Endpoint:
        transfer = self.transfer
        return transfer.dests[0] if transfer.sources[0].url.is_local else transfer.sources[0]


def _safe(text: str) -> str:
    """Passwords out (transfer.urls.redact) and query strings cut, as HTCondor prints URLs."""
    return _QUERY.sub(r"\1?...", redact(text))


_QUERY = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s?#\"']*)\?[^\s\"']*")


def _local_url(path: str) -> URL:
    """A file URL for a sandbox path, taken literally (no $VAR expansion)."""
    url = URL("file:///")
    url.path = os.path.abspath(path)
    url.raw = "file://" + url.path
    return url


def _split_credential(url: str) -> tuple[str | None, str]:
    """``name+https://...`` -> (name, ``https://...``): everything before the scheme's last
    '+' names a token, as HTCondor's curl plugin reads it."""
    scheme, sep, rest = url.partition("://")
    if not sep or "+" not in scheme:
        return None, url
    name, _, real = scheme.rpartition("+")
    return name, real + sep + rest


def _sha256_from(ad: dict, where: str) -> str | None:
    value = ad.get("checksum")
    if value is None:
        return None
    kind = ad.get("checksumtype", "sha256")
    if not isinstance(kind, str) or kind.lower() not in ("sha256", "sha-256"):
        log.warning("%s: ChecksumType %r is not sha256: not verified", where, kind)
        return None
    text = str(value).strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadInput("%s: Checksum must be a sha256 in hex, not %r" % (where, value))
    return text


def requests_from(ads: list[dict], upload: bool, env: dict[str, str]) -> list[Request]:
    """A Request per file ad (ads with neither Url nor LocalFileName are not about a file
    and are skipped, as protocol version 4 defines); a bad ad fails only its own file."""
    found = []
    for number, ad in enumerate(ads, 1):
        url, local = ad.get("url"), ad.get("localfilename")
        if url is None and local is None:
            continue
        request = Request(number, url if isinstance(url, str) else "", str(local or ""))
        found.append(request)
        where = "input ad %d" % number
        try:
            if not isinstance(url, str) or not isinstance(local, str) or not url or not local:
                raise BadInput("%s: needs string attributes Url and LocalFileName" % where)
            cred, wire = _split_credential(url)
            remote = URL(wire, env)
            request.remote = remote
            site = SITE
            if cred is not None:
                if remote.scheme not in TOKEN_SCHEMES:
                    raise BadInput(
                        "%s: %s+%s:// URLs: tokens from $_CONDOR_CREDS are sent over %s only"
                        % (where, cred, remote.scheme, "/".join(TOKEN_SCHEMES))
                    )
                site = "condor-cred-" + cred
            here = Endpoint(_local_url(local), SITE)
            there = Endpoint(remote, site)
            sources, dests = ([here], [there]) if upload else ([there], [here])
            transfer = Transfer(number, os.path.basename(local), sources, dests)
            transfer.linkage = "output" if upload else "input"
            transfer.checksum = _sha256_from(ad, where)
            request.transfer = transfer
            request.cred = cred
        except BadInput as exc:
            request.problem = exc
    return found


def read_token(name: str, env: dict[str, str]) -> str:
    """The access token HTCondor's credd left for ``name``: a bare token line, or JSON with
    ``access_token`` ('#' lines are comments).  Its text never appears in a message."""
    directory = env.get("_CONDOR_CREDS")
    if not directory:
        raise TokenError("the URL asks for the credential %r but $_CONDOR_CREDS is not set" % name)
    path = os.path.join(directory, name.replace(".", "_") + ".use")
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8"
        raise TokenError("cannot read the credential %s: %s" % (path, reason)) from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line[0] not in "{[":
            return line
        try:
            token = json.loads(line).get("access_token")
        except (ValueError, AttributeError, RecursionError):
            token = None
        if not isinstance(token, str) or not token:
            raise TokenError("the credential %s has no access_token" % path)
        return token
    raise TokenError("the credential %s is empty" % path)


class PluginCredentials(Credentials):
    """The engine's lookups, plus a Bearer header for hosts reached with a
    ``<name>+https`` URL: their endpoints carry the site ``condor-cred-<name>``, whose
    'credentials file' is made here from the token."""

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        self.tokens: dict[str, configparser.ConfigParser] = {}

    def add_token(self, site: str, url: URL, token: str) -> None:
        ini = self.tokens.setdefault(site, configparser.ConfigParser(interpolation=None))
        header = "Bearer " + token
        if any(c in header for c in "\r\n"):
            raise TokenError("the credential for %s is not a usable token" % url.hostport)
        for host in (url.hostport, url.host):
            for name in (host, "%s://%s" % (url.scheme, host)):
                if not ini.has_section(name):
                    ini.add_section(name)
                ini.set(name, "header.Authorization", header)

    def pegasus_ini(self, site: str | None = None) -> configparser.ConfigParser | None:
        if site in self.tokens:
            return self.tokens[site]
        return super().pegasus_ini(site)


# ---------------------------------------------------------------------------- running


class PluginEngine(Engine):
    """The engine, remembering every try of every transfer with the exception it ended with
    (the result ads need the error's class, not just its text).  A request error of one
    file (a capability the scheme lacks) fails that file only, not the whole run."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tries: dict[object, list[tuple[Attempt, BaseException | None]]] = {}

    def _attempt(self, transfer, src, dest, expected):
        try:
            attempt, error = super()._attempt(transfer, src, dest, expected)
            original = error
        except BadInput as exc:
            attempt = Attempt(transfer, src, dest)
            attempt.error = describe_error(exc)
            original, error = exc, PermanentError(attempt.error)
        self.tries.setdefault(transfer.id, []).append((attempt, original))
        return attempt, error


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    try:
        return max(1, int(env.get(name, default)))
    except ValueError:
        return default


def run_requests(requests: list[Request], env: dict[str, str], debug: bool = False) -> dict:
    """Move every file that has no problem yet, in one engine run (parallel, retries,
    sha256); transfer id -> its tries."""
    credentials = PluginCredentials(env)
    threads = _int_env(env, "PEGASUS_TRANSFER_THREADS", 8)
    context = Context(env, credentials, threads, debug)
    engine = PluginEngine(
        context,
        max_attempts=_int_env(env, "PEGASUS_TRANSFER_MAX_ATTEMPTS", 3),
        threads=threads,
        report=Report(progress=False),
        meta_dir=None,  # no stray .meta files of the sandbox: only what the ads say
    )
    tokens: dict[str, str] = {}
    for request in requests:
        if request.problem is not None:
            continue
        try:
            cred = request.cred
            if cred is not None:
                if cred not in tokens:
                    tokens[cred] = read_token(cred, env)
                credentials.add_token("condor-cred-" + cred, request.remote, tokens[cred])
            endpoint = request.remote_endpoint()
            if not endpoint.url.is_local:  # the scheme known, its library and credentials there
                engine.handlers.get(endpoint)
        except BadInput as exc:
            request.problem = exc
    work = [r.transfer for r in requests if r.problem is None]
    if work:
        try:
            engine.run(work)
        except BadInput as exc:  # not expected after the checks above; fail what is left
            for request in requests:
                if request.problem is None and request.transfer.id not in engine.tries:
                    request.problem = exc
    return engine.tries


# ---------------------------------------------------------------------------- results


_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_RESOLUTION = (
    "name or service not known",
    "nodename nor servname",
    "no address associated",
    "temporary failure in name resolution",
    "failed to resolve",
    "getaddrinfo failed",
    "name resolution",
)
_CONTACT = ("connection refused", "no route to host", "network is unreachable", "host is down")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or during (``from None`` keeps them)."""
    found = []
    while exc is not None and len(found) < 10 and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def _errno(exc: BaseException) -> int | None:
    for item in _chain(exc):
        number = getattr(item, "errno", None)
        if isinstance(number, int):
            return number
    return None


def _server(url: URL | None) -> str:
    if url is None or url.is_local:
        return "localhost"
    return url.hostport or "unknown"


def error_data(exc: BaseException, text: str, url: URL | None, version: str) -> dict:
    """One TransferErrorData ad: what kind of failure, and whether trying again may help."""
    server = _server(url)
    lowered = text.lower()
    number = _errno(exc)
    retryable = 0
    ad: dict = {}
    if isinstance(exc, TokenError):
        ad = {"ErrorType": "Authorization", "FailedServer": server}
        ad.update(FailureType="Authentication", ShouldRefresh=True)
        retryable = -1
    elif isinstance(exc, CredentialError):
        ad = {"ErrorType": "Authorization", "FailedServer": server}
        ad.update(FailureType="Authentication", ShouldRefresh=False)
        retryable = -1
    elif isinstance(exc, BadInput):
        ad = {"ErrorType": "Parameter", "PluginVersion": version, "PluginLaunched": True}
        retryable = -1
    elif number in (errno.ENOSPC, errno.EDQUOT):
        failure = "NoSpace" if number == errno.ENOSPC else "Quota"
        ad = {"ErrorType": "Transfer", "FailedServer": server, "FailureType": failure}
        retryable = -1
    elif isinstance(exc, AccessDenied):
        ad = {"ErrorType": "Authorization", "FailedServer": server}
        ad.update(FailureType="Authorization", ShouldRefresh=False)
        retryable = -1
    elif isinstance(exc, (NotFound, PermanentError)):
        ad = {"ErrorType": "Specification", "FailedServer": server}
        retryable = -1
    elif isinstance(exc, ChecksumMismatch):
        ad = {"ErrorType": "Transfer", "FailedServer": server}
    elif any(m in lowered for m in _RESOLUTION):
        definitive = "not known" in lowered or "no address" in lowered
        ad = {"ErrorType": "Resolution", "FailedName": url.host if url else "unknown"}
        ad["FailureType"] = "Definitive" if definitive else "Unknown"
    elif any(m in lowered for m in _CONTACT) or number == errno.ECONNREFUSED:
        ad = {"ErrorType": "Contact", "FailedServer": server}
    elif "timed out" in lowered or "timeout" in lowered:
        ad = {"ErrorType": "Transfer", "FailedServer": server, "FailureType": "TimedOut"}
    else:
        ad = {"ErrorType": "Transfer", "FailedServer": server}
    if retryable == 0 and getattr(exc, "retry_after", None):
        retryable = max(1, math.ceil(exc.retry_after))
    status = _HTTP_STATUS.search(text)
    if status:
        code = int(status.group(1))
    elif number is not None:
        code = number
    else:
        code = 1
    ad.update(ErrorCode=code, ErrorString=_safe(text), Retryable=retryable)
    return ad


def result_ad(request: Request, tries: list, upload: bool, version: str) -> dict:
    """The starter's view of one file: what moved, when, and if not, why."""
    url = request.remote
    ad: dict = {
        "TransferFileName": request.local,
        "TransferURL": _safe(request.url),
        "TransferType": "upload" if upload else "download",
        "TransferProtocol": url.scheme if url is not None else "unknown",
    }
    success = bool(tries) and tries[-1][1] is None and request.problem is None
    if tries:
        start = tries[0][0].start
        end = max(a.start + a.duration for a, _ in tries)
        seconds = sum(a.duration for a, _ in tries)
    else:
        start = end = request.started
        seconds = 0.0
    moved = sum(a.bytes for a, _ in tries)
    ad.update(
        TransferSuccess=success,
        TransferStartTime=int(start),
        TransferEndTime=math.ceil(end),
        ConnectionTimeSeconds=round(seconds, 6),
        TransferFileBytes=tries[-1][0].bytes if success else 0,
        TransferTotalBytes=moved,
    )
    developer: dict = {"TransferTries": len(tries)}
    if success:
        if tries[-1][0].sha256:
            developer["Sha256"] = tries[-1][0].sha256
        ad["DeveloperData"] = developer
        return ad
    failures: list[tuple[BaseException, str]] = []
    if request.problem is not None:
        failures.append((request.problem, describe_error(request.problem)))
    for attempt, exc in tries:
        if exc is not None:
            failures.append((exc, attempt.error or describe_error(exc)))
    if not failures:  # the engine stopped early: too many other files had failed
        failures.append((RuntimeError(), "not attempted: too many other transfers failed"))
    exc, text = failures[-1]
    message = _safe(text)
    shown = _safe(request.url)
    if shown and shown not in message:
        message = "%s: %s" % (shown, message)
    if len(failures) > 1:
        message += " (%d tries)" % len(failures)
    ad["TransferError"] = "pegasus-transfer: %s" % message
    ad["TransferErrorData"] = [error_data(e, t, url, version) for e, t in failures]
    ad["DeveloperData"] = developer
    return ad


def failure_ad(message: str, version: str) -> dict:
    """The one answer when the request itself could not be read."""
    return {
        "TransferFileName": "",
        "TransferURL": "",
        "TransferSuccess": False,
        "TransferError": "pegasus-transfer: %s" % _safe(message),
        "TransferErrorData": [
            {
                "ErrorType": "Parameter",
                "PluginVersion": version,
                "PluginLaunched": True,
                "ErrorCode": 1,
                "ErrorString": _safe(message),
                "Retryable": -1,
            }
        ],
    }


def write_results(path: str, ads: list[dict]) -> None:
    """Over the starter's pre-allocated file: written from the start without truncating
    first (the space is already ours), then cut to length."""
    data = "".join(format_ad(ad) for ad in ads).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- command


class Usage(Exception):
    pass


def parse_args(argv: list[str]) -> tuple[bool, str | None, str | None, bool, bool]:
    """(classad, infile, outfile, upload, debug); options in any order, as the starter and
    HTCondor's own plugins accept them; unknown options are ignored with a warning."""
    classad = upload = debug = False
    infile = outfile = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-infile", "-outfile"):
            if i + 1 >= len(argv):
                raise Usage("%s needs a file name" % arg)
            if arg == "-infile":
                infile = argv[i + 1]
            else:
                outfile = argv[i + 1]
            i += 2
            continue
        if arg == "-classad":
            classad = True
        elif arg == "-upload":
            upload = True
        elif arg in ("-diagnostic", "-d", "--debug"):
            debug = True
        else:
            sys.stderr.write("pegasus-transfer: ignoring the unknown plugin option %s\n" % arg)
        i += 1
    if not classad and (infile is None or outfile is None):
        raise Usage("both -infile and -outfile are needed")
    return classad, infile, outfile, upload, debug


def main(argv: list[str]) -> int:
    """The plugin's command line; never a traceback, one line on stderr for a bad call."""
    try:
        classad, infile, outfile, upload, debug = parse_args(argv)
    except Usage as exc:
        sys.stderr.write("pegasus-transfer: %s\n%s\n" % (exc, USAGE))
        return 1
    if classad:
        sys.stdout.write(format_long(capability_ad()))
        sys.stdout.flush()
        return 0
    from .cli import setup_logging

    setup_logging(debug)
    version = plugin_version()
    env = dict(os.environ)
    try:
        with open(infile, "rb") as fh:
            data = fh.read()
        ads = parse_ads(data)
    except (OSError, ClassAdSyntaxError) as exc:
        if isinstance(exc, OSError):
            problem = "cannot read the input file %s: %s" % (infile, exc.strerror)
        else:
            problem = "the input file %s is not ClassAds: %s" % (infile, exc)
        sys.stderr.write("pegasus-transfer: %s\n" % problem)
        return _answer(outfile, [failure_ad(problem, version)], False)
    requests = requests_from(ads, upload, env)
    try:
        tries = run_requests(requests, env, debug)
    except KeyboardInterrupt:
        sys.stderr.write("pegasus-transfer: interrupted\n")
        return 1
    except Exception as exc:  # a bug of ours: still answer for every ad, as the starter needs
        if debug:
            log.exception("pegasus-transfer failed")
        tries = {}
        problem = BadInput("internal error: %s" % describe_error(exc))
        for request in requests:
            request.problem = request.problem or problem
    results = [result_ad(r, tries.get(r.index, []), upload, version) for r in requests]
    for request in requests:
        if request.problem is not None:  # the engine never saw it: say why here
            log.error("%s: %s", _safe(request.url), _safe(describe_error(request.problem)))
    return _answer(outfile, results, all(r["TransferSuccess"] for r in results))


def _answer(outfile: str, results: list[dict], ok: bool) -> int:
    try:
        write_results(outfile, results)
    except (OSError, UnicodeEncodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        sys.stderr.write("pegasus-transfer: cannot write %s: %s\n" % (outfile, reason))
        return 1
    return 0 if ok else 1
