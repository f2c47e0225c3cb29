"""URL scheme -> handler class, imported on first use.

A missing protocol library is reported as one line naming the scheme, the library and the
``pip install`` that brings it; an unknown scheme names the ones we know.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import BadInput, MissingDependency

if TYPE_CHECKING:
    from .handlers.base import Handler

# scheme -> (module, class, what it needs, how to get it)
HANDLERS: dict[str, tuple[str, str, str, str]] = {}


def _register(schemes: str, module: str, cls: str, needs: str = "", fix: str = "") -> None:
    for scheme in schemes.split():
        HANDLERS[scheme] = ("transfer.handlers." + module, cls, needs, fix)


_register("file", "local", "FileHandler")
_register("symlink", "local", "SymlinkHandler")
_register("moveto", "local", "MovetoHandler")
_register("ftp", "ftp", "FtpHandler")
_register("http https", "http", "HttpHandler", "requests", "pip install 'pegasus-lite[http]'")
_register("webdav webdavs", "http", "WebdavHandler", "requests", "pip install 'pegasus-lite[http]'")
_register("scp sftp", "ssh", "SshHandler", "paramiko", "pip install 'pegasus-lite[ssh]'")
_register("s3 s3s", "s3", "S3Handler", "boto3", "pip install 'pegasus-lite[s3]'")
_register("gs", "gs", "GsHandler", "google-cloud-storage", "pip install 'pegasus-lite[gcs]'")
_register(
    "irods", "irods", "IrodsHandler", "python-irodsclient", "pip install 'pegasus-lite[irods]'"
)
_register(
    "go globus", "globus", "GlobusHandler", "globus-sdk", "pip install 'pegasus-lite[globus]'"
)
_register(
    "docker", "docker", "DockerHandler", "the docker SDK", "pip install 'pegasus-lite[docker]'"
)
_register(
    "shub library oras",
    "apptainer",
    "ApptainerHandler",
    "an apptainer or singularity binary",
    "install apptainer",
)
_register(
    "gsiftp srm root xroot davs gsidavs",
    "gfal",
    "GfalHandler",
    "the gfal2 Python bindings",
    "apt-get install python3-gfal2 (Debian) or the gfal2-python package",
)
_register(
    "osdf stash pelican",
    "pelican",
    "PelicanHandler",
    "the pelican or stashcp program",
    "install the Pelican client (pelican) or stashcp",
)

_loaded: dict[str, type] = {}


def handler_class(scheme: str) -> type[Handler]:
    if scheme in _loaded:
        return _loaded[scheme]
    try:
        module_name, class_name, needs, fix = HANDLERS[scheme]
    except KeyError:
        known = ", ".join(sorted(HANDLERS))
        raise BadInput("unknown URL scheme %r (known: %s)" % (scheme, known)) from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependency(scheme, needs or str(exc.name), fix or str(exc)) from None
    cls = getattr(module, class_name)
    _loaded[scheme] = cls
    return cls
