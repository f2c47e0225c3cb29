"""file://, symlink:// and moveto://: paths on this node.

Copies between local paths are done by the engine itself (a kernel copy, or a hashed
copy); these handlers cover what is asked of a local URL on its own: mkdir and remove.
"""

from __future__ import annotations

import os

from ..engine import remove_local
from ..errors import PermanentError
from .base import Handler


class FileHandler(Handler):
    schemes = ("file",)
    can_mkdir = True
    can_remove = True

    @classmethod
    def session_key(cls, endpoint) -> tuple:
        return (cls.__name__,)

    def mkdir(self, target) -> None:
        try:
            os.makedirs(target.url.path, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise PermanentError(
                "cannot create directory %s: %s" % (target.url.path, exc.strerror)
            ) from None

    def remove(self, target, recursive: bool) -> None:
        try:
            remove_local(target.url.path, recursive)
        except OSError as exc:
            raise PermanentError("cannot remove %s: %s" % (target.url.path, exc.strerror)) from None


class SymlinkHandler(FileHandler):
    schemes = ("symlink",)


class MovetoHandler(FileHandler):
    schemes = ("moveto",)
    can_mkdir = False
    can_remove = False
