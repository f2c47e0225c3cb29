"""The engine's running report on stderr: one live status line, events, a summary.

On a terminal the status line is redrawn in place (``\\r``) at most a few times a second;
elsewhere (a log file, CI) it is printed every few seconds and after each failure, so a
log stays short but still shows that the run is alive.
"""

from __future__ import annotations

import time
from typing import TextIO

TTY_INTERVAL = 0.1  # seconds between redraws on a terminal
LOG_INTERVAL = 5.0  # seconds between status lines elsewhere


class Progress:
    def __init__(self, out: TextIO, total: int, verbose: bool = False, tty: bool | None = None):
        self.out = out
        self.total = total
        self.verbose = verbose
        if tty is None:
            try:
                tty = out.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.started = time.monotonic()
        self.done = self.running = self.failed = 0
        self._drawn = False  # a status line is on screen (tty) and must be cleared first
        self._last = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        return "[%.1fs] done %d, running %d, failed %d, total %d" % (
            self.elapsed(), self.done, self.running, self.failed, self.total,
        )  # fmt: skip

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r\x1b[K")
            self._drawn = False

    def _show(self) -> None:
        self._last = time.monotonic()
        if self.tty:
            self.out.write("\r\x1b[K" + self.line())
            self._drawn = True
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def update(self, done: int, running: int, failed: int, force: bool = False) -> None:
        """Record the counts; redraw when it is time (or ``force``)."""
        changed_failed = failed != self.failed
        self.done, self.running, self.failed = done, running, failed
        interval = TTY_INTERVAL if self.tty else LOG_INTERVAL
        if force or changed_failed or time.monotonic() - self._last >= interval:
            self._show()

    def due(self) -> float:
        """Seconds until the next scheduled redraw (for the engine's wait)."""
        interval = TTY_INTERVAL if self.tty else LOG_INTERVAL
        return max(0.0, self._last + interval - time.monotonic())

    def event(self, text: str, always: bool = False) -> None:
        """One line about one job: shown with -v, or when ``always`` (a failure)."""
        if not (self.verbose or always):
            return
        self._clear()
        self.out.write("[%.1fs] %s\n" % (self.elapsed(), text))
        if self.tty:
            self._show()
        else:
            self.out.flush()

    def message(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def finish(self, lines: list[str]) -> None:
        self._clear()
        for text in lines:
            self.out.write(text + "\n")
        self.out.flush()
