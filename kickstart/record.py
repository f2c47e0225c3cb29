"""Render an invocation as Pegasus's YAML record (version 3.0), keys in the C tool's order.

Each record is one list item starting ``- invocation: True``, so records appended to one
file (``-l``, clustered jobs) read back as a YAML list.
"""

from __future__ import annotations

import os
import sys

from . import environ, hostinfo
from .machine import machine_lines
from .runner import signal
from .stamps import iso_ms
from .statinfo import group_name, stat_lines, user_name
from .yamlfmt import block, mapping_lines, plain, quoted

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from .invocation import Invocation, JobRun
    from .runner import JobResult

# record key -> struct rusage field
_USAGE_FIELDS = (
    ("maxrss", "ru_maxrss"), ("minflt", "ru_minflt"), ("majflt", "ru_majflt"),
    ("nswap", "ru_nswap"), ("inblock", "ru_inblock"), ("outblock", "ru_oublock"),
    ("msgsnd", "ru_msgsnd"), ("msgrcv", "ru_msgrcv"), ("nsignals", "ru_nsignals"),
    ("nvcsw", "ru_nvcsw"), ("nivcsw", "ru_nivcsw"),
)  # fmt: skip


def usage_lines(ru: object, indent: str) -> list[str]:
    lines = [
        "%sutime: %.3f" % (indent, ru.ru_utime),
        "%sstime: %.3f" % (indent, ru.ru_stime),
    ]
    lines.extend("%s%s: %d" % (indent, key, getattr(ru, field)) for key, field in _USAGE_FIELDS)
    return lines


def _signal_name(signum: int) -> str:
    try:
        return signal.strsignal(signum) or "SIG%d" % signum
    except ValueError:
        return "SIG%d" % signum


def status_lines(job: JobResult, indent: str) -> list[str]:
    if job.status is None:  # never ran: the C tool's raw -127 and "errno   reason"
        errno = job.errno or 0
        return [
            "%sraw: -127" % indent,
            "%sfailure_error: %s" % (indent, quoted("%d   %s" % (errno, os.strerror(errno)))),
        ]
    status = job.status
    lines = ["%sraw: %d" % (indent, status)]
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        lines.append("%ssignalled_signal: %d" % (indent, signum))
        lines.append("%ssignalled_name: %s" % (indent, quoted(_signal_name(signum))))
        lines.append("%scorefile: %s" % (indent, "true" if os.WCOREDUMP(status) else "false"))
    else:
        lines.append("%sregular_exitcode: %d" % (indent, os.WEXITSTATUS(status)))
    return lines


def _job_lines(run: JobRun) -> list[str]:
    job = run.result
    out = [
        "  %s:" % run.name,
        "    start: %s" % iso_ms(job.start),
        "    duration: %.3f" % job.duration,
    ]
    if job.pid:
        out.append("    pid: %d" % job.pid)
    if job.rusage is not None:
        out.append("    usage:")
        out.extend(usage_lines(job.rusage, "      "))
    out.append("    status:")
    out.extend(status_lines(job, "      "))
    if job.timed_out:  # extension: the C record does not say why the job died
        out.append("      timeout: True")
    if job.signals:
        out.append("      forwarded_signals: [%s]" % ", ".join(str(s) for s in job.signals))
    out.append("    executable:")
    out.extend(_executable_lines(run.executable, "      "))
    out.append("    argument_vector:")
    out.extend("      - %s" % quoted(arg) for arg in run.argv[1:])
    out.append("    procs:")
    return out


def _executable_lines(path: str, indent: str) -> list[str]:
    shown = os.path.realpath(path) if path else path
    lines = ["%sfile_name: %s" % (indent, plain(shown))]
    try:
        st = os.stat(path)
    except OSError as exc:
        lines.insert(0, "%serror: %d" % (indent, exc.errno or 0))
        return lines
    lines.extend(stat_lines(st, indent))
    return lines


