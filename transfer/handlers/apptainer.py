"""shub://, library://, oras:// -> a local image file, pulled by apptainer (or singularity).

The runtime is called directly (``apptainer pull --allow-unauthenticated --name FILE URI``,
as PegasusLite does): spython always runs a command named ``singularity``, which an
apptainer-only node does not have.  The pull lands in a private temporary directory; its
bytes are then streamed into the engine's sink, which hashes them and puts the image in
place atomically.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from ..errors import AccessDenied, MissingDependency, NotFound, RetryableError
from .base import Handler

PULL_TIMEOUT = 6 * 3600


def runtime(env: dict[str, str]) -> str:
    """apptainer when present, else singularity, as PegasusLite prefers."""
    for name in ("apptainer", "singularity"):
        path = shutil.which(name, path=env.get("PATH"))
        if path:
            return path
    raise MissingDependency(
        "shub/library/oras", "an apptainer or singularity binary", "install apptainer"
    )


class ApptainerHandler(Handler):
    schemes = ("shub", "library", "oras")
    can_get = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        return (cls.__name__,)

    def __init__(self, context):
        super().__init__(context)
        self.binary = runtime(context.env)

    def get(self, src, sink) -> None:
        name = os.path.basename(self.binary)
        with tempfile.TemporaryDirectory(prefix="pegasus-pull-") as workdir:
            image = os.path.join(workdir, "image.sif")
            command = [self.binary, "pull", "--allow-unauthenticated", "--name", image, src.url.raw]
            try:
                done = subprocess.run(
                    command,
                    cwd=workdir,
                    env=self.context.env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=PULL_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise RetryableError("%s pull of %s timed out" % (name, src.url)) from None
            if done.returncode != 0 or not os.path.exists(image):
                detail = " ".join((done.stderr or done.stdout or "").split())[-300:]
                message = "%s pull of %s failed (exit %d): %s" % (
                    name, src.url, done.returncode, detail,
                )  # fmt: skip
                lowered = detail.lower()
                if any(word in lowered for word in ("not found", "manifest unknown", "no such")):
                    raise NotFound(message)
                if any(word in lowered for word in ("unauthorized", "denied", "forbidden")):
                    raise AccessDenied(message)
                raise RetryableError(message)
            sink.absorb(image)
