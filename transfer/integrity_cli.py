"""``pegasus-integrity``: sha256 generation and verification, drop-in for Pegasus 5.1.3's.

Exactly one mode: ``--generate F`` (``<sha256>  <file>`` lines), ``--generate-yaml F`` and
``--generate-fullstat-yaml F`` (kickstart YAML; the latter is appended to
``$KICKSTART_INTEGRITY_DATA`` when that is set), ``--generate-xmls F`` and
``--generate-fullstat-xmls F`` (accepted, do nothing), or ``--verify F|stdin`` (against every
``*.meta`` in the current directory; with ``--print-timings`` the attempts and a summary go to
``$PEGASUS_MULTIPART_DIR/<epoch>-integrity`` for kickstart's record).  ``F`` is a list of
``[lfn=]pfn`` separated by ``;;;``.  Exit 0 when everything was hashed (and matched), else 1.

The same messages, output formats and exit codes as the original, with these differences
(none changes the outcome for a list Pegasus writes):

* the hash is computed in this process with hashlib, not by an openssl or sha256sum process per
  file, so neither needs to be installed;
* diagnostics (``Integrity check: ...``) go to stderr and results to stdout (the original
  printed both on stdout; PegasusLite sends both to the job's .err anyway);
* one line per problem: a missing file is reported once, not also as a mismatch with "None";
* the generate modes hash every file and then exit 1 if any failed, instead of stopping at the
  first failure;
* the older ``:`` separator of Pegasus 5.0/5.1.0/5.1.1 planners is accepted when the list has no
  ``;;;`` and the whole string names no file and no checksum, but one of its pieces does;
  likewise ``a=b`` is taken as a file name when ``b`` does not exist but ``a=b`` does;
* empty items are skipped (an empty list verifies nothing and exits 0), and stdin may hold one
  list per line;
* names are escaped, so the YAML always parses; a missing lfn defaults to the pfn (the
  original wrote ``"None"``); a user or group that cannot be looked up is left out;
* the multipart file is written whole at the end and never overwrites one written by an earlier
  run in the same second (that one is kept and ours becomes ``<epoch>-integrity-2``);
* ``--print-timings`` without ``$PEGASUS_MULTIPART_DIR`` prints the summary as a log line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from . import integrity

SEPARATOR = ";;;"
OLD_SEPARATOR = ":"  # Pegasus planners before 5.1.2 (commit 5beae2a)

log = logging.getLogger("pegasus-integrity")

# (dest, flag, help) in the original's order; every one takes a file list.
MODES = (
    ("generate_files", "--generate", "Generate a SHA256 hash for a set of files"),
    (
        "generate_yaml",
        "--generate-yaml",
        "Generate hashes for the given file, output to kickstart yaml.",
    ),
    (
        "generate_fullstat_yaml",
        "--generate-fullstat-yaml",
        "Generate hashes for the given file, output to kickstart yaml "
        "(appended to $KICKSTART_INTEGRITY_DATA when that is set).",
    ),
    (
        "generate_xmls",
        "--generate-xmls",
        "Generate hashes for the given file, output to kickstart xml (accepted, does nothing).",
    ),
    (
        "generate_fullstat_xmls",
        "--generate-fullstat-xmls",
        "Generate hashes for the given file, output to kickstart xml (accepted, does nothing).",
    ),
    (
        "verify_files",
        "--verify",
        "Verify the hash for the given file (or the list on stdin: --verify=stdin) against "
        "every *.meta in the current directory.",
    ),
)


class _StderrHandler(logging.Handler):
    """One line per record on the current ``sys.stderr``, after flushing stdout so that the two
    streams stay in order when they are captured together."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _handler(fmt: str) -> logging.Handler:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(fmt))
    return handler


def _setup_logging(debug: bool) -> None:
    log.handlers[:] = [_handler("Integrity check: %(message)s")]
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    log.propagate = False
    for stream in (sys.stdout, sys.stderr):
        try:  # file names that are not UTF-8 are written as the bytes they are
            stream.reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError, OSError):
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pegasus-integrity",
        usage="%(prog)s [options]",
        description="Generate or verify sha256 checksums of files (drop-in for Pegasus's "
        "pegasus-integrity). A file list F is [lfn=]pfn items separated by ';;;'.",
    )
    for dest, flag, text in MODES:
        parser.add_argument(flag, dest=dest, metavar="F", help=text)
    parser.add_argument(
        "--print-timings",
        action="store_true",
        help="Display timing data after verifying files (written to "
        "$PEGASUS_MULTIPART_DIR/<epoch>-integrity when that is set)",
    )
    parser.add_argument("--debug", action="store_true", help="Enables debugging output.")
    return parser


