"""pegasus-exitcode for our jobs: the DAG's POST script judges one attempt of a job.

A drop-in for Pegasus's ``pegasus-exitcode`` (same flags, same files), usable in-process
by the local engine through ``check()``.  The judgement follows Pegasus's order:

1. the ``.out`` must exist and end in ``.out``;
2. DAGMan's return code (``-r $RETURN``) must be 0;
3. with invocation checking on (the default; ``-I`` turns it off) the ``.out`` must not be
   empty: a PegasusLite job always prints at least one kickstart record;
4. no failure message (``-f``) anywhere in the ``.out`` or ``.err``;
5. every success message (``-s``, e.g. ``PegasusLite:+exitcode+0``) somewhere in them;
6. a ``[cluster-summary ...]`` record, when there is one, must report no failed task;
   otherwise every kickstart record's status must be ``raw: 0``, at least one record must
   be there, and no output checksum may have failed (``integrity_error:``).

Two deliberate differences from Pegasus's tool: a status counts only where a record puts
it (``status:`` then ``raw: N``), so a task that prints ``raw: 5`` cannot fail its job; and
a negative raw status (kickstart could not start the program) fails the job.  The ``.meta``
entries come from YAML records only (the old XML records are judged, not mined).

On the command line a ``+`` in a message stands for a space and ``\\+`` for a plus, as in
Pegasus; ``check()`` takes the messages as they are meant.

Rotation: Pegasus's tool renames ``job.out``/``job.err`` to the first free
``job.out.NNN``/``job.err.NNN`` before judging, and so does this one: every attempt of a
retried job keeps its own output, and the next attempt's ``job.out`` starts empty.
``-n`` judges in place.

On success, unless ``-N``: ``job.meta`` beside the ``.out`` (Pegasus's JSON list of
``{_id, _type, _attributes}``, one entry per output file of the kickstart records, with its
sha256) and, with ``-M``, the same entries appended to the workflow's cache file as
replica-catalog lines (``lfn @@PFN@@ key="value" ...``).  ``-l`` appends one JSON line per
judgement (Pegasus's keys: name, timestamp, exitcode, app_exitcode, retry, job_retry,
std_out, std_err).  ``-R`` and ``-U`` are accepted; ``-U`` (rewrite the submit file's
resource requests) has no effect here.
"""

from __future__ import annotations

import json
import os
import re
import sys

PROG = "pegasus-exitcode"

_STATUS = re.compile(r"^( *)status:\n\1  raw: (-?\d+)", re.MULTILINE)
_XML_STATUS = re.compile(r"<status\b[^>]*?\braw=\"(-?\d+)\"")
_XML_STATUS_OPEN = re.compile(r"<status\b")
_INTEGRITY_ERROR = re.compile(r"^ {2,6}integrity_error: ", re.MULTILINE)
_LITE_EXITCODE = re.compile(r"^PegasusLite: exitcode (\d+)\s*$", re.MULTILINE)
_SUMMARY_FIELD = re.compile(r"(\w+)=(\"[^\"]*\"|[^,\]\s]+)")
_ROTATED = re.compile(r"\.out\.\d{3}$")


class Verdict:
    """The judgement of one attempt.

    ``ok``: the attempt succeeded; ``reason``: one line saying why not (``success`` when
    it did); ``exitcode``: the job's own exit code as far as it is known (DAGMan's return
    code, else PegasusLite's ``exitcode N`` line, else the failing record's status);
    ``attempt_out``: the ``.out`` that was judged (``job.out.NNN`` after rotation), None
    when there was none; ``attempt``: NNN, None without rotation; ``outputs``: the
    ``.meta`` entries of the outputs (empty unless the attempt succeeded)."""

    __slots__ = ("attempt", "attempt_out", "exitcode", "ok", "outputs", "reason")

    def __init__(
        self,
        ok: bool,
        reason: str,
        exitcode: int,
        attempt_out: str | None,
        attempt: int | None = None,
        outputs: list[dict] | None = None,
    ):
        self.ok = ok
        self.reason = reason
        self.exitcode = exitcode
        self.attempt_out = attempt_out
        self.attempt = attempt
        self.outputs = outputs or []

    @property
    def attempt_err(self) -> str | None:
        """The ``.err`` beside ``attempt_out`` (it may not exist)."""
        return err_path(self.attempt_out) if self.attempt_out else None

    def __repr__(self) -> str:
        return "Verdict(ok=%r, reason=%r, exitcode=%r, attempt_out=%r)" % (
            self.ok,
            self.reason,
            self.exitcode,
            self.attempt_out,
        )