def _capture_text(path: str, limit: int | None) -> tuple:
    """(text, truncated): the last ``limit`` characters of a captured stream."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if limit is not None and size > 4 * limit:
            fh.seek(size - 4 * limit)  # 4 bytes covers the widest UTF-8 character
        data = fh.read()
    text = data.decode("utf-8", "surrogateescape")
    if limit is not None and len(text) > limit:
        return text[len(text) - limit :], True
    return text, limit is not None and size > len(data)


def _capture_lines(inv: Invocation, name: str, descriptor: int, with_data: bool) -> list[str]:
    capture = inv.captures.get(name)
    if capture is None:
        return []
    out = [
        "    %s:" % name,
        "      temporary_name: %s" % plain(capture.path),
        "      descriptor: %d" % descriptor,
    ]
    try:
        st = os.fstat(capture.fd)
    except OSError:
        return out
    out.extend(stat_lines(st, "      "))
    if with_data and st.st_size > 0:
        try:
            text, truncated = _capture_text(capture.path, inv.options.capture_limit)
        except OSError:
            return out
        out.append("      data_truncated: %s" % ("true" if truncated else "false"))
        out.append("      data:" + block(text, "        "))
    return out


def _named_stdio_lines(inv: Invocation, name: str) -> list[str]:
    path = inv.stdio_paths.get(name)
    if path is None:
        return []
    out = ["    %s:" % name, "      file_name: %s" % plain(path)]
    try:
        out.extend(stat_lines(os.stat(path), "      "))
    except OSError as exc:
        out.append("      error: %d" % (exc.errno or 0))
    return out


def _files_lines(inv: Invocation) -> list[str]:
    out = ["  files:"]
    out.extend(inv.rendered_before)
    out.extend(inv.rendered_after)
    if inv.integrity_blob.strip():
        out.append(inv.integrity_blob.rstrip("\n"))
    keep_data = not (inv.options.quiet and not inv.failed)
    for name, descriptor in (("stdin", 0), ("stdout", 3), ("stderr", 4)):
        if name in inv.captures:
            out.extend(_capture_lines(inv, name, descriptor, keep_data))
        else:
            out.extend(_named_stdio_lines(inv, name))
    out.extend(_capture_lines(inv, "metadata", 5, True))
    return out


def _full_file_lines(inv: Invocation) -> list[str]:
    out = []
    me = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if me:
        out.append("    kickstart:")
        out.extend(_executable_lines(me, "      "))
    record_file = inv.options.record_file
    out.append("    logfile:")
    try:
        if record_file and record_file != "-":
            out.append("      file_name: %s" % plain(record_file))
            st = os.stat(record_file)
        else:
            out.append("      descriptor_number: 1")
            st = os.fstat(1)
        out.extend(stat_lines(st, "      "))
    except OSError as exc:
        out.append("      error: %d" % (exc.errno or 0))
    return out


def render(inv: Invocation) -> str:
    opts = inv.options
    out = [
        "- invocation: True",
        "  version: 3.0",
        "  start: %s" % iso_ms(inv.start),
        "  duration: %.3f" % inv.duration,
    ]
    for key, value in (
        ("transformation", opts.transformation),
        ("derivation", opts.derivation),
        ("resource", opts.resource),
        ("wf-label", opts.wf_label),
        ("wf-stamp", opts.wf_stamp),
    ):
        if value is not None:
            out.append("  %s: %s" % (key, quoted(value)))
    primary = hostinfo.primary_ipv4()
    if primary is not None:
        out.append("  interface: %s" % plain(primary[0]))
        out.append("  hostaddr: %s" % primary[1])
    out.append("  hostname: %s" % plain(hostinfo.node_name()))
    out.append("  pid: %d" % os.getpid())
    uid, gid = os.getuid(), os.getgid()
    out.append("  uid: %d" % uid)
    user = user_name(uid)
    if user is not None:
        out.append("  user: %s" % plain(user))
    out.append("  gid: %d" % gid)
    group = group_name(gid)
    if group is not None:
        out.append("  group: %s" % plain(group))
    mask = os.umask(0o022)
    os.umask(mask)
    out.append("  umask: 0o%04o" % mask)
    for run in inv.jobs:
        out.extend(_job_lines(run))
    out.append("  jobids:")
    out.extend("    %s: %s" % (key, quoted(value)) for key, value in hostinfo.job_ids(inv.env))
    out.append("  cwd: %s" % plain(inv.cwd or os.getcwd()))
    import resource

    out.append("  usage:")
    out.extend(usage_lines(resource.getrusage(resource.RUSAGE_SELF), "    "))
    if not opts.no_machine:
        out.append("  machine:")
        out.extend(machine_lines("    "))
    out.extend(_files_lines(inv))
    if inv.failed or opts.full:
        out.extend(_full_file_lines(inv))
        out.append("  environment:")
        out.extend(environ.environment_lines(inv.env, "    "))
        out.append("  limits:")
        out.extend(environ.limits_lines("    "))
    if opts.extra_sections is not None:
        out.extend(_extra_lines(inv))
    return "\n".join(out) + "\n"


def _extra_lines(inv: Invocation) -> list[str]:
    """The caller's own sections (Options.extra_sections): a dict, or ready lines."""
    try:
        extra = inv.options.extra_sections()
    except Exception as exc:  # a broken extension must not cost the record
        if inv.options.log is not None:
            inv.options.log("record extension failed: %s" % exc)
        return []
    if not extra:
        return []
    if isinstance(extra, dict):
        return mapping_lines(extra, "  ")
    return [str(line) for line in extra]
