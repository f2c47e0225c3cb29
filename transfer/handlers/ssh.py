"""scp:// and sftp://: one SSH connection per host, user and site, SFTP channels on it.

Both schemes speak the SFTP subsystem (OpenSSH 9's scp does too), through paramiko.  As
Pegasus: ``scp://user@host[:port]/absolute/path`` (user defaults to the current user, port
to 22); the key comes from ``SSH_PRIVATE_KEY_<site>`` or ``SSH_PRIVATE_KEY`` (made 0600
with a warning if others can read it), else from ssh-agent and ~/.ssh; host keys are not
checked (Pegasus runs ssh with ``StrictHostKeyChecking=no`` and an empty known-hosts file),
the server's key fingerprint is logged at debug level.

One SSH transport per handler instance (the engine keeps one per host, user and site),
opened on first use and reopened once if it dies.  SFTP channels are multiplexed on it: a
pool, one channel per concurrently working thread at most, never more than the server's
MaxSessions.  Uploads go to a hidden temporary name beside the destination (missing
directories are created) and are renamed into place when complete; the temporary file is
removed on any failure, an interrupt included.
"""

from __future__ import annotations

import errno
import getpass
import inspect
import logging
import os
import posixpath
import socket
import stat
import threading

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

from ..errors import (
    AccessDenied,
    CredentialError,
    NotFound,
    PermanentError,
    RetryableError,
    TransferError,
)
from .base import Handler

# paramiko logs connection trouble at ERROR (tracebacks included) to its own logger; with
# no handler there, Python would print them on stderr.  Our messages say what happened.
if not logging.getLogger("paramiko").handlers:
    logging.getLogger("paramiko").addHandler(logging.NullHandler())

DEFAULT_PORT = 22
CONNECT_TIMEOUT = 30.0  # TCP connect, banner, authentication, opening a channel
IO_TIMEOUT = 300.0  # a server silent in the middle of a transfer
CLEANUP_TIMEOUT = 15.0  # removing a partial upload after a failure
KEEPALIVE = 30  # seconds between keepalives on an idle transport
CHUNK = 1 << 20  # bytes of the local file handed to paramiko per call
SFTP_REQUEST = 32768  # bytes per SFTP read/write request that every server accepts
SFTP_REQUEST_MAX = 255 * 1024  # what we use when the server says it takes more
SEGMENT = 32 << 20  # bytes of a download asked for at once

_CONNECT_TAKES_CHANNEL_TIMEOUT = (
    "channel_timeout" in inspect.signature(paramiko.SSHClient.connect).parameters
)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry
        return "root" if os.getuid() == 0 else str(os.getuid())


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _fingerprint(key: paramiko.PKey) -> str:
    try:
        return key.fingerprint  # "SHA256:..." (paramiko >= 3.2)
    except AttributeError:
        return "MD5:" + ":".join("%02x" % b for b in key.get_fingerprint())


def _consistent(exc: BaseException) -> bool:
    """After this error, is the SFTP channel still usable?  Yes after an answer from the
    server (an SFTP status) or our own checks; no after a timeout, a lost connection or an
    interrupt, which may have left half a request in the channel."""
    if isinstance(exc, TransferError):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
        return False
    return isinstance(exc, OSError)


class _AcceptAndLog(paramiko.MissingHostKeyPolicy):
    """StrictHostKeyChecking=no with UserKnownHostsFile=/dev/null: accept, but say what."""

    def __init__(self, log: logging.Logger, where: str):
        self.log = log
        self.where = where

    def missing_host_key(self, client, hostname, key) -> None:
        self.log.debug(
            "ssh: accepting the host key of %s unchecked: %s %s",
            self.where,
            key.get_name(),
            _fingerprint(key),
        )