class _Failed(Exception):
    def __init__(self, reason: str, exitcode: int | None = None):
        super().__init__(reason)
        self.exitcode = exitcode


# ---------------------------------------------------------------------- reading records


_SIMPLE_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def unquote(value: str) -> str:
    """A record's scalar as text: double-quoted YAML unescaped, a bare one as it is."""
    if not value.startswith('"'):
        return value.rstrip()
    out = []
    i, n = 1, len(value)
    while i < n:
        char = value[i]
        if char == '"':
            break
        if char == "\\" and i + 1 < n:
            escape = value[i + 1]
            width = _HEX_ESCAPES.get(escape)
            if width:
                try:
                    out.append(chr(int(value[i + 2 : i + 2 + width], 16)))
                    i += 2 + width
                    continue
                except ValueError:
                    pass
            out.append(_SIMPLE_ESCAPES.get(escape, escape))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], start: int, header: str) -> tuple[str, int]:
    """A literal block (``|``, ``|-``, ``|+``) of ``data:`` at indent 8: (text, next line)."""
    body = []
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) >= 8):
        body.append(lines[i][8:] if lines[i].strip() else "")
        i += 1
    if header.startswith("|+"):
        return "\n".join(body) + "\n", i
    while body and not body[-1]:
        body.pop()
    text = "\n".join(body)
    return (text if header.startswith("|-") else text + "\n"), i


