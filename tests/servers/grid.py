"""Grid storage servers on loopback: XRootD (``root://``) and GridFTP with GSI (``gsiftp://``).

Both come from Debian (``xrootd-server``, ``globus-gridftp-server-progs``).  When the tests run as
root the servers hand file access to ``nobody``, so their directories live in world-traversable
scratch directories under /tmp (see :func:`shared_scratch`), not under pytest's 0700 tmp dirs.

GridFTP needs GSI: :class:`GsiPki` makes a throw-away CA (with its ``<hash>.0`` and
``<hash>.signing_policy``), a host certificate for ``localhost``, a user certificate and an RFC
3820 proxy (``grid-proxy-init``).  Clients need :meth:`GridFTP.client_env`.

gfal2 (``gfal-copy``, ``python3-gfal2``) is Debian's and only works with /usr/bin/python3; the
``gfal-*`` wrappers pick the first ``python`` on PATH that imports gfal2, so under pyenv they need
``GFAL_PYTHONBIN=/usr/bin/python3`` (set by ``client_env``).
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import ManagedServer, ServerUnavailable, find_program

SYSTEM_PYTHON = "/usr/bin/python3"
UNPRIVILEGED = "nobody"


def _is_root() -> bool:
    return os.geteuid() == 0


def _service_account() -> str:
    """The account the servers give file access to: nobody as root, else ourselves."""
    return UNPRIVILEGED if _is_root() else getpass.getuser()


def _give_to_service(*paths: Path) -> None:
    if not _is_root():
        return
    entry = pwd.getpwnam(UNPRIVILEGED)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def shared_scratch(prefix: str) -> Path:
    """A fresh 0755 directory directly under the temp dir (reachable by ``nobody``)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def gfal_python() -> str | None:
    """/usr/bin/python3 if it imports the gfal2 bindings and gfal2-util, else None."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return None
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gfal2, gfal2_util"], capture_output=True, check=False
    )
    return SYSTEM_PYTHON if probe.returncode == 0 else None


def gfal_env(base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["GFAL_PYTHONBIN"] = SYSTEM_PYTHON
    return env


def _run(cmd: list[str], env: dict | None = None, what: str = "") -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        raise ServerUnavailable(
            "%s failed (%d): %s" % (what or cmd[0], proc.returncode, proc.stderr.strip()[-1500:])
        )
    return proc.stdout


# --------------------------------------------------------------------------------------------
# XRootD

XROOTD_CONFIG = """\
xrd.port {port}
xrd.network nodnr
xrd.allow host 127.0.0.1
xrd.allow host localhost
all.export {export}
all.adminpath {admin}
all.pidpath {run}
"""


class XRootD(ManagedServer):
    """``xrootd`` exporting ``export`` without authentication.

    XRootD cannot bind one interface: it listens on all IPv4 addresses, and ``xrd.allow``
    refuses every client that is not 127.0.0.1.  ``workdir`` must be reachable by ``nobody``
    (use :func:`shared_scratch`).  URLs: :meth:`url_for`.
    """

    name = "xrootd"

    def __init__(self, workdir: Path, export: Path | None = None):
        super().__init__(workdir)
        self.export = Path(export) if export is not None else self.workdir / "export"

    def command(self) -> list[str]:
        xrootd = find_program("xrootd", "/usr/bin")
        admin, run = self.workdir / "admin", self.workdir / "run"
        for path in (self.export, admin, run):
            path.mkdir(parents=True, exist_ok=True)
        _give_to_service(self.export, admin, run)
        config = self.workdir / "xrootd.cfg"
        config.write_text(
            XROOTD_CONFIG.format(port=self.port, export=self.export, admin=admin, run=run)
        )
        config.chmod(0o644)
        # foreground (no -b), so stop() ends the server; log on stderr (our log file)
        cmd = [xrootd, "-c", str(config), "-n", "pegasus-lite", "-I", "v4"]
        if _is_root():
            cmd += ["-R", UNPRIVILEGED]
        return cmd

    @property
    def url(self) -> str:
        return "root://127.0.0.1:%d" % self.port

    def url_for(self, relpath: str) -> str:
        """``root://127.0.0.1:PORT//<export>/<relpath>`` (XRootD wants the double slash)."""
        return "%s/%s/%s" % (self.url, self.export, relpath.lstrip("/"))

    def client_env(self, base: dict | None = None) -> dict:
        return gfal_env(base)


# --------------------------------------------------------------------------------------------
# GSI and GridFTP

SUBJECT_BASE = "/O=Pegasus Lite Test"


