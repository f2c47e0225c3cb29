"""PegasusLite's log: ``YYYY-MM-DD HH:MM:SS: message`` lines on stderr, and its banners."""

from __future__ import annotations

import sys
import time


def log(message: str) -> None:
    sys.stderr.write("%s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), message))
    sys.stderr.flush()


def banner(message: str, prefix: str = "[Pegasus Lite]") -> None:
    """``####...[Pegasus Lite] Setting up workdir ####...``, 80 columns, as Pegasus prints."""
    text = "%s %s" % (prefix, message)
    pad = max(0, (80 - len(text) - 1) // 2)
    sys.stderr.write("\n%s%s %s\n" % ("#" * (pad + 1), text, "#" * (pad + 1)))
    sys.stderr.flush()
