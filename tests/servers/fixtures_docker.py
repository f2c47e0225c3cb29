"""Session fixtures for the Docker engine, the local registry, the test image and grid servers.

Load with ``pytest_plugins = ["tests.servers.fixtures_docker"]`` (in a test module or in the
root conftest).  In CI (``CI=true``) a service that cannot start fails the test that needs it;
elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os

import pytest

from . import ServerUnavailable, start_or_skip, unavailable
from .docker_engine import DockerEngine, DockerRegistry, ensure_docker_engine, ensure_test_image
from .grid import GridFTP, XRootD, remove_scratch, shared_scratch


@pytest.fixture(scope="session")
def docker_engine():
    """A reachable engine (``.host`` = the DOCKER_HOST value); ``DOCKER_HOST`` is exported
    for the session so that tools run by the code under test find it too."""
    try:
        engine: DockerEngine = ensure_docker_engine()
    except ServerUnavailable as exc:
        unavailable("Docker engine: %s" % exc)
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host
    try:
        yield engine
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous
        engine.stop()


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory):
    """Debian's docker-registry on 127.0.0.1 (``.address`` = ``127.0.0.1:PORT``)."""
    registry = start_or_skip(DockerRegistry(tmp_path_factory.mktemp("docker-registry")))
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def test_image(docker_engine, docker_registry) -> str:
    """``127.0.0.1:PORT/pegasus-lite/test:1``: Debian minbase + python3, pushed to the registry."""
    try:
        return ensure_test_image(docker_engine.host, docker_registry)
    except ServerUnavailable as exc:
        unavailable("test image: %s" % exc)
        raise  # unreachable


def _serve_in_scratch(server_class, prefix: str):
    """Start a server whose files live in a world-traversable scratch dir (it runs as
    nobody), and remove that dir afterwards, whether the server started or not."""
    scratch = shared_scratch(prefix)
    try:
        server = start_or_skip(server_class(scratch))
    except BaseException:  # skipped or failed: nothing to keep
        remove_scratch(scratch)
        raise
    yield server
    server.stop()
    remove_scratch(scratch)


@pytest.fixture(scope="session")
def xrootd_server():
    """xrootd exporting ``.export`` (URLs: ``.url_for(relpath)``), no authentication."""
    yield from _serve_in_scratch(XRootD, "pegasus-lite-xrd-")


@pytest.fixture(scope="session")
def gridftp_server():
    """globus-gridftp-server with GSI; clients need ``.client_env()`` (proxy, CA dir, gfal)."""
    yield from _serve_in_scratch(GridFTP, "pegasus-lite-gftp-")
