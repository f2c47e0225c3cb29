"""gcp-storage-emulator (PyPI ``gcp-storage-emulator``): the GCS JSON API, in memory."""

from __future__ import annotations

import os
import sys

from . import ManagedServer, find_program


class GcsEmulator(ManagedServer):
    """Point google-cloud-storage at it with ``STORAGE_EMULATOR_HOST=emulator_host``."""

    name = "gcs"

    def command(self) -> list[str]:
        emulator = find_program("gcp-storage-emulator", os.path.dirname(sys.executable))
        return [emulator, "start", "-H", "127.0.0.1", "--port", str(self.port), "-q", "-M"]

    @property
    def emulator_host(self) -> str:
        return self.url
