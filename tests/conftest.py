"""Shared fixtures: real servers on loopback (tests/servers) and the installed tools."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tests.servers import start_or_skip
from tests.servers.nginx import Nginx

# Docker engine, registry, test image, xrootd and GridFTP: session fixtures for every test.
pytest_plugins = ["tests.servers.fixtures_docker"]


@pytest.fixture(scope="session")
def images(docker_engine, test_image, tmp_path_factory):
    """images(name) -> LocalImage: images of our own made from the test image, which a test
    may remove from the engine and watch being loaded again (tests/containers/images.py)."""
    from tests.containers.images import make_images

    yield from make_images(docker_engine, test_image, tmp_path_factory)


@pytest.fixture(scope="session")
def nginx_server(tmp_path_factory):
    """nginx on 127.0.0.1 serving ``server.root`` (a fresh directory)."""
    base = tmp_path_factory.mktemp("nginx")
    root = base / "htdocs"
    root.mkdir()
    server = start_or_skip(Nginx(base / "run", root))
    yield server
    server.stop()


def console_script(name: str) -> list[str]:
    """The installed command beside this interpreter, else the module behind it."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(candidate, os.X_OK):
        return [candidate]
    found = shutil.which(name)
    if found:
        return [found]
    raise RuntimeError("%s is not installed: run scripts/test.sh" % name)
