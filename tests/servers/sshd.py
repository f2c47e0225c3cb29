"""OpenSSH sshd as an ordinary foreground process, key-only logins for the current user.

Debian packages: openssh-server (sshd, sftp-server) and openssh-client (ssh-keygen).
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

from . import ManagedServer, ServerUnavailable, find_program

CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {work}/host_ed25519
PidFile {work}/sshd.pid
AuthorizedKeysFile {work}/client_ed25519.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
"""


def keygen(path: Path) -> None:
    """A fresh passphrase-less ed25519 key pair at ``path`` and ``path.pub``."""
    ssh_keygen = find_program("ssh-keygen", "/usr/bin")
    path.unlink(missing_ok=True)
    path.with_suffix(".pub").unlink(missing_ok=True)
    cmd = [ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "pegasus-lite-test", "-f", str(path)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ServerUnavailable("ssh-keygen failed: %s" % done.stdout.decode(errors="replace"))


class Sshd(ManagedServer):
    """Logs in ``user`` (the current user) with the key at ``client_key``; SFTP and exec work."""

    name = "sshd"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.host_key = self.workdir / "host_ed25519"
        self.client_key = self.workdir / "client_ed25519"
        self.config = self.workdir / "sshd_config"

    def start(self) -> Sshd:
        try:
            # sshd started by root insists on its privilege-separation directory
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError:
            pass  # not root: sshd does not need it
        keygen(self.host_key)
        keygen(self.client_key)
        self.config.write_text(CONFIG.format(port=self.port, work=self.workdir))
        super().start()
        return self

    def command(self) -> list[str]:
        # sshd must be started by absolute path (it re-executes itself)
        sshd = find_program("sshd", "/usr/sbin")
        return [os.path.abspath(sshd), "-D", "-e", "-f", str(self.config)]