class SshHandler(Handler):
    schemes = ("scp", "sftp")
    can_get = True
    can_put = True
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        """scp:// and sftp:// URLs of one host, port, user and site share one connection."""
        url = endpoint.url
        return (
            cls.__name__,
            url.host.lower(),
            url.port or DEFAULT_PORT,
            url.user or _default_user(),
            endpoint.site,
        )

    def __init__(self, context):
        super().__init__(context)
        self._cond = threading.Condition()
        self._client: paramiko.SSHClient | None = None
        self._generation = 0  # bumped by every (re)connection
        self._idle: list[paramiko.SFTPClient] = []
        self._channels = 0  # SFTP channels open or being opened, idle or in use
        self._opening = False  # one thread at a time opens a channel
        self._max_channels: int | None = None  # learnt from the server's refusals
        self._request_size: int | None = None  # per SFTP read/write request
        self._dirs: set[str] = set()  # remote directories known to exist
        self._orphans: list[str] = []  # partial uploads still to remove
        self._closed = False
        self._credentials_loaded = False
        self._pkey: paramiko.PKey | None = None
        self._key_source: str | None = None  # "SSH_PRIVATE_KEY_site (path)", for messages
        self._refused: Exception | None = None  # a permanent connection failure
        self._endpoint = None  # the first endpoint: where to reconnect for a cleanup
        self.connections = 0  # SSH connections opened

    # ------------------------------------------------------------------ connecting

    @staticmethod
    def _where(url) -> str:
        host = "[%s]" % url.host if ":" in url.host else url.host
        return "%s@%s:%d" % (url.user or _default_user(), host, url.port or DEFAULT_PORT)

    def _load_credentials(self, endpoint) -> None:
        """SSH_PRIVATE_KEY_<site>, then SSH_PRIVATE_KEY: checked and read once."""
        if self._credentials_loaded:
            return
        credentials = self.context.credentials
        path = credentials.file("SSH_PRIVATE_KEY", endpoint.site)
        if path is not None:
            site_variable = "SSH_PRIVATE_KEY_%s" % endpoint.site_env
            variable = site_variable if credentials.env.get(site_variable) else "SSH_PRIVATE_KEY"
            self._pkey = _read_key(path, variable)
            self._key_source = "%s (%s)" % (variable, path)
        self._credentials_loaded = True

    def _connect(self, endpoint) -> paramiko.SSHClient:
        """A new authenticated client.  A refusal (bad key, changed host key) is remembered:
        later uses fail the same way without knocking on the server again."""
        if self._refused is not None:
            raise self._refused
        self._load_credentials(endpoint)
        if self._endpoint is None:
            self._endpoint = endpoint
        url = endpoint.url
        where = self._where(url)
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_AcceptAndLog(self.log, where))  # empty store
        options = {
            "hostname": url.host,
            "port": url.port or DEFAULT_PORT,
            "username": url.user or _default_user(),
            "timeout": CONNECT_TIMEOUT,
            "banner_timeout": CONNECT_TIMEOUT,
            "auth_timeout": CONNECT_TIMEOUT,
        }
        if _CONNECT_TAKES_CHANNEL_TIMEOUT:
            options["channel_timeout"] = CONNECT_TIMEOUT
        if self._pkey is not None:  # the key Pegasus was told to use, and only that
            options.update(pkey=self._pkey, look_for_keys=False, allow_agent=False)
        if url.password:
            options["password"] = url.password
        self.log.debug(
            "ssh: connecting to %s (%s)", where, self._key_source or "ssh-agent and ~/.ssh keys"
        )
        try:
            client.connect(**options)
        except Exception as exc:
            client.close()
            error = self._connect_error(exc, where)
            if isinstance(error, PermanentError):
                self._refused = error
            raise error from None
        transport = client.get_transport()
        transport.set_keepalive(KEEPALIVE)
        self.connections += 1
        self.log.debug("ssh: connected to %s (%s)", where, transport.remote_version)
        return client

    def _connect_error(self, exc: Exception, where: str) -> Exception:
        if isinstance(exc, paramiko.BadHostKeyException):
            return PermanentError("the ssh host key of %s changed while connecting" % where)
        no_methods = "No authentication methods available" in str(exc)  # no key, no agent
        if isinstance(exc, paramiko.AuthenticationException) or no_methods:
            if self._key_source:
                how = "with the key from %s" % self._key_source
            else:
                how = "with ssh-agent and ~/.ssh keys (SSH_PRIVATE_KEY is not set)"
            return AccessDenied("ssh authentication to %s failed %s: %s" % (where, how, _text(exc)))
        if isinstance(exc, socket.gaierror):
            return RetryableError("cannot resolve the ssh host of %s: %s" % (where, _text(exc)))
        causes = getattr(exc, "errors", None)  # NoValidConnectionsError: one per address
        if isinstance(causes, dict) and causes:
            reason = "; ".join(sorted({_text(e) for e in causes.values()}))
        else:
            reason = _text(exc)
        return RetryableError("cannot connect to ssh %s: %s" % (where, reason))

    def _alive(self) -> bool:
        client = self._client
        transport = client.get_transport() if client is not None else None
        return transport is not None and transport.is_active()

    def _ensure_client(self, endpoint) -> None:
        """With the condition held: connect, or reconnect a transport that died."""
        if self._alive():
            return
        if self._client is not None:
            self.log.debug("ssh: the connection to %s was lost", self._where(endpoint.url))
            self._drop_client()
        self._client = self._connect(endpoint)
        self._generation += 1
        if self._orphans:
            self._remove_orphans()

    def _drop_client(self) -> None:
        self._channels -= len(self._idle)
        for sftp in self._idle:
            _close_quietly(sftp)
        self._idle.clear()
        if self._client is not None:
            _close_quietly(self._client)
        self._client = None

    @staticmethod
    def _open_sftp(client: paramiko.SSHClient, timeout: float) -> paramiko.SFTPClient:
        channel = client.get_transport().open_session(timeout=timeout)
        try:
            channel.settimeout(timeout)
            channel.invoke_subsystem("sftp")
            return paramiko.SFTPClient(channel)
        except BaseException:
            channel.close()
            raise

    # ------------------------------------------------------------------ the channel pool

    def _checkout(self, endpoint) -> tuple[paramiko.SFTPClient, int]:
        """An SFTP channel for one operation: an idle one, else a new one, up to what the
        server allows.  Channels are opened one at a time, outside the lock, while other
        threads wait for whichever comes first, the new channel or a finished operation's:
        sshd takes a tenth of a second or more to set a session up (it starts the user's
        shell), an operation on a small file takes a millisecond.  So many small files share
        a few channels, and large ones soon get one each."""
        reconnected = False
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        raise RetryableError("ssh handler for %s closed" % endpoint.url)
                    self._ensure_client(endpoint)
                    while self._idle:
                        sftp = self._idle.pop()
                        if not sftp.get_channel().closed:
                            return sftp, self._generation
                        self._channels -= 1
                    if not self._opening and (
                        self._max_channels is None or self._channels < self._max_channels
                    ):
                        self._channels += 1  # the place of the channel we are about to open
                        self._opening = True
                        client, generation = self._client, self._generation
                        break
                    self._cond.wait()
            try:
                sftp = self._open_sftp(client, CONNECT_TIMEOUT)
            except BaseException as exc:
                with self._cond:
                    self._opening = False
                    self._channels -= 1
                    self._cond.notify_all()
                    if isinstance(exc, paramiko.ChannelException) and self._channels > 0:
                        # MaxSessions reached: share the channels we have
                        if self._max_channels != self._channels:
                            self.log.debug("ssh: %d SFTP channels at most", self._channels)
                        self._max_channels = self._channels
                        continue
                if not isinstance(exc, (OSError, EOFError, paramiko.SSHException)):
                    raise
                transport = client.get_transport()
                if reconnected or (transport is not None and transport.is_active()):
                    raise RetryableError(
                        "cannot start SFTP on %s: %s" % (self._where(endpoint.url), _text(exc))
                    ) from None
                reconnected = True
                continue  # the transport died: reconnect, once
            with self._cond:
                self._opening = False
                self._cond.notify_all()
            sftp.get_channel().settimeout(IO_TIMEOUT)
            if self._request_size is None:
                self._request_size = _request_size(sftp)
                self.log.debug("ssh: SFTP requests of up to %d bytes", self._request_size)
            return sftp, generation

    def _checkin(self, sftp: paramiko.SFTPClient, generation: int, reusable: bool) -> None:
        with self._cond:
            if (
                reusable
                and generation == self._generation
                and not self._closed
                and self._alive()
                and not sftp.get_channel().closed
            ):
                self._idle.append(sftp)
            else:
                self._channels -= 1
                _close_quietly(sftp)
            self._cond.notify()

    def _run(self, endpoint, operation, what: str):
        """operation(sftp), its errors translated; if the transport died under it, once
        more on a new connection (operations start over: get rewinds, put re-reads)."""
        for attempt in (1, 2):
            sftp, generation = self._checkout(endpoint)
            reusable = False  # stays False on an interrupt: half a request may be in flight
            try:
                result = operation(sftp)
                reusable = True
                return result
            except TransferError:
                reusable = True
                raise
            except Exception as exc:
                reusable = _consistent(exc)
                if attempt == 1 and not self._alive() and not self._closed:
                    self.log.debug("ssh: %s: connection lost (%s); once more", what, _text(exc))
                    continue
                raise self._translate(exc, what, endpoint) from None
            finally:
                self._checkin(sftp, generation, reusable)
        raise AssertionError("not reached")

    def _translate(self, exc: Exception, what: str, endpoint) -> Exception:
        if not self._alive():
            return RetryableError(
                "%s: the ssh connection to %s was lost: %s"
                % (what, self._where(endpoint.url), _text(exc))
            )
        code = getattr(exc, "errno", None)
        if isinstance(exc, FileNotFoundError) or code == errno.ENOENT:
            return NotFound("%s: no such file or directory" % what)
        if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
            return AccessDenied("%s: permission denied" % what)
        if isinstance(exc, OSError) and code is None and _consistent(exc):
            # SFTP's catch-all status: a full disk, a quota, a flaky file system...
            return RetryableError("%s: the server said: %s" % (what, _text(exc)))
        return RetryableError("%s: %s" % (what, _text(exc)))

    # ------------------------------------------------------------------ partial uploads

    def _discard(self, sftp: paramiko.SFTPClient, path: str) -> None:
        """Remove a partial upload now, over a channel known to be consistent."""
        try:
            sftp.remove(path)
        except FileNotFoundError:
            pass
        except Exception as exc:
            if _consistent(exc) and self._alive():
                self.log.warning("cannot remove the partial upload %s: %s", path, _text(exc))
            else:
                with self._cond:
                    self._orphans.append(path)

    def _remove_orphans(self) -> None:
        """With the condition held and a live client: remove partial uploads left behind by
        an interrupted channel or a lost connection, over a fresh channel."""
        orphans, self._orphans = self._orphans, []
        try:
            sftp = self._open_sftp(self._client, CLEANUP_TIMEOUT)
        except Exception as exc:
            self.log.debug("ssh: no channel for the cleanup: %s", _text(exc))
            self._orphans = orphans + self._orphans
            return
        try:
            for path in orphans:
                try:
                    sftp.remove(path)
                    self.log.debug("ssh: removed the partial upload %s", path)
                except FileNotFoundError:
                    pass
                except Exception as exc:
                    self.log.warning("cannot remove the partial upload %s: %s", path, _text(exc))
        finally:
            _close_quietly(sftp)

    def _flush_orphans(self) -> None:
        with self._cond:
            if self._orphans and self._alive() and not self._closed:
                self._remove_orphans()

    # ------------------------------------------------------------------ directories

    def _makedirs(self, sftp: paramiko.SFTPClient, path: str) -> None:
        """mkdir -p (a directory made meanwhile by someone else is fine)."""
        path = posixpath.normpath(path or "/")
        missing = []
        probe = path
        while probe not in ("/", "", ".", "//") and probe not in self._dirs:
            try:
                attrs = sftp.stat(probe)
            except FileNotFoundError:
                missing.append(probe)
                probe = posixpath.dirname(probe)
                continue
            if not stat.S_ISDIR(attrs.st_mode or 0):
                raise PermanentError("%s exists and is not a directory" % probe)
            break
        for directory in reversed(missing):
            try:
                sftp.mkdir(directory)
            except OSError as exc:
                if not _consistent(exc):
                    raise
                try:  # made by another thread meanwhile, or a file in the way?
                    attrs = sftp.stat(directory)
                except OSError:
                    raise exc from None
                if not stat.S_ISDIR(attrs.st_mode or 0):
                    raise PermanentError("%s exists and is not a directory" % directory) from None
        with self._cond:
            self._dirs.add(path)

    # ------------------------------------------------------------------ operations

    def get(self, src, sink) -> None:
        path = src.url.path
        what = "get %s" % src.url

        def download(sftp: paramiko.SFTPClient) -> None:
            if sink.tell():
                sink.seek(0)  # a second try after a lost connection starts over
            attrs = sftp.stat(path)
            if stat.S_ISDIR(attrs.st_mode or 0):
                raise PermanentError("%s: is a directory" % what)
            size = attrs.st_size or 0
            remote = sftp.open(path, "rb", bufsize=0)
            try:
                remote.MAX_REQUEST_SIZE = step = self._request_size or SFTP_REQUEST
                for start in range(0, size, SEGMENT):
                    end = min(size, start + SEGMENT)
                    pieces = [(o, min(step, end - o)) for o in range(start, end, step)]
                    for data in _read_pieces(remote, pieces):
                        if not data:
                            break
                        sink.write(data)
                while size == 0 or sink.tell() >= size:  # a file that grew: the rest
                    data = remote.read(step)
                    if not data:
                        break
                    sink.write(data)
            except Exception:
                _close_quietly(remote)
                raise
            # (after an interrupt the channel is dropped, not asked to close the file)
            _close_quietly(remote)
            if sink.tell() < size:
                raise RetryableError(
                    "%s: only %d of %d bytes arrived (did the file shrink?)"
                    % (what, sink.tell(), size)
                )

        self._run(src, download, what)

    def put(self, source, dest) -> None:
        path = dest.url.path
        what = "put %s" % dest.url
        directory, name = posixpath.split(path)
        if not name or name in (".", ".."):
            raise PermanentError("%s: the destination needs a file name" % what)
        try:
            executable = bool(os.stat(source.path).st_mode & stat.S_IXUSR)
        except OSError:
            executable = False

        def upload(sftp: paramiko.SFTPClient) -> None:
            if source.tell():
                source.seek(0)  # a second try after a lost connection starts over
            tmp = posixpath.join(directory, ".%s.part-%s" % (name[:100], os.urandom(4).hex()))
            self._makedirs(sftp, directory)
            try:
                remote = sftp.open(tmp, "wxb", bufsize=0)
            except FileNotFoundError:  # the directory went away meanwhile: once more
                with self._cond:
                    self._dirs.discard(posixpath.normpath(directory))
                self._makedirs(sftp, directory)
                remote = sftp.open(tmp, "wxb", bufsize=0)
            try:
                remote.MAX_REQUEST_SIZE = self._request_size or SFTP_REQUEST
                remote.set_pipelined(True)
                written = 0
                while True:
                    data = source.read(CHUNK)
                    if not data:
                        break
                    remote.write(data)
                    written += len(data)
                if executable:  # as with scp, an executable stays executable
                    remote.chmod(0o755)
                remote.close()  # waits for the answers to every pipelined write
                size = sftp.stat(tmp).st_size
                if size != written:
                    raise RetryableError(
                        "%s: the server stored %s of %d bytes" % (what, size, written)
                    )
                self._rename(sftp, tmp, path)
            except BaseException as exc:  # an interrupt too: no partial file stays behind
                if isinstance(exc, Exception) and _consistent(exc) and self._alive():
                    _close_quietly(remote)
                    self._discard(sftp, tmp)
                else:  # the channel may hold half a request: clean up over another one
                    with self._cond:
                        self._orphans.append(tmp)
                    if isinstance(exc, Exception):
                        self._flush_orphans()
                raise

        self._run(dest, upload, what)

    def _rename(self, sftp: paramiko.SFTPClient, tmp: str, path: str) -> None:
        """Into place, replacing what is there: posix-rename@openssh.com, else (a server
        without it) remove and rename."""
        try:
            sftp.posix_rename(tmp, path)
            return
        except OSError as exc:
            if getattr(exc, "errno", None) is not None or not _consistent(exc):
                raise
        try:
            attrs = sftp.lstat(path)
        except FileNotFoundError:
            attrs = None
        if attrs is not None and stat.S_ISDIR(attrs.st_mode or 0):
            raise PermanentError("%s exists and is a directory" % path)
        if attrs is not None:
            sftp.remove(path)
        sftp.rename(tmp, path)

    def mkdir(self, target) -> None:
        path = target.url.path
        self._run(target, lambda sftp: self._makedirs(sftp, path), "mkdir %s" % target.url)

    def remove(self, target, recursive: bool) -> None:
        """rm -f [-r]: a path that is not there is a success."""
        path = posixpath.normpath(target.url.path)
        what = "remove %s" % target.url
        if path in ("/", "//"):
            raise PermanentError("%s: refusing to remove /" % what)

        def delete(sftp: paramiko.SFTPClient) -> None:
            try:
                attrs = sftp.lstat(path)
            except FileNotFoundError:
                return
            if not stat.S_ISDIR(attrs.st_mode or 0):
                try:
                    sftp.remove(path)
                except FileNotFoundError:
                    pass
                return
            if not recursive:
                raise PermanentError("%s: is a directory (a recursive remove is needed)" % what)
            self._remove_tree(sftp, path)
            with self._cond:
                self._dirs = {d for d in self._dirs if d != path and not d.startswith(path + "/")}

        self._run(target, delete, what)

    def _remove_tree(self, sftp: paramiko.SFTPClient, path: str) -> None:
        try:
            entries = sftp.listdir_attr(path)
        except FileNotFoundError:
            return
        for entry in entries:
            child = posixpath.join(path, entry.filename)
            if stat.S_ISDIR(entry.st_mode or 0):  # sftp-server lists with lstat: links are files
                self._remove_tree(sftp, child)
            else:
                try:
                    sftp.remove(child)
                except FileNotFoundError:
                    pass
        try:
            sftp.rmdir(path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        with self._cond:
            self._closed = True
            if self._orphans and self._endpoint is not None and self._alive():
                self._remove_orphans()  # over the connection we have
            if self._orphans and self._endpoint is not None:
                # an interrupt may have cut a packet in half, which ends the connection
                self._drop_client()
                try:
                    self._client = self._connect(self._endpoint)
                    self._remove_orphans()
                except Exception as exc:
                    self.log.debug("ssh: cleaning up: %s", _text(exc))
            for path in self._orphans:
                self.log.warning("could not remove the partial upload %s", path)
            self._orphans = []
            self._drop_client()
            self._cond.notify_all()


def _read_key(path: str, variable: str) -> paramiko.PKey:
    """The private key named by SSH_PRIVATE_KEY[_site]; a problem is one CredentialError line
    (the key's contents never appear in it)."""
    loader = getattr(paramiko.PKey, "from_path", None)  # paramiko >= 3.2: any key type
    try:
        if loader is not None:
            return loader(path)
        for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return cls.from_private_key_file(path)
            except paramiko.PasswordRequiredException:
                raise
            except paramiko.SSHException:
                continue
        raise ValueError("unknown key format")
    except (paramiko.PasswordRequiredException, TypeError):
        # cryptography raises TypeError for an encrypted key loaded without its passphrase
        raise CredentialError(
            "%s names %s, a key protected by a passphrase; use a key without one, or "
            "unset it and load the key into ssh-agent" % (variable, path)
        ) from None
    except OSError as exc:
        raise CredentialError(
            "%s names %s, which cannot be read: %s" % (variable, path, exc.strerror)
        ) from None
    except Exception:  # ValueError, UnknownKeyType, SSHException: not a usable key
        raise CredentialError(
            "%s names %s, which is not a private key paramiko can read" % (variable, path)
        ) from None


def _request_size(sftp: paramiko.SFTPClient) -> int:
    """Bigger reads and writes when the server says it takes them (OpenSSH >= 8.6 answers
    limits@openssh.com; its sftp-server reads up to 255 KiB): paramiko's speed is bound by
    its cost per request, so fewer, larger requests move more bytes per second."""
    try:
        kind, msg = sftp._request(CMD_EXTENDED, "limits@openssh.com")
        if kind != CMD_EXTENDED_REPLY:
            return SFTP_REQUEST
        msg.get_int64()  # the largest packet
        read_max, write_max = msg.get_int64(), msg.get_int64()
    except Exception:  # not supported (an error status), or a paramiko without _request
        return SFTP_REQUEST
    usable = min(read_max or SFTP_REQUEST, write_max or SFTP_REQUEST, SFTP_REQUEST_MAX)
    return max(SFTP_REQUEST, usable)


def _read_pieces(remote: paramiko.SFTPFile, pieces: list[tuple[int, int]]):
    """Each piece's bytes, the read requests for all of them sent first (pipelined).

    This is paramiko's prefetch without its thread: the requests of a segment are a few
    kilobytes, sent in well under a millisecond, and sending them here means a connection
    that dies meanwhile raises in this thread (translated like any other error) instead of
    printing a traceback from paramiko's.  Without those internals: the public readv."""
    issue = getattr(remote, "_prefetch_thread", None)
    if issue is None or not hasattr(remote, "_prefetch_extents"):
        yield from remote.readv(pieces)
        return
    remote._prefetching = True
    remote._prefetch_done = False
    try:
        issue(pieces, None)  # paramiko >= 3.3: (chunks, max_concurrent_requests)
    except TypeError:
        issue(pieces)
    for offset, length in pieces:
        remote.seek(offset)
        yield remote.read(length)


def _close_quietly(thing) -> None:
    try:
        thing.close()
    except Exception:
        pass
