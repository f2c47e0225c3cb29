"""Fixtures for the container jobs: the Docker engine, registry and test image
(tests/servers/fixtures_docker.py) and images of our own made from it (tests/containers)."""

from __future__ import annotations

import pytest

from tests.containers.images import make_images
from tests.servers.fixtures_docker import docker_engine, docker_registry, test_image  # noqa: F401


@pytest.fixture(scope="session")
def job_images(docker_engine, test_image, tmp_path_factory):  # noqa: F811
    """job_images(name) -> LocalImage (tests/containers/images.py)."""
    yield from make_images(docker_engine, test_image, tmp_path_factory)
