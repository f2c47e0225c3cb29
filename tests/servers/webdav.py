"""wsgidav on cheroot (PyPI ``wsgidav``, ``cheroot``): read-write WebDAV with basic auth."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from . import ManagedServer, find_program


class WebDav(ManagedServer):
    """Publishes ``root`` read-write as ``url``/; log in as ``username``/``password``."""

    name = "webdav"

    def __init__(self, workdir: Path, root: Path, username: str = "dav"):
        super().__init__(workdir)
        self.root = Path(root)
        self.username = username
        self.password = secrets.token_urlsafe(12)
        self.config = self.workdir / "wsgidav.json"

    def settings(self) -> dict:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "server": "cheroot",
            "provider_mapping": {"/": str(self.root)},
            "simple_dc": {"user_mapping": {"*": {self.username: {"password": self.password}}}},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
                "trusted_auth_header": None,
            },
            "dir_browser": {"enable": False},
            "verbose": 1,
            "logging": {"enable_loggers": []},
        }

    def command(self) -> list[str]:
        wsgidav = find_program("wsgidav", os.path.dirname(sys.executable))
        self.config.write_text(json.dumps(self.settings(), indent=2))
        self.config.chmod(0o600)
        return [wsgidav, "--config", str(self.config)]
