"""``pegasus-transfer``: Pegasus's flags and input, our engine.

Exit 0 when every transfer succeeded, 1 otherwise, as Pegasus.  Logs go to stderr in
Pegasus's format; a bad request is one line naming the problem (``--debug`` adds the
traceback).  Called with ``-classad`` or ``-infile`` it is an HTCondor file transfer plugin
(``condor_plugin``), loaded only then.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .credentials import Credentials
from .engine import Engine
from .errors import BadInput
from .handlers.base import Context
from .inputs import parse
from .report import Report
from .urls import redact, redact_record

log = logging.getLogger("pegasus-transfer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pegasus-transfer",
        description="Copy files between URLs (file, symlink, moveto, http(s), webdav(s), "
        "scp/sftp, s3, gs, irods, go/globus, docker, shub/library/oras, gsiftp/srm/root/davs, "
        "osdf/stash/pelican, ftp). Reads Pegasus's JSON transfer list (or the v1 text "
        "format) from --file or stdin.",
    )
    parser.add_argument("-f", "--file", help="transfer list (default: standard input)")
    parser.add_argument(
        "-m", "--max-attempts", type=int, default=3, help="attempts per transfer (default 3)"
    )
    parser.add_argument(
        "-n",
        "--threads",
        type=int,
        default=0,
        help="parallel transfers (default $PEGASUS_TRANSFER_THREADS or 8)",
    )
    parser.add_argument(
        "-s",
        "--symlink",
        action="store_true",
        help="symlink file-to-file transfers instead of copying",
    )
    parser.add_argument("-d", "--debug", action="store_true", help="debug logging and tracebacks")
    parser.add_argument("--json-report", metavar="FILE", help="write every attempt to FILE as JSON")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None)
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    return parser


def setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)7s:  %(message)s"))
    handler.addFilter(redact_record)
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    log.propagate = False


def threads_from(args: argparse.Namespace, env: dict[str, str]) -> int:
    if args.threads and args.threads > 0:
        return args.threads
    try:
        return max(1, int(env.get("PEGASUS_TRANSFER_THREADS", "8")))
    except ValueError:
        return 8


def read_input(path: str | None) -> str:
    if path is None:
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode()
        where = "on standard input"
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise BadInput("cannot read the transfer list %s: %s" % (path, exc.strerror)) from None
        where = path
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            "the transfer list %s is not UTF-8 text (byte %d)" % (where, exc.start)
        ) from None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if "-classad" in words or "-infile" in words:  # HTCondor's starter: the plugin protocol
        from .condor_plugin import main as plugin_main

        return plugin_main(words)
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)
    env = dict(os.environ)
    env["PWD"] = os.getcwd()  # "$PWD" in the list means where we run, whatever the shell said
    try:
        entries = parse(read_input(args.file), env)
        context = Context(env, Credentials(env), threads_from(args, env), args.debug)
        report = Report(progress=args.progress)
        engine = Engine(
            context,
            max_attempts=args.max_attempts,
            threads=context.threads,
            symlink=args.symlink,
            report=report,
        )
        ok = engine.run(entries)
    except BadInput as exc:
        if args.debug:
            log.exception("pegasus-transfer failed")
        sys.stderr.write("pegasus-transfer: %s\n" % redact(str(exc)))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pegasus-transfer: interrupted\n")
        return 1
    report.summary(ok)
    if args.json_report:
        try:
            report.write_json(args.json_report, ok)
        except OSError as exc:
            sys.stderr.write(
                "pegasus-transfer: cannot write %s: %s\n" % (args.json_report, exc.strerror)
            )
            return 1
    return 0 if ok else 1