def file_entries(text: str) -> list[tuple[str, dict[str, str]]]:
    """Every entry of every record's ``files:`` section, in order: (name, attributes).

    Attribute values are unquoted text; a captured stream's ``data`` is its decoded text.
    Line-based on the record layout (entries at indent 4, attributes at 6, data deeper),
    so nothing a task printed can pose as an entry."""
    entries: list[tuple[str, dict[str, str]]] = []
    lines = text.split("\n")
    in_files = False
    attrs: dict[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= 2:
            in_files = line == "  files:"
            attrs = None
            continue
        if not in_files:
            continue
        if indent == 4 and line.endswith(":"):
            attrs = {}
            entries.append((unquote(line[4:-1]), attrs))
        elif indent == 6 and attrs is not None:
            key, _, value = line[6:].partition(":")
            value = value.strip()
            if key == "data" and value.startswith("|"):
                attrs[key], i = _block(lines, i, value)
            else:
                attrs[key] = unquote(value)
    return entries


def stream_data(record: str) -> dict[str, str]:
    """The task's captured ``stdout`` and ``stderr`` as a record carries them (the tail that
    kickstart kept), from the record text: no second read of the streams."""
    found: dict[str, str] = {}
    for name, attrs in file_entries(record):
        if name in ("stdout", "stderr") and "data" in attrs:
            found[name] = found.get(name, "") + attrs["data"]
    return found


def _timing(value: str) -> str:
    """As Pegasus's copy of the value: YAML's float, printed by Python (0.00 -> 0.0)."""
    try:
        return str(float(value))
    except ValueError:
        return value


def output_entries(text: str) -> list[dict]:
    """The ``.meta`` entries (Pegasus's format and attribute order) of the output files in
    the kickstart records of ``text``; a later record's entry for the same LFN wins."""
    found: dict[str, dict] = {}
    for name, attrs in file_entries(text):
        if attrs.get("output") not in ("True", "true"):
            continue
        attributes = {}
        for key in ("user", "size", "ctime"):
            if key in attrs:
                attributes[key] = attrs[key]
        if "sha256" in attrs:
            attributes["checksum.type"] = "sha256"
            attributes["checksum.value"] = attrs["sha256"]
            if "checksum_timing" in attrs:
                attributes["checksum.timing"] = _timing(attrs["checksum_timing"])
        found.pop(name, None)
        found[name] = {"_id": name, "_type": "file", "_attributes": attributes}
    return list(found.values())


def cache_lines(entries: list[dict]) -> str:
    """Replica-catalog lines for the workflow's cache file, as Pegasus appends them."""
    lines = []
    for entry in entries:
        attrs = entry["_attributes"]
        pfn = attrs.get("pfn") or "@@PFN@@"
        pairs = "".join(' %s="%s"' % (key, value) for key, value in attrs.items())
        lines.append("%s %s%s\n" % (entry["_id"], pfn, pairs))
    return "".join(lines)


# ---------------------------------------------------------------------- judging


def err_path(out_path: str) -> str:
    """``job.out`` -> ``job.err``, ``job.out.003`` -> ``job.err.003``."""
    head, sep, tail = out_path.rpartition(".out")
    return head + ".err" + tail if sep else out_path + ".err"


def unquote_message(message: str) -> str:
    """The command line's message syntax: ``+`` is a space, ``\\+`` a plus."""
    out = []
    i = 0
    while i < len(message):
        char = message[i]
        if char == "+":
            out.append(" ")
        elif char == "\\" and message[i + 1 : i + 2] == "+":
            out.append("+")
            i += 1
        else:
            out.append(char)
        i += 1
    return "".join(out)


def rotate_files(out_path: str) -> tuple[str, int | None]:
    """Rename ``job.out``/``job.err`` to the first free ``.NNN``: (new .out path, NNN)."""
    if _ROTATED.search(out_path):
        return out_path, None
    for number in range(1000):
        candidate = "%s.%03d" % (out_path, number)
        if not os.path.isfile(candidate):
            break
    else:
        raise _Failed("%s has been rotated 1000 times already" % out_path)
    os.rename(out_path, candidate)
    err = err_path(out_path)
    if os.path.isfile(err):
        os.rename(err, "%s.%03d" % (err, number))
    return candidate, number


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


def _number(text: str) -> int:
    """A status or exit code as a record writes it; more digits than any real one has are
    a garbled record (and int() refuses past 4300 of them): the largest 64-bit value."""
    digits = text.lstrip("-").lstrip("0")
    value = int(digits) if 0 < len(digits) <= 19 else (2**63 - 1 if digits else 0)
    return -value if text.startswith("-") else value


def _exit_of(raw: int) -> int:
    """A wait status as an exit code: the exit value, 128+n for signal n."""
    if raw < 0:
        return 127
    if raw & 0x7F:
        return 128 + (raw & 0x7F)
    return raw >> 8


def _cluster_summary(stdout: str) -> dict[str, str] | None:
    start = stdout.find("[cluster-summary")
    if start < 0:
        start = stdout.find("[seqexec-summary")  # the older name
    if start < 0:
        if "[cluster-task" in stdout:
            raise _Failed("the cluster-summary record is missing")
        return None
    end = stdout.find("]", start)
    if end < 0:
        raise _Failed("the cluster-summary record is cut short")
    return {k: v.strip('"') for k, v in _SUMMARY_FIELD.findall(stdout[start:end])}


def _check_summary(summary: dict[str, str]) -> None:
    def number(key: str) -> int | None:
        try:
            return int(summary[key])
        except (KeyError, ValueError):
            return None

    if summary.get("stat", "ok") != "ok":
        raise _Failed("cluster-summary stat=%s" % summary["stat"])
    failed = number("failed")
    if failed:
        raise _Failed("cluster-summary failed=%d: %d clustered task(s) failed" % (failed, failed))
    if number("submitted") == 0 or number("tasks") == 0:
        return
    if number("succeeded") == 0:
        raise _Failed("cluster-summary succeeded=0: no clustered task succeeded")


def _check_records(stdout: str) -> None:
    if _INTEGRITY_ERROR.search(stdout):
        raise _Failed("kickstart could not compute the checksum of an output (integrity_error)")
    raws = [_number(m.group(2)) for m in _STATUS.finditer(stdout)]
    xml_count = len(_XML_STATUS_OPEN.findall(stdout))
    xml_raws = [_number(m.group(1)) for m in _XML_STATUS.finditer(stdout)]
    if len(xml_raws) != xml_count:
        raise _Failed("a <status> element of the record has no valid raw attribute")
    for raw in raws + xml_raws:
        if raw != 0:
            code = _exit_of(raw)
            if raw > 0 and raw & 0x7F:
                what = "was killed by signal %d" % (raw & 0x7F)
            elif raw < 0:
                what = "did not start"
            else:
                what = "exited with %d" % code
            raise _Failed("the task %s (kickstart raw status %d)" % (what, raw), code)
    if not raws and not xml_raws:
        raise _Failed("no kickstart record in the job's stdout")


def _judge(
    stdout: str,
    stderr: str,
    returncode: int | None,
    success: list[str] | tuple,
    failure: list[str] | tuple,
    invocations: bool,
) -> None:
    if returncode is not None and returncode != 0:
        raise _Failed("the job's exit code was %d" % returncode, returncode)
    if invocations and not stdout:
        raise _Failed("the job's stdout is empty: no kickstart record")
    for message in failure:
        if message in stdout or message in stderr:
            raise _Failed("failure message %r found in the job's output" % message)
    for message in success:
        if message not in stdout and message not in stderr:
            raise _Failed("success message %r missing from the job's output" % message)
    summary = _cluster_summary(stdout)
    if summary is not None:
        _check_summary(summary)
    elif invocations:
        _check_records(stdout)


def _job_exitcode(returncode: int | None, stdout: str, stderr: str, failed: _Failed | None) -> int:
    if returncode:
        return returncode
    lite = _LITE_EXITCODE.findall(stderr) or _LITE_EXITCODE.findall(stdout)
    if lite:
        return _number(lite[-1])
    if failed is not None and failed.exitcode is not None:
        return failed.exitcode
    return returncode or 0


def _append(path: str, text: str) -> None:
    """One write with O_APPEND: concurrent POST scripts never interleave their lines."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def _meta_path(out_path: str) -> str:
    base = _ROTATED.sub("", out_path)
    if base.endswith(".out"):
        base = base[: -len(".out")]
    return base + ".meta"


def check(
    out_path: str,
    returncode: int | None = None,
    success: list[str] | tuple = (),
    failure: list[str] | tuple = (),
    integrity: bool = True,
    meta_cache: str | None = None,
    log: str | None = None,
    rotate: bool = True,
    invocations: bool = True,
    retry: int = 0,
) -> Verdict:
    """Judge one attempt of a job from its ``.out``/``.err`` (see the module docstring).

    ``returncode`` is DAGMan's ``$RETURN`` (None: not known); ``success``/``failure`` are
    the messages as meant (no ``+`` quoting); ``integrity`` writes ``job.meta`` (and the
    ``meta_cache`` lines) on success; ``log`` gets one JSON line; ``rotate`` renames the
    files to ``.NNN`` first; ``invocations`` off skips the record checks (``-I``)."""
    from datetime import datetime

    timestamp = datetime.now().isoformat()
    attempt_out: str | None = None
    attempt: int | None = None
    stdout = stderr = ""
    failed: _Failed | None = None
    outputs: list[dict] = []
    try:
        if not os.path.isfile(out_path):
            raise _Failed("%s does not exist" % out_path)
        if not (out_path.endswith(".out") or _ROTATED.search(out_path)):
            raise _Failed("%s does not look like a job's .out file" % out_path)
        attempt_out = out_path
        if rotate:
            attempt_out, attempt = rotate_files(out_path)
        stdout = _read(attempt_out)
        stderr = _read(err_path(attempt_out))
        _judge(stdout, stderr, returncode, success, failure, invocations)
        if integrity:
            outputs = output_entries(stdout)
            from transfer.integrity import write_meta

            write_meta(_meta_path(out_path), outputs)
            if meta_cache and outputs:
                _append(meta_cache, cache_lines(outputs))
    except _Failed as exc:
        failed = exc
    except OSError as exc:
        failed = _Failed("%s: %s" % (exc.filename or out_path, exc.strerror or exc))
    exitcode = _job_exitcode(returncode, stdout, stderr, failed)
    verdict = Verdict(
        failed is None,
        str(failed) if failed is not None else "success",
        exitcode,
        attempt_out,
        attempt,
        outputs if failed is None else [],
    )
    if log:
        line = {
            "name": out_path,
            "timestamp": timestamp,
            "exitcode": 0 if verdict.ok else 1,
            "app_exitcode": exitcode,
            "retry": attempt,
            "job_retry": retry,
            "std_out": "",
            "std_err": "" if verdict.ok else verdict.reason + "\n",
        }
        try:
            _append(log, json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            sys.stderr.write("%s: cannot append to %s: %s\n" % (PROG, log, exc.strerror))
    return verdict


# ---------------------------------------------------------------------- command line


def build_parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Judge one attempt of a job from its .out/.err (the DAG's POST script): "
        "exit 0 when it succeeded, 1 when it failed, with one line on stderr saying why. "
        "Renames job.out/job.err to job.out.NNN/job.err.NNN and, on success, writes "
        "job.meta with the outputs' checksums.",
    )
    parser.add_argument("outfile", help="the job's .out file (job.out)")
    parser.add_argument("-r", "--return", dest="status", type=int, metavar="R",
                        help="the job's return code as DAGMan reports it ($RETURN)")  # fmt: skip
    parser.add_argument("-R", "--retry", dest="job_retry", type=int, default=0,
                        help="DAGMan's retry number ($RETRY), for the log")  # fmt: skip
    parser.add_argument("-U", "--update-submit-file", action="store_true",
                        help="accepted for compatibility; has no effect")  # fmt: skip
    parser.add_argument("-n", "--no-rename", dest="rename", action="store_false",
                        help="judge job.out in place, do not rename it to job.out.NNN")  # fmt: skip
    parser.add_argument("-N", "--no-metadata", dest="metadata", action="store_false",
                        help="write no job.meta (integrity checking is off)")  # fmt: skip
    parser.add_argument("-I", "--no-invocations", dest="invocations", action="store_false",
                        help="do not require kickstart records in job.out")  # fmt: skip
    parser.add_argument("-f", "--failure-message", dest="failure", action="append", default=[],
                        help="the job failed if this text is in its stdout or stderr "
                        "('+' stands for a space, '\\+' for a plus); repeatable")  # fmt: skip
    parser.add_argument("-s", "--success-message", dest="success", action="append", default=[],
                        help="the job failed unless this text is in its stdout or stderr; "
                        "repeatable, all must be present")  # fmt: skip
    parser.add_argument("-l", "--log", help="append one JSON line per judgement to this file")
    parser.add_argument("-M", "--metadata-log", dest="meta_cache",
                        help="append the outputs' metadata to this cache file")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    verdict = check(
        args.outfile,
        args.status,
        success=[unquote_message(m) for m in args.success],
        failure=[unquote_message(m) for m in args.failure],
        integrity=args.metadata,
        meta_cache=args.meta_cache,
        log=args.log,
        rotate=args.rename,
        invocations=args.invocations,
        retry=args.job_retry,
    )
    if not verdict.ok:
        sys.stderr.write("%s: %s: %s\n" % (PROG, args.outfile, verdict.reason))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
