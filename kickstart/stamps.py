"""Timestamps in the record's format: local time with a numeric UTC offset.

Built from ``time`` alone: ``datetime`` costs a millisecond of start-up on every job.
"""

from __future__ import annotations

import time


def _offset(tm: time.struct_time) -> str:
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return "%s%02d:%02d" % (sign, off // 60, off % 60)


def iso_ms(epoch: float) -> str:
    """``2026-11-21T06:10:52.783+00:00``: record and job start times."""
    whole = int(epoch)
    millis = int((epoch - whole) * 1000)
    tm = time.localtime(whole)
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + ".%03d" % millis + _offset(tm)


def iso_s(epoch: float) -> str:
    """``2022-09-20T15:27:27+00:00``: file times in stat records."""
    tm = time.localtime(int(epoch))
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + _offset(tm)
