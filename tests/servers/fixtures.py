"""Session fixtures for the protocol servers; import the ones a test module needs, e.g.

    from tests.servers.fixtures import sshd_server  # noqa: F401

Each server starts once per session on 127.0.0.1 at a free port. A missing program skips the
test outside CI and fails it in CI (``start_or_skip``).
"""

from __future__ import annotations

import pytest

from . import start_or_skip
from .ftp import Ftp
from .gcs import GcsEmulator
from .https import HttpsNginx
from .moto import MotoS3, MotoS3Tls
from .sshd import Sshd
from .webdav import WebDav


def _serve(server):
    started = start_or_skip(server)
    yield started
    started.stop()


def _root(base):
    root = base / "root"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    """sshd: log in as ``.user`` with the private key ``.client_key``; SFTP subsystem on."""
    yield from _serve(Sshd(tmp_path_factory.mktemp("sshd")))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto S3 at ``.endpoint_url`` (plain HTTP), any access keys."""
    yield from _serve(MotoS3(tmp_path_factory.mktemp("moto")))


@pytest.fixture(scope="session")
def s3_tls_server(tmp_path_factory):
    """moto S3 over HTTPS at ``.endpoint_url``; verify with ``.cafile``."""
    yield from _serve(MotoS3Tls(tmp_path_factory.mktemp("moto-https")))


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
    """gcp-storage-emulator; set STORAGE_EMULATOR_HOST to ``.emulator_host``."""
    yield from _serve(GcsEmulator(tmp_path_factory.mktemp("gcs")))


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory):
    """wsgidav publishing ``.root`` at ``.url``; basic auth ``.username``/``.password``."""
    base = tmp_path_factory.mktemp("webdav")
    yield from _serve(WebDav(base / "run", _root(base)))


@pytest.fixture(scope="session")
def https_server(tmp_path_factory):
    """nginx over TLS serving ``.root`` at ``.url``; verify with ``.cafile``."""
    base = tmp_path_factory.mktemp("https")
    yield from _serve(HttpsNginx(base / "run", _root(base)))


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory):
    """Anonymous read-only FTP of ``.root`` at ``.url``."""
    base = tmp_path_factory.mktemp("ftp")
    yield from _serve(Ftp(base / "run", _root(base)))
