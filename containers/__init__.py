"""Container runtimes behind one interface: docker, podman, apptainer/singularity.

``get_runtime(name, env)`` returns the :class:`~containers.base.Runtime` for a job spec's
``container.runtime``; see :mod:`containers.base` for the life of a job.  Standard library
only, except the docker SDK, imported when a Docker image must be loaded or pulled.
"""

from __future__ import annotations

from .base import ContainerError, Runtime

__all__ = ["RUNTIMES", "ContainerError", "Runtime", "get_runtime"]

RUNTIMES = ("docker", "podman", "apptainer", "singularity")


def get_runtime(name: str, env: dict[str, str] | None = None) -> Runtime:
    """The runtime called ``name``; ContainerError (one line) when its program is missing."""
    import os

    env = dict(os.environ if env is None else env)
    if name == "docker":
        from .docker import DockerRuntime

        return DockerRuntime(env)
    if name == "podman":
        from .podman import PodmanRuntime

        return PodmanRuntime(env)
    if name in ("apptainer", "singularity"):
        from .apptainer import ApptainerRuntime

        return ApptainerRuntime(env)
    raise ContainerError("unknown container runtime %r (one of %s)" % (name, ", ".join(RUNTIMES)))
