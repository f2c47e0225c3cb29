"""Podman: the docker contract (:mod:`containers.oci`) through the ``podman`` command.

Podman has no daemon: every operation is a ``podman`` command (Debian package ``podman``;
``--init`` also needs ``catatonit``).  GPUs are requested the CDI way
(``--device nvidia.com/gpu=all``).  As root with the ``cgroupfs`` manager the container gets
a parent cgroup of its own and its usage (which then includes podman's small ``conmon``
monitor) goes into the record; otherwise there is no usage section.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess

from . import cgroups
from .base import ContainerError, find_program
from .oci import OciRuntime

CATATONIT = (
    "/usr/libexec/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/local/bin/catatonit",
    "/usr/libexec/catatonit/catatonit",
)
CONF_FILES = (
    "/usr/share/containers/containers.conf",
    "/etc/containers/containers.conf",
)


def cgroup_manager() -> str:
    """What podman will use (without running ``podman info``, which takes a second):
    containers.conf's ``cgroup_manager``, else systemd when systemd runs the machine."""
    manager = None
    for path in CONF_FILES:
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as fh:
            for line in fh:
                match = re.match(r'\s*cgroup_manager\s*=\s*"([a-z]+)"', line)
                if match:
                    manager = match.group(1)
    if manager:
        return manager
    return "systemd" if os.path.isdir("/run/systemd/system") else "cgroupfs"


class PodmanRuntime(OciRuntime):
    name = "podman"
    gpu_flags = ("--device", "nvidia.com/gpu=all")

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        cli = find_program("podman", env)
        if cli is None:
            raise ContainerError("the podman command is not installed (Debian package podman)")
        if not any(os.access(p, os.X_OK) for p in CATATONIT) and not find_program("catatonit", env):
            raise ContainerError(
                "podman run --init needs catatonit, which is not installed "
                "(Debian package catatonit)"
            )
        self.cli = cli

    def podman(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [self.cli, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self.env,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ContainerError("podman %s failed: %s" % (args[0], exc)) from None

    # ------------------------------------------------------------------ engine operations

    def connect(self) -> str:
        self.use_parent = cgroup_manager() == "cgroupfs" and cgroups.can_use_parent()
        return "podman"

    def inspect_image(self, reference: str) -> dict | None:
        proc = self.podman("image", "inspect", reference, timeout=120)
        if proc.returncode != 0:
            if "image not known" in proc.stderr or "no such image" in proc.stderr.lower():
                return None
            if "failed to find image" in proc.stderr.lower():
                return None
            raise ContainerError("podman image inspect %s: %s" % (reference, _last(proc.stderr)))
        try:
            found = json.loads(proc.stdout)
        except ValueError:
            return None
        return found[0] if found else None

    def load_image(self, tar: str) -> list[str]:
        proc = self.podman("load", "--input", tar)
        if proc.returncode != 0:
            raise ContainerError(
                "Unable to load image from %s: %s" % (os.path.basename(tar), _last(proc.stderr))
            )
        names = []
        for line in proc.stdout.splitlines():
            if line.startswith("Loaded image"):
                names += [n.strip() for n in line.split(":", 1)[1].split(",") if n.strip()]
        ids = []
        for name in names:
            info = self.inspect_image(name)
            if info is not None and info.get("Id"):
                ids.append("sha256:" + info["Id"].removeprefix("sha256:"))
        return ids

    def pull_image(self, reference: str) -> str:
        proc = self.podman("pull", "--quiet", reference)
        if proc.returncode != 0:
            raise ContainerError(
                "image %s could not be pulled: %s" % (reference, _last(proc.stderr))
            )
        return "sha256:" + proc.stdout.strip().splitlines()[-1].removeprefix("sha256:")

    def remove_image(self, entry: dict) -> bool:
        proc = self.podman("rmi", entry["image"].removeprefix("sha256:"), timeout=300)
        return proc.returncode == 0 or "image not known" in proc.stderr

    def remove_container(self, name: str) -> None:
        self.podman("rm", "--force", "--ignore", "--time", "0", name, timeout=120)

    def run_reference(self, image_id: str) -> str:
        return image_id


def _last(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
