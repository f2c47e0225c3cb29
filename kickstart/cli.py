"""``pegasus-kickstart``: the C tool's command line, the Python implementation behind it."""

from __future__ import annotations

import os
import sys

from . import __version__
from .errors import KickstartError, UsageError
from .invocation import run
from .options import Options, Stdio

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

USAGE = """\
Usage: pegasus-kickstart [options] [--] application [arguments]

 -n tr      transformation name for the record
 -N dv      derivation (job id) for the record
 -R site    resource (site) for the record
 -L label   workflow label for the record;  -T iso  workflow time stamp
 -H         leave out the machine section
 -i fn      stdin from fn ('-': kickstart's own; default /dev/null)
 -o fn      stdout to fn, -e fn stderr to fn ('-': kickstart's own, '!fn': append;
            default: captured into the record)
 -l fn      append the record to fn (default: stdout)
 -S [l=]p   stat this file before the job;  -s [l=]p  stat and sha256 it after the job
            (either takes @listfile, one entry per line; both may repeat)
 -w dir     change into dir first;  -W dir  create it, then change into it
 -X         make the application executable first
 -B sz      keep the last sz characters of stdout/stderr ('all': everything; default 262144)
 -f         full record: environment (secrets redacted) and limits even on success
 -q         leave out captured stdout/stderr when the job succeeds
 -k sec     send TERM to the job after sec seconds;  -K sec  KILL it sec later (default 5)
 -I fn      read the application and its arguments from fn, one per line
 -V         print the version and exit
"""

_VALUE_FLAGS = set("nNRLTioelSswWBkKI")
_PLAIN_FLAGS = set("HXfqcFtzZV")


def _unquote(value: str) -> str:
    """The C tool strips one pair of surrounding quotes from label and directory values."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _seconds(flag: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError("-%s needs a number of seconds, not %r" % (flag, value)) from None
    if seconds < 0:
        raise UsageError("-%s needs a positive number of seconds" % flag)
    return seconds


def _capture_limit(value: str) -> int | None:
    """'all', or a C integer (decimal, 0x hex, 0 octal) above zero."""
    if value.lower() == "all":
        return None
    base = 16 if value[:2].lower() == "0x" else 8 if value[:1] == "0" and len(value) > 1 else 10
    try:
        limit = int(value, base)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise UsageError("-B needs a size in characters above 0 or 'all', not %r" % value)
    return limit


def read_argument_file(path: str) -> list[str]:
    """-I: one argument per line, the application first; line ends are not part of them."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return [line.rstrip("\r\n") for line in fh]
    except OSError as exc:
        shown = path.replace("\r", "\\r").replace("\n", "\\n")
        raise UsageError("cannot read argument file %s: %s" % (shown, exc.strerror)) from None


def parse_args(args: Sequence[str]) -> tuple[Options, list[str], bool]:
    """(options, application argv, version requested).  Stops at the first non-option."""
    opts = Options()
    i = 0
    arg_file = None
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if len(arg) < 2 or arg[0] != "-":
            break
        flag = arg[1]
        if flag in ("h", "?"):
            raise UsageError("")
        if flag in _VALUE_FLAGS:
            if len(arg) > 2:
                value = arg[2:]
            else:
                i += 1
                if i >= len(args):
                    raise UsageError("option -%s needs a value" % flag)
                value = args[i]
            _apply_value(opts, flag, value)
            if flag == "I":
                arg_file = value
        elif flag in _PLAIN_FLAGS and len(arg) == 2:
            if flag == "V":
                return opts, [], True
            _apply_flag(opts, flag)
        else:
            shown = arg.replace("\r", "\\r").replace("\n", "\\n")  # the message is one line
            raise UsageError("unknown option %s" % shown)
        i += 1
    argv = list(args[i:])
    if arg_file is not None:
        if argv:
            raise UsageError("-I takes the application from its file; no arguments may follow")
        argv = read_argument_file(arg_file)
    if not argv:
        raise UsageError("")
    return opts, argv, False


def _apply_value(opts: Options, flag: str, value: str) -> None:
    if flag == "n":
        opts.transformation = _unquote(value)
    elif flag == "N":
        opts.derivation = _unquote(value)
    elif flag == "R":
        opts.resource = _unquote(value)
    elif flag == "L":
        opts.wf_label = _unquote(value)
    elif flag == "T":
        opts.wf_stamp = _unquote(value)
    elif flag == "i":
        opts.stdin = Stdio.parse(value, opts.stdin)
    elif flag == "o":
        opts.stdout = Stdio.parse(value, opts.stdout)
    elif flag == "e":
        opts.stderr = Stdio.parse(value, opts.stderr)
    elif flag == "l":
        opts.record_file = None if value == "-" else value
    elif flag == "S":
        opts.stat_before.append(value)
    elif flag == "s":
        opts.stat_after.append(value)
    elif flag in ("w", "W"):
        opts.workdir = _unquote(value)
        opts.make_workdir = flag == "W"
    elif flag == "B":
        opts.capture_limit = _capture_limit(value)
    elif flag == "k":
        opts.term_after = _seconds(flag, value) or None  # 0: no time limit
    elif flag == "K":
        opts.kill_after = _seconds(flag, value)
        if not opts.kill_after:
            raise UsageError("-K needs a number of seconds above 0")


def _apply_flag(opts: Options, flag: str) -> None:
    if flag == "H":
        opts.no_machine = True
    elif flag == "X":
        opts.make_executable = True
    elif flag == "f":
        opts.full = True
    elif flag == "q":
        opts.quiet = True
    elif flag in "tzZ":
        sys.stderr.write(
            "pegasus-kickstart: -%s (process tracing) is not supported; ignored\n" % flag
        )
    # -c (CDATA) and -F have no effect in YAML records


def write_record(text: str, record_file: str | None) -> None:
    """Append to -l's file in one write, so concurrent writers do not interleave records."""
    data = text.encode("utf-8", "surrogateescape")
    if record_file is None:
        sys.stdout.flush()
        fd = 1
    else:
        fd = os.open(record_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        if fd != 1:
            os.close(fd)


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        opts, job_argv, version = parse_args(args)
    except UsageError as exc:
        if str(exc):
            sys.stderr.write("pegasus-kickstart: %s\n" % exc)
        sys.stderr.write(USAGE)
        return exc.exitcode
    if version:
        sys.stdout.write("%s\n" % __version__)
        return 0
    opts.log = _log
    inv = run(job_argv, opts)
    if inv.error is not None:
        sys.stderr.write("pegasus-kickstart: %s\n" % inv.error)
    for job in inv.jobs:
        if job.result.errno is not None:
            reason = os.strerror(job.result.errno)
            sys.stderr.write(
                "pegasus-kickstart: cannot execute %s: %s\n" % (job.executable, reason)
            )
    try:
        write_record(inv.record, opts.record_file)
    except OSError as exc:
        sys.stderr.write("pegasus-kickstart: cannot write the record: %s\n" % exc.strerror)
        return 1 if inv.exitcode == 0 else inv.exitcode
    return inv.exitcode


__all__ = ["KickstartError", "main", "parse_args"]
