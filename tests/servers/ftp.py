"""pyftpdlib (PyPI ``pyftpdlib``): anonymous, read-only FTP of a directory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from . import ManagedServer, ServerUnavailable


class Ftp(ManagedServer):
    """Serves ``root`` to anonymous logins at ``url``; passive data ports on 127.0.0.1."""

    name = "ftp"

    def __init__(self, workdir: Path, root: Path):
        super().__init__(workdir)
        self.root = Path(root)

    def command(self) -> list[str]:
        if importlib.util.find_spec("pyftpdlib") is None:
            raise ServerUnavailable("pyftpdlib is not installed (scripts/test.sh installs it)")
        return [
            sys.executable, "-m", "pyftpdlib",
            "-i", "127.0.0.1", "-p", str(self.port), "-d", str(self.root),
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return "ftp://127.0.0.1:%d" % self.port