# --- file lists -------------------------------------------------------------------------------


def _item(text: str) -> tuple[str | None, str]:
    """``[lfn=]pfn`` -> (lfn or None, pfn), split at the first ``=`` as the original does, unless
    only the whole text names an existing file."""
    if "=" in text:
        lfn, pfn = text.split("=", 1)
        if not os.path.exists(pfn) and os.path.exists(text):
            return None, text
        return (lfn or None), pfn
    return None, text


def _resolves(item: tuple[str | None, str], expected: dict[str, str] | None) -> bool:
    lfn, pfn = item
    if expected is not None and (lfn or pfn) in expected:
        return True
    return os.path.exists(pfn)


def split_list(text: str, expected: dict[str, str] | None = None) -> list[tuple[str | None, str]]:
    """The ``(lfn, pfn)`` items of one list.  ``expected`` (lfn -> sha256, when verifying) only
    helps to decide whether a list without ``;;;`` uses the older ``:`` separator."""
    if SEPARATOR in text:
        pieces = text.split(SEPARATOR)
    elif OLD_SEPARATOR in text and not _resolves(_item(text), expected):
        pieces = text.split(OLD_SEPARATOR)
        if not any(piece and _resolves(_item(piece), expected) for piece in pieces):
            pieces = [text]  # ambiguous: keep it whole, as the current planner means it
        else:
            log.debug("Using the older ':' separator for %s", text)
    else:
        pieces = [text]
    return [_item(piece) for piece in pieces if piece]


def _stdin_list(expected: dict[str, str] | None) -> list[tuple[str | None, str]] | None:
    """The lists on stdin, one per line (bytes decoded as file names are), or None after
    logging why they could not be read."""
    try:
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
        data = stream.read() if stream is not None else sys.stdin.read().encode()
    except (AttributeError, OSError, ValueError) as exc:
        log.error("Unable to read the file list from stdin: %s", exc)
        return None
    items: list[tuple[str | None, str]] = []
    for line in os.fsdecode(data).splitlines():
        line = line.strip()
        if line:
            items.extend(split_list(line, expected))
    return items


# --- hashing and output -----------------------------------------------------------------------


def _hash(pfn: str) -> str | None:
    """sha256 of ``pfn``, or None after logging why not (one line)."""
    if not os.path.exists(pfn):
        log.error("File %s does not exist", pfn)
        return None
    try:
        return integrity.sha256_file(pfn)
    except OSError as exc:
        log.error("Unable to determine sha256 of %s: %s", pfn, exc.strerror or exc)
        return None


def _out(text: str) -> None:
    sys.stdout.write(text)


def generate(mode: str, spec: str) -> int:
    target = None
    if mode == "generate_fullstat_yaml":
        target = os.environ.get("KICKSTART_INTEGRITY_DATA") or None
    rc = 0
    for lfn, pfn in split_list(spec):
        started = time.monotonic()
        sha256 = _hash(pfn)
        seconds = time.monotonic() - started
        if sha256 is None:
            rc = 1
            continue
        if mode == "generate_files":
            _out("%s  %s\n" % (sha256, pfn))
        elif mode == "generate_yaml":
            _out("      sha256: %s\n      checksum_timing: %.3f\n\n" % (sha256, seconds))
        else:
            try:
                block = integrity.fullstat_yaml(lfn or pfn, pfn, sha256, seconds)
            except OSError as exc:
                log.error("Unable to stat %s: %s", pfn, exc.strerror or exc)
                rc = 1
                continue
            if target is None:
                _out(block + "\n")
                continue
            try:
                with open(target, "a", encoding="utf-8") as fh:
                    fh.write(block)
            except OSError as exc:
                log.error(
                    "Unable to append to $KICKSTART_INTEGRITY_DATA (%s): %s",
                    target,
                    exc.strerror or exc,
                )
                rc = 1
    return rc


# --- verification -----------------------------------------------------------------------------


def load_expected(directory: str = ".") -> dict[str, str]:
    """lfn -> sha256 from every ``*.meta`` in ``directory`` (transfer.integrity.load_meta_dir),
    with its complaints about unreadable files shown as our log lines."""
    if log.isEnabledFor(logging.DEBUG):
        import glob

        for path in sorted(glob.glob(os.path.join(directory, "*.meta"))):
            log.debug("Loading metadata from %s", os.path.relpath(path, directory))
    shared = logging.getLogger(integrity.log.name)
    saved = shared.handlers[:], shared.propagate
    shared.handlers[:] = [_handler("%(message)s")]
    shared.propagate = False
    try:
        expected = integrity.load_meta_dir(directory)
    finally:
        shared.handlers[:], shared.propagate = saved
    log.debug("%d checksums in the meta data", len(expected))
    return expected


