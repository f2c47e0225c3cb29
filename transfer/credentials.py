"""Credentials found the Pegasus way, checked before any byte moves.

Pegasus names them in the environment, optionally per site: ``SSH_PRIVATE_KEY_<site>``
before ``SSH_PRIVATE_KEY``, and so on (a '-' in the site label becomes '_').  Files holding
secrets must be private: like Pegasus, a file readable by others is made 0600 with a
warning; a named file that does not exist is an error.
"""

from __future__ import annotations

import configparser
import logging
import os
import stat

from .errors import CredentialError

log = logging.getLogger("pegasus-transfer")


class Credentials:
    """Lookups over one environment; parsed files are cached (handlers run in threads)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self._ini: dict[str, configparser.ConfigParser] = {}

    def variable(self, name: str, site: str | None = None) -> str | None:
        """``NAME_<site>`` if set, else ``NAME``."""
        if site:
            value = self.env.get("%s_%s" % (name, site.replace("-", "_")))
            if value:
                return value
        return self.env.get(name) or None

    def file(self, name: str, site: str | None = None, required: bool = False) -> str | None:
        """Path of the credential file named by ``NAME[_<site>]``, permissions checked."""
        path = self.variable(name, site)
        if path is None:
            if required:
                raise CredentialError(
                    "no credential: set %s_%s or %s"
                    % (name, (site or "SITE").replace("-", "_"), name)
                )
            return None
        check_private(path, name)
        return path

    def pegasus_ini(self, site: str | None = None) -> configparser.ConfigParser | None:
        """PEGASUS_CREDENTIALS[_<site>]: the INI with [endpoint] and [user@endpoint] sections."""
        path = self.file("PEGASUS_CREDENTIALS", site)
        if path is None:
            default = os.path.expanduser("~/.pegasus/credentials.conf")
            if not os.path.exists(default):
                return None
            check_private(default, "~/.pegasus/credentials.conf")
            path = default
        if path not in self._ini:
            parser = configparser.ConfigParser(interpolation=None)
            try:
                with open(path, encoding="utf-8") as fh:
                    parser.read_file(fh)
            except OSError as exc:
                raise CredentialError(
                    "cannot read credentials file %s: %s" % (path, exc.strerror or exc)
                ) from None
            except UnicodeDecodeError:
                raise CredentialError("credentials file %s is not UTF-8 text" % path) from None
            except configparser.Error as exc:
                raise CredentialError(
                    "cannot read credentials file %s: %s" % (path, _ini_reason(exc))
                ) from None
            self._ini[path] = parser
        return self._ini[path]

    def section(self, names: list[str], site: str | None = None) -> dict[str, str] | None:
        """The first of ``names`` that is a section of the credentials INI."""
        ini = self.pegasus_ini(site)
        if ini is None:
            return None
        for name in names:
            if ini.has_section(name):
                return dict(ini.items(name))
        return None


def _ini_reason(error: configparser.Error) -> str:
    """configparser's complaint in one line, without the offending line's text (it may be
    a secret): its first line, and the line number."""
    line = getattr(error, "lineno", None)
    if line is None and getattr(error, "errors", None):
        line = error.errors[0][0]  # ParsingError: [(line number, line text), ...]
    if isinstance(error, configparser.MissingSectionHeaderError):
        reason = "no [section] header before the first setting"
    elif isinstance(error, configparser.ParsingError):
        reason = "a line is not 'key = value' or a [section] header"
    else:  # duplicates: "While reading from 'path' [line  2]: section 'a' already exists"
        reason = (str(error).splitlines() or [type(error).__name__])[0].rpartition("]: ")[2]
    return "%s (line %s)" % (reason, line) if line is not None else reason


def check_private(path: str, what: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CredentialError("%s names %s, which does not exist" % (what, path)) from None
    except OSError as exc:
        raise CredentialError(
            "%s names %s, which cannot be read: %s" % (what, path, exc.strerror)
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        try:
            os.chmod(path, 0o600)
            log.warning("%s: %s was readable by others; changed it to 0600", what, path)
        except OSError:
            raise CredentialError(
                "%s: %s is readable by others and cannot be made private (chmod 600 it)"
                % (what, path)
            ) from None
    if not os.access(path, os.R_OK):
        raise CredentialError("%s names %s, which cannot be read" % (what, path))
