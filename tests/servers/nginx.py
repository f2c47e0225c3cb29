"""nginx serving a directory over HTTP on loopback (Debian's nginx package).

One config template serves both the plain server here and the TLS one in ``https.py``.
"""

from __future__ import annotations

from pathlib import Path

from . import ManagedServer, find_program

CONFIG = """\
daemon off;
master_process off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port}{listen_flags};
        root {root};
        autoindex on;
{extra}    }}
}}
"""


class Nginx(ManagedServer):
    """Serves ``root`` read-only; Range requests and ETags come with nginx."""

    name = "nginx"
    listen_flags = ""

    def __init__(self, workdir: Path, root: Path):
        super().__init__(workdir)
        self.root = Path(root)

    def server_directives(self) -> str:
        """Extra lines for the ``server`` block (the TLS variant adds its certificate)."""
        return ""

    def command(self) -> list[str]:
        nginx = find_program("nginx", "/usr/sbin")
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            CONFIG.format(
                work=self.workdir,
                port=self.port,
                listen_flags=self.listen_flags,
                root=self.root,
                extra=self.server_directives(),
            )
        )
        return [nginx, "-p", str(self.workdir), "-c", str(conf)]