class GsiPki:
    """A throw-away GSI world in ``directory``: CA, host cert (CN=localhost), user cert, proxy."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.cert_dir = self.dir / "certificates"
        self.host_cert = self.dir / "hostcert.pem"
        self.host_key = self.dir / "hostkey.pem"
        self.user_cert = self.dir / "usercert.pem"
        self.user_key = self.dir / "userkey.pem"
        self.proxy = self.dir / "x509up"
        self.ca_dn = SUBJECT_BASE + "/CN=Pegasus Lite Test CA"
        self.host_dn = SUBJECT_BASE + "/CN=localhost"
        self.user_dn = SUBJECT_BASE + "/CN=pegasus lite tester"

    def create(self) -> GsiPki:
        openssl = find_program("openssl", "/usr/bin")
        grid_proxy_init = find_program("grid-proxy-init", "/usr/bin")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert_dir.mkdir(exist_ok=True)
        ca_key, ca_cert = self.dir / "ca.key", self.dir / "ca.pem"
        _run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"),
                *("-days", "7", "-keyout", str(ca_key), "-out", str(ca_cert)),
                *("-subj", self.ca_dn, "-addext", "basicConstraints=critical,CA:TRUE"),
                *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
            ],
            what="openssl CA",
        )
        ca_hash = _run([openssl, "x509", "-in", str(ca_cert), "-noout", "-hash"]).strip()
        shutil.copyfile(ca_cert, self.cert_dir / ("%s.0" % ca_hash))
        (self.cert_dir / ("%s.signing_policy" % ca_hash)).write_text(
            "access_id_CA X509 '%s'\npos_rights globus CA:sign\n"
            "cond_subjects globus '\"%s/*\"'\n" % (self.ca_dn, SUBJECT_BASE)
        )
        self._issue(openssl, ca_cert, ca_key, self.host_dn, self.host_cert, self.host_key, True)
        self._issue(openssl, ca_cert, ca_key, self.user_dn, self.user_cert, self.user_key, False)
        _run(
            [
                *(grid_proxy_init, "-q", "-cert", str(self.user_cert)),
                *("-key", str(self.user_key), "-out", str(self.proxy), "-hours", "24"),
            ],
            env=dict(os.environ, X509_CERT_DIR=str(self.cert_dir)),
            what="grid-proxy-init",
        )
        return self

    def _issue(self, openssl, ca_cert, ca_key, subject, cert, key, server: bool) -> None:
        csr = cert.with_suffix(".csr")
        ext = cert.with_suffix(".ext")
        _run(
            [
                *(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256"),
                *("-keyout", str(key), "-out", str(csr), "-subj", subject),
            ],
            what="openssl req %s" % subject,
        )
        lines = ["keyUsage=critical,digitalSignature,keyEncipherment"]
        if server:
            lines += ["subjectAltName=DNS:localhost,IP:127.0.0.1"]
            lines += ["extendedKeyUsage=serverAuth,clientAuth"]
        else:
            lines += ["extendedKeyUsage=clientAuth"]
        ext.write_text("\n".join(lines) + "\n")
        _run(
            [
                *(openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert)),
                *("-CAkey", str(ca_key), "-set_serial", str(int.from_bytes(os.urandom(8), "big"))),
                *("-sha256", "-days", "7", "-out", str(cert), "-extfile", str(ext)),
            ],
            what="openssl x509 %s" % subject,
        )
        key.chmod(0o600)

    def client_env(self, base: dict | None = None) -> dict:
        env = gfal_env(base)
        env["X509_CERT_DIR"] = str(self.cert_dir)
        env["X509_USER_PROXY"] = str(self.proxy)
        for name in ("X509_USER_CERT", "X509_USER_KEY"):
            env.pop(name, None)
        return env


class GridFTP(ManagedServer):
    """``globus-gridftp-server`` with GSI on 127.0.0.1 (control and data channels).

    The user's DN is mapped to ``nobody`` (the server refuses a mapping to root), whose start
    directory is ``root``.  Use the host name ``localhost`` in URLs (the host certificate's CN):
    :meth:`url_for`.  ``workdir`` must be reachable by ``nobody`` (:func:`shared_scratch`).
    """

    name = "gridftp"

    def __init__(self, workdir: Path, root: Path | None = None):
        super().__init__(workdir)
        self.root = Path(root) if root is not None else self.workdir / "data"
        self.pki = GsiPki(self.workdir / "gsi")

    def command(self) -> list[str]:
        server = find_program("globus-gridftp-server", "/usr/sbin", "/usr/bin")
        self.root.mkdir(parents=True, exist_ok=True)
        _give_to_service(self.root)
        self.pki.create()
        gridmap = self.workdir / "grid-mapfile"
        gridmap.write_text('"%s" %s\n' % (self.pki.user_dn, _service_account()))
        env = [
            "X509_CERT_DIR=%s" % self.pki.cert_dir,
            "X509_USER_CERT=%s" % self.pki.host_cert,
            "X509_USER_KEY=%s" % self.pki.host_key,
            "GRIDMAP=%s" % gridmap,
        ]
        # -daemon (the default, without -detach) stays in the foreground and forks per client
        return [
            *("/usr/bin/env", *env, server, "-p", str(self.port)),
            *("-control-interface", "127.0.0.1", "-data-interface", "127.0.0.1"),
            *("-home-dir", str(self.root), "-log-level", "ERROR,WARN,INFO"),
        ]

    @property
    def url(self) -> str:
        return "gsiftp://localhost:%d" % self.port

    def url_for(self, relpath: str) -> str:
        return "%s%s/%s" % (self.url, self.root, relpath.lstrip("/"))

    def client_env(self, base: dict | None = None) -> dict:
        return self.pki.client_env(base)
