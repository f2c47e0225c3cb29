"""moto's S3 server (PyPI ``moto[server]``), over HTTP or HTTPS with a self-signed certificate."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import ManagedServer, find_program
from .https import self_signed_cert

#: any keys work with moto; boto3 just needs some
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


class MotoS3(ManagedServer):
    """S3 API at ``endpoint_url``; state lives in the process and goes when it stops."""

    name = "moto"

    def command(self) -> list[str]:
        moto = find_program("moto_server", os.path.dirname(sys.executable))
        return [moto, "-H", "127.0.0.1", "-p", str(self.port)]

    @property
    def endpoint_url(self) -> str:
        return self.url


class MotoS3Tls(MotoS3):
    """The same over HTTPS; clients verify with ``cafile``."""

    name = "moto-https"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.cafile = self.workdir / "cert.pem"
        self.keyfile = self.workdir / "key.pem"

    def start(self) -> MotoS3Tls:
        self.cafile, self.keyfile = self_signed_cert(self.workdir)
        super().start()
        return self

    def command(self) -> list[str]:
        return [*super().command(), "-c", str(self.cafile), "-k", str(self.keyfile)]

    @property
    def url(self) -> str:
        return "https://127.0.0.1:%d" % self.port
