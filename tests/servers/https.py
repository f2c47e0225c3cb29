"""nginx serving a directory over HTTPS with a fresh self-signed certificate for 127.0.0.1."""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import ServerUnavailable, find_program
from .nginx import Nginx


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Write ``cert.pem``/``key.pem`` (P-256, valid for IP 127.0.0.1); return their paths.

    The certificate is its own CA, so clients verify against it with ``cafile=cert``.
    keyUsage is included because strict X.509 checking (Python >= 3.13) demands it of a CA.
    """
    openssl = find_program("openssl", "/usr/bin")
    cert, key = directory / "cert.pem", directory / "key.pem"
    cmd = [
        openssl, "req", "-x509", "-nodes", "-days", "2",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", str(key), "-out", str(cert),
        "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
    ]  # fmt: skip
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ServerUnavailable("openssl req failed: %s" % done.stdout.decode(errors="replace"))
    return cert, key


class HttpsNginx(Nginx):
    """Serves ``root`` read-only over TLS; ``cafile`` verifies it, Range requests work."""

    name = "nginx-https"
    listen_flags = " ssl"

    def __init__(self, workdir: Path, root: Path):
        super().__init__(workdir, root)
        self.cafile = self.workdir / "cert.pem"
        self.keyfile = self.workdir / "key.pem"

    def start(self) -> HttpsNginx:
        self.cafile, self.keyfile = self_signed_cert(self.workdir)
        super().start()
        return self

    def server_directives(self) -> str:
        return "        ssl_certificate %s;\n        ssl_certificate_key %s;\n" % (
            self.cafile,
            self.keyfile,
        )

    @property
    def url(self) -> str:
        return "https://127.0.0.1:%d" % self.port
