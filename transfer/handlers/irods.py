"""irods:// (``irods://[user@]host[:port]/<zone>/path``) through python-irodsclient.

The URL's path is the iRODS logical path (it starts with the zone).  Connection and login
come from an irods_environment.json, found as Pegasus finds it:
``IRODS_ENVIRONMENT_FILE_<site>``, then ``IRODS_ENVIRONMENT_FILE``, then the iCommands default
``~/.irods/irods_environment.json``.  Its ``irods_host``/``irods_port``/``irods_user_name``/
``irods_zone_name`` are used (the URL fills in what the file leaves out), every other
``irods_*`` setting (SSL, negotiation, auth scheme) is handed to the client as is.  The
password is Pegasus's ``irodsPassword``/``irods_password`` key in that file, else the
scrambled ``.irodsA`` (``IRODS_AUTHENTICATION_FILE``, the file's
``irods_authentication_file``, or ``~/.irods/.irodsA``); an ``irodsTicket``/``irods_ticket``
is supplied to the session.  One iRODSSession per handler instance (its connection pool
serves the engine's threads).

get streams ``data_objects.open(path, 'r')`` into the sink; put streams the local reader
into ``data_objects.open(path, 'w')`` (parent collections created first, as Pegasus's
``imkdir -p``; a partial object is unlinked on failure); mkdir is ``collections.create``
(recursive); remove unlinks an object or, recursively, a collection (a path already gone is
removed).  When the server keeps SHA-256 checksums (``sha2:``), ``remote_sha256`` asks it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading

import irods.exception as ierr
from irods.password_obfuscation import decode as irods_decode
from irods.session import iRODSSession

from ..credentials import check_private
from ..errors import (
    AccessDenied,
    CredentialError,
    NotFound,
    PermanentError,
    RetryableError,
    TransferError,
)
from .base import Handler

CHUNK = 4 << 20
# Pegasus's keys, compared case-insensitively as Pegasus does
PASSWORD_KEYS = ("irodspassword", "irods_password")
TICKET_KEYS = ("irodsticket", "irods_ticket")
CONNECTION_KEYS = ("irods_host", "irods_port", "irods_user_name", "irods_zone_name")


def _setting(settings: dict, keys: tuple) -> str | None:
    for key, value in settings.items():
        if key.lower() in keys and value:
            return str(value)
    return None


_NOT_FOUND = tuple(
    getattr(ierr, name)
    for name in (
        "DoesNotExist",
        "CAT_UNKNOWN_FILE",
        "CAT_UNKNOWN_COLLECTION",
        "CAT_NO_ROWS_FOUND",
        "OBJ_PATH_DOES_NOT_EXIST",
        "USER_FILE_DOES_NOT_EXIST",
    )
    if hasattr(ierr, name)
)
_AUTH = tuple(
    getattr(ierr, name)
    for name in (
        "CAT_INVALID_AUTHENTICATION",
        "CAT_INVALID_USER",
        "CAT_INVALID_CLIENT_USER",
        "CAT_PASSWORD_EXPIRED",
        "CAT_PASSWORD_ENCODING_ERROR",
        "PAM_AUTH_PASSWORD_FAILED",
        "AUTHENTICATION_ERROR",
    )
    if hasattr(ierr, name)
)
_DENIED = tuple(
    getattr(ierr, name)
    for name in ("CAT_NO_ACCESS_PERMISSION", "SYS_NO_API_PRIV", "CAT_INSUFFICIENT_PRIVILEGE_LEVEL")
    if hasattr(ierr, name)
)
_NETWORK = tuple(
    getattr(ierr, name)
    for name in ("NetworkException", "SYS_SOCK_READ_TIMEDOUT", "SYS_SOCK_READ_ERR")
    if hasattr(ierr, name)
)


def _name(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


class IrodsHandler(Handler):
    schemes = ("irods",)
    can_get = True
    can_put = True
    can_mkdir = True
    can_remove = True

    def __init__(self, context):
        super().__init__(context)
        self.lock = threading.Lock()
        self.session = None
        self.where = ""  # user@host:port, for messages
        self.env_file = ""
        self.collections_made: set[str] = set()

    # ------------------------------------------------------------------ session

    def _env_file(self, site: str | None) -> str:
        named = self.context.credentials.file("IRODS_ENVIRONMENT_FILE", site)
        if named:
            return named
        home = self.context.env.get("HOME") or os.path.expanduser("~")
        default = os.path.join(home, ".irods", "irods_environment.json")
        if os.path.exists(default):
            check_private(default, "~/.irods/irods_environment.json")
            return default
        raise CredentialError(
            "irods:// URLs need an iRODS environment file: set IRODS_ENVIRONMENT_FILE_%s or "
            "IRODS_ENVIRONMENT_FILE (irods_environment.json with irodsPassword)"
            % (site or "SITE").replace("-", "_")
        )

    def _password(self, settings: dict, path: str, home: str) -> str | None:
        password = _setting(settings, PASSWORD_KEYS)
        if password:
            return password
        scrambled = (
            self.context.env.get("IRODS_AUTHENTICATION_FILE")
            or settings.get("irods_authentication_file")
            or os.path.join(home, ".irods", ".irodsA")
        )
        try:
            with open(scrambled, encoding="utf-8") as fh:
                text = fh.read().rstrip("\n")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialError(
                "cannot read the iRODS password file %s: %s" % (scrambled, exc.strerror)
            ) from None
        try:
            return irods_decode(text)
        except Exception:
            raise CredentialError("%s is not a scrambled iRODS password" % scrambled) from None

    def _session(self, endpoint):
        with self.lock:
            if self.session is not None:
                return self.session
            path = self._env_file(endpoint.site)
            try:
                with open(path, encoding="utf-8") as fh:
                    settings = json.load(fh)
            except (OSError, ValueError, RecursionError) as exc:
                raise CredentialError(
                    "cannot read the iRODS environment file %s: %s"
                    % (path, getattr(exc, "strerror", None) or " ".join(str(exc).split()))
                ) from None
            if not isinstance(settings, dict):
                raise CredentialError("%s is not a JSON object" % path)
            url = endpoint.url
            home = self.context.env.get("HOME") or os.path.expanduser("~")
            host = settings.get("irods_host") or url.host
            try:
                port = int(settings.get("irods_port") or url.port or 1247)
            except (TypeError, ValueError, OverflowError):
                raise CredentialError(
                    "%s: irods_port %r is not a port number" % (path, settings["irods_port"])
                ) from None
            user = settings.get("irods_user_name") or url.user
            zone = settings.get("irods_zone_name") or url.path.strip("/").split("/", 1)[0]
            if not host or not user or not zone:
                raise CredentialError(
                    "%s must name irods_host, irods_user_name and irods_zone_name "
                    "(or the URL must carry them)" % path
                )
            if url.host and url.host != host:
                self.log.debug(
                    "irods: %s names host %s; using %s from %s", url, url.host, host, path
                )
            password = self._password(settings, path, home)
            if password is None and user != "anonymous":
                raise CredentialError(
                    "no iRODS password for %s: add irodsPassword to %s or run iinit "
                    "(IRODS_AUTHENTICATION_FILE / ~/.irods/.irodsA)" % (user, path)
                )
            options = {
                key: value
                for key, value in settings.items()
                if key.startswith("irods_")
                and key.lower() not in PASSWORD_KEYS + TICKET_KEYS + CONNECTION_KEYS
            }
            try:
                session = iRODSSession(
                    host=host, port=port, user=user, password=password or "", zone=zone, **options
                )
            except Exception as exc:
                raise CredentialError(
                    "cannot set up an iRODS session from %s: %s" % (path, _name(exc))
                ) from None
            ticket = _setting(settings, TICKET_KEYS)
            if ticket:
                from irods.ticket import Ticket

                Ticket(session, ticket).supply()
            self.session = session
            self.where = "%s@%s:%d" % (user, host, port)
            self.env_file = path
            return session

    def close(self) -> None:
        with self.lock:
            session, self.session = self.session, None
        if session is not None:
            session.cleanup()

    # ------------------------------------------------------------------ errors

    def _error(self, exc: BaseException, what: str) -> BaseException:
        if isinstance(exc, TransferError):
            return exc
        text = "%s: %s" % (what, _name(exc))
        if isinstance(exc, _NOT_FOUND):
            return NotFound(text)
        if isinstance(exc, _AUTH) or type(exc).__name__ == "NonAnonymousLoginWithoutPassword":
            return AccessDenied(
                "%s: iRODS rejected the login of %s (%s): check the password in %s"
                % (what, self.where, type(exc).__name__, self.env_file)
            )
        if isinstance(exc, _DENIED):
            return AccessDenied(text)
        if isinstance(exc, (*_NETWORK, socket.timeout, ConnectionError, OSError)):
            return RetryableError(text)
        if isinstance(exc, ierr.iRODSException):
            if isinstance(exc, (ierr.UserInputException,)):
                return PermanentError(text)
            return RetryableError(text)
        return exc

    # ------------------------------------------------------------------ engine calls

    def get(self, src, sink) -> None:
        session = self._session(src)
        path = src.url.path
        try:
            with session.data_objects.open(path, "r") as fh:
                while True:
                    chunk = fh.read(CHUNK)
                    if not chunk:
                        break
                    sink.write(chunk)
        except Exception as exc:
            raise self._error(exc, "iRODS get %s" % src.url) from None

    def put(self, source, dest) -> None:
        session = self._session(dest)
        path = dest.url.path
        what = "iRODS put %s" % dest.url
        try:
            self._make_collection(session, os.path.dirname(path))
        except Exception as exc:
            raise self._error(exc, what) from None
        opened = False
        try:
            with session.data_objects.open(path, "w") as fh:
                opened = True
                while True:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
        except Exception as exc:
            error = self._error(exc, what)
            if opened:  # leave nothing partial behind
                try:
                    session.data_objects.unlink(path, force=True)
                except Exception as cleanup:
                    self.log.debug("removing the partial %s: %s", dest.url, _name(cleanup))
            raise error from None

    def _make_collection(self, session, path: str) -> None:
        if not path or path == "/" or path in self.collections_made:
            return
        session.collections.create(path, recurse=True)
        with self.lock:
            self.collections_made.add(path)

    def mkdir(self, target) -> None:
        session = self._session(target)
        try:
            self._make_collection(session, target.url.path.rstrip("/") or "/")
        except Exception as exc:
            raise self._error(exc, "iRODS mkdir %s" % target.url) from None

    def remove(self, target, recursive: bool) -> None:
        session = self._session(target)
        path = target.url.path.rstrip("/") or "/"
        what = "iRODS remove %s" % target.url
        try:
            if session.collections.exists(path):
                if not recursive:
                    raise PermanentError(
                        "%s is a collection (a recursive remove is needed)" % target.url
                    )
                session.collections.remove(path, recurse=True, force=True)
                with self.lock:
                    self.collections_made = {
                        c
                        for c in self.collections_made
                        if c != path and not c.startswith(path + "/")
                    }
                return
            try:
                session.data_objects.unlink(path, force=True)
            except _NOT_FOUND:
                pass  # already gone: rm -f (Pegasus: irm exit 3 is a success)
        except Exception as exc:
            raise self._error(exc, what) from None

    def remote_sha256(self, endpoint) -> str | None:
        """The server's SHA-256 when its hash scheme is SHA256 (``sha2:<base64>``)."""
        session = self._session(endpoint)
        try:
            checksum = session.data_objects.chksum(endpoint.url.path)
        except Exception as exc:
            self.log.debug("iRODS checksum of %s: %s", endpoint.url, _name(exc))
            return None
        if isinstance(checksum, str) and checksum.startswith("sha2:"):
            try:
                return base64.b64decode(checksum[5:]).hex()
            except ValueError:
                return None
        return None
