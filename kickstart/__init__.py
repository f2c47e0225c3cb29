"""pegasus-kickstart: run a program and write Pegasus's provenance record for it.

Standard library only, so it runs on any worker node and inside the worker bundle.
``run()`` is the in-process entry point used by pegasus-lite.
"""

__version__ = "5.1.3+lite.0.1.0"  # the Pegasus release we are compatible with, then ours

from .errors import KickstartError
from .invocation import Invocation, run
from .options import Options, Stdio

__all__ = ["Invocation", "KickstartError", "Options", "Stdio", "run"]
