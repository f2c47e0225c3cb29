"""What a run tells: Pegasus's summary lines, the multipart block, a JSON report, progress."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

log = logging.getLogger("pegasus-transfer")


def iso_prefix(n: float) -> str:
    """Pegasus's sizes: 1024-based, one decimal, then the prefix (``3.9 M``)."""
    n = float(n)
    for limit, prefix in ((1024**4, "T"), (1024**3, "G"), (1024**2, "M"), (1024, "K")):
        if n > limit:
            return "%.1f %s" % (n / limit, prefix)
    return "%.1f " % n


class Attempt:
    """One try of one source -> destination pair."""

    __slots__ = (
        "bytes", "dst_label", "dst_url", "duration", "error", "lfn", "linkage", "local",
        "sha256", "src_label", "src_url", "start", "success",
    )  # fmt: skip

    def __init__(self, transfer: object, src: object, dst: object):
        self.src_url = str(src.url)
        self.src_label = src.site
        self.dst_url = str(dst.url)
        self.dst_label = dst.site
        self.lfn = getattr(transfer, "lfn", None)
        self.linkage = getattr(transfer, "linkage", None)
        self.local = src.url.scheme == "file" or dst.url.scheme == "file"
        self.start = time.time()
        self.duration = 0.0
        self.bytes = 0
        self.sha256: str | None = None
        self.success = False
        self.error: str | None = None

    def as_dict(self) -> dict:
        return {
            "lfn": self.lfn,
            "source": self.src_url,
            "destination": self.dst_url,
            "src_label": self.src_label,
            "dst_label": self.dst_label,
            "start": round(self.start, 3),
            "seconds": round(self.duration, 6),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "success": self.success,
            "error": self.error,
        }


class Report:
    """Collects attempts from worker threads; prints and writes the summaries at the end."""

    def __init__(self, progress: bool | None = None):
        self.started = time.time()
        self.finished = 0.0
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        self.total_transfers = 0
        self.done_transfers = 0
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._last_draw = 0.0

    def add(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def transfer_finished(self) -> None:
        with self.lock:
            self.done_transfers += 1
            if self.progress:
                self._draw()

    def _draw(self, final: bool = False) -> None:
        now = time.time()
        if not final and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        moved = sum(a.bytes for a in self.attempts if a.success)
        elapsed = max(now - self.started, 1e-6)
        sys.stderr.write(
            "\r%d/%d files  %sB  %sB/s   "
            % (
                self.done_transfers,
                self.total_transfers,
                iso_prefix(moved),
                iso_prefix(moved / elapsed),
            )
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def summary(self, ok: bool) -> None:
        """Pegasus's closing lines, the multipart block and the integrity payloads."""
        self.finished = time.time()
        if self.progress and self.total_transfers:
            self._draw(final=True)
        self.write_multipart()
        attempts = self.attempts
        if not attempts:
            log.info("Stats: no local files in the transfer set")
        elif not all(a.local for a in attempts):
            log.info("Unable to provide stats for third party gsiftp/srm transfers")
        else:
            seconds = max(self.finished - self.started, 1e-6)
            pairs: dict[str, list] = {}
            for a in attempts:
                pair = pairs.setdefault("%s->%s" % (a.src_label, a.dst_label), [0, 0])
                pair[0] += 1
                pair[1] += a.bytes
            total = sum(a.bytes for a in attempts)
            log.info(
                "Stats: Total %d transfers, %sB transferred in %.0f seconds. Rate: %sB/s (%sb/s)",
                len(attempts), iso_prefix(total), seconds,
                iso_prefix(total / seconds), iso_prefix(total * 8 / seconds),
            )  # fmt: skip
            for key, (count, size) in pairs.items():
                log.info(
                    "       Between sites %s : %d transfers, %sB transferred in %.0f seconds. "
                    "Rate: %sB/s (%sb/s)",
                    key, count, iso_prefix(size), seconds,
                    iso_prefix(size / seconds), iso_prefix(size * 8 / seconds),
                )  # fmt: skip
        if ok:
            log.info("All transfers completed successfully.")
        else:
            log.critical("Some transfers failed! See above, and possibly stderr.")

    def write_multipart(self) -> None:
        directory = os.environ.get("PEGASUS_MULTIPART_DIR")
        if not directory or not self.attempts:
            return
        lines = ["- transfer_attempts:"]
        for a in self.attempts:
            lines += [
                "  - src_url: %s" % json.dumps(a.src_url),
                "    src_label: %s" % json.dumps(a.src_label),
                "    dst_url: %s" % json.dumps(a.dst_url),
                "    dst_label: %s" % json.dumps(a.dst_label),
                "    success: %s" % a.success,
                "    start: %.0f" % a.start,
                "    duration: %.1f" % a.duration,
            ]
            if a.lfn:
                lines.append("    lfn: %s" % json.dumps(a.lfn))
            if a.bytes:
                lines.append("    bytes: %d" % a.bytes)
        path = os.path.join(directory, "%d-transfer" % int(time.time()))
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        except OSError as exc:
            log.error("Unable to write stats to $PEGASUS_MULTIPART_DIR: %s", exc)

    def write_json(self, path: str, ok: bool) -> None:
        doc = {
            "success": ok,
            "start": round(self.started, 3),
            "seconds": round((self.finished or time.time()) - self.started, 6),
            "attempts": [a.as_dict() for a in self.attempts],
        }
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, path)