def _multipart_text(attempts: list, succeeded: int, failed: int, duration: float) -> str:
    from kickstart.yamlfmt import quoted

    lines = ["- integrity_verification_attempts:"]
    for lfn, pfn, sha256, ok, want in attempts:
        lines += [
            "  - lfn: %s" % quoted(lfn),
            "    pfn: %s" % quoted(pfn),
            "    sha256: %s" % sha256,  # None (as the original) when it could not be hashed
            "    success: %s" % ok,
        ]
        if not ok:
            lines.append("    sha256_expected: %s" % want)
    lines += [
        "- integrity_summary:",
        "    succeeded: %d" % succeeded,
        "    failed: %d" % failed,
        "    duration: %.3f" % duration,
    ]
    return "\n".join(lines) + "\n"


def write_multipart(directory: str, epoch: int, text: str) -> str | None:
    """``<directory>/<epoch>-integrity``, or ``-2``, ``-3``... when an earlier run in the same
    second already wrote that name.  Returns the path, or None after logging why not."""
    base = os.path.join(directory, "%d-integrity" % epoch)
    for n in range(1, 1000):
        path = base if n == 1 else "%s-%d" % (base, n)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            log.error("Unable to write stats to $PEGASUS_MULTIPART_DIR: %s", exc)
            return None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            log.error("Unable to write stats to $PEGASUS_MULTIPART_DIR: %s", exc)
            return None
        return path
    log.error("Unable to write stats to $PEGASUS_MULTIPART_DIR: too many files named %s*", base)
    return None


def verify(spec: str, print_timings: bool) -> int:
    epoch = int(time.time())
    expected = load_expected(".")
    items = _stdin_list(expected) if spec == "stdin" else split_list(spec, expected)
    if items is None:
        return 1

    attempts = []
    succeeded = failed = 0
    duration = 0.0
    rc = 0
    for lfn, pfn in items:
        started = time.monotonic()
        key = lfn or pfn
        want = expected.get(key)
        if want is None:
            # as the original: fails the run, but is neither an attempt nor counted as failed
            log.error("No checksum in the meta data for %s", key)
            rc = 1
            continue
        sha256 = _hash(pfn)
        seconds = time.monotonic() - started
        duration += seconds
        ok = sha256 == want
        attempts.append((key, pfn, sha256, ok, want))
        if ok:
            succeeded += 1
            log.debug("%s: checksum verified (%s) (timing: %.3f)", pfn, sha256, seconds)
            continue
        failed += 1
        rc = 1
        if sha256 is not None:
            log.error(
                "%s: Expected checksum (%s) does not match the calculated checksum (%s) "
                "(timing: %.3f)",
                pfn,
                want,
                sha256,
                seconds,
            )

    if print_timings:
        directory = os.environ.get("PEGASUS_MULTIPART_DIR")
        if directory:
            text = _multipart_text(attempts, succeeded, failed, duration)
            write_multipart(directory, epoch, text)
        else:
            log.info(
                "%d succeeded, %d failed, %.3f s (no $PEGASUS_MULTIPART_DIR for the details)",
                succeeded,
                failed,
                duration,
            )
    return rc


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        unknown = [arg for arg in extra if arg.startswith("-") and arg != "-"]
        if unknown:
            parser.error("no such option: %s" % unknown[0])
    except SystemExit as exc:  # --help (0) or a bad option (2), as optparse's exit codes
        return exc.code if isinstance(exc.code, int) else 0
    _setup_logging(args.debug)
    log.debug("Logger has been configured")
    if extra:
        log.warning("Ignoring extra arguments: %s", " ".join(extra))

    chosen = [dest for dest, _, _ in MODES if getattr(args, dest) is not None]
    if len(chosen) != 1:
        log.error("One, and only one, of --generate-* and --verify needs to be specified")
        parser.print_help(sys.stdout)
        return 1
    mode = chosen[0]
    spec = getattr(args, mode)
    try:
        if not spec or mode in ("generate_xmls", "generate_fullstat_xmls"):
            return 0  # as the original: an empty list, or an xml mode, does nothing
        if mode == "verify_files":
            return verify(spec, args.print_timings)
        return generate(mode, spec)
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
