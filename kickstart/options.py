"""What a kickstart run is asked to do: the CLI flags as one object, usable from Python."""

from __future__ import annotations

DEFAULT_CAPTURE = 262144  # characters of stdout/stderr kept in the record, as the C tool


class Stdio:
    """Where one of the job's standard streams goes.

    ``kind`` is ``capture`` (a temporary file whose content goes into the record), ``share``
    (kickstart's own stream), or ``file`` (a named file, stat only).  ``append`` keeps what
    the file holds (``!name``); ``backup`` first renames an existing file to ``name.000``
    (the first free number up to 999) (``^name``).
    """

    __slots__ = ("append", "backup", "kind", "path")

    def __init__(
        self,
        kind: str = "capture",
        path: str | None = None,
        append: bool = False,
        backup: bool = False,
    ):
        self.kind = kind
        self.path = path
        self.append = append
        self.backup = backup

    @classmethod
    def parse(cls, value: str, default: Stdio) -> Stdio:
        """The C tool's syntax: ``-`` shares ours, ``!name`` appends, ``^name`` backs up;
        ``!^name`` and ``^!name`` append (the C tool backs up only what it truncates)."""
        if value == "-":
            return cls("share")
        prefix = ""
        while value[:1] in ("!", "^") and len(prefix) < 2:
            prefix, value = prefix + value[0], value[1:]
        if not value:
            return default
        append = "!" in prefix
        return cls("file", value, append=append, backup=prefix == "^")

    def __repr__(self) -> str:
        return "Stdio(%r, %r, append=%r, backup=%r)" % (
            self.kind,
            self.path,
            self.append,
            self.backup,
        )


class Options:
    """Every knob of a run; the defaults are the C tool's."""

    def __init__(self, **kwargs: object) -> None:
        self.transformation: str | None = None  # -n
        self.derivation: str | None = None  # -N
        self.resource: str | None = None  # -R
        self.wf_label: str | None = None  # -L
        self.wf_stamp: str | None = None  # -T
        self.no_machine = False  # -H
        self.stdin = Stdio("file", "/dev/null")  # -i
        self.stdout = Stdio("capture")  # -o
        self.stderr = Stdio("capture")  # -e
        self.record_file: str | None = None  # -l (None: stdout)
        self.stat_before: list[str] = []  # -S, raw specs (lfn=pfn, pfn, @file)
        self.stat_after: list[str] = []  # -s
        # library callers may give statinfo.FileEntry objects instead of strings in both;
        # stat_inside: a -s file whose real path leaves this directory (or these
        # directories and files) is not read
        self.stat_inside: str | tuple | None = None
        self.workdir: str | None = None  # -w / -W
        self.make_workdir = False  # -W
        self.make_executable = False  # -X
        self.capture_limit: int | None = DEFAULT_CAPTURE  # -B (None: all)
        self.full = False  # -f
        self.quiet = False  # -q
        self.term_after: float | None = None  # -k
        self.kill_after = 5.0  # -K
        self.forward_signals = True
        self.expand_arguments = True  # $VAR / ${VAR} in arguments, as the C tool
        self.log = None  # callable(str) for progress lines (timeouts); the CLI uses stderr
        # Hooks for callers that use kickstart as a library (pegasus-lite), all off by default:
        # extra_sections() runs as the record is rendered, after the job ended, and returns
        # a dict (rendered as YAML under the invocation) or ready record lines;
        # on_signal(signum, pgid) runs after a received signal was forwarded to the job.
        self.extra_sections = None
        self.on_signal = None
        for key, value in kwargs.items():
            if not hasattr(self, key):
                raise TypeError("unknown kickstart option %r" % key)
            setattr(self, key, value)
