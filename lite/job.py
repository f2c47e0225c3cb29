"""One job on the worker node, start to finish, in one process.

The sequence is PegasusLite's: pick a work dir, stage in (checksums verified as the bytes
arrive), run each task under kickstart (in-process), check the declared outputs, write the
``.meta`` of their checksums, stage out, clean up.  stdout carries the kickstart records
and the multipart blocks; stderr the log, ending with ``PegasusLite: exitcode N``.

Credentials the batch system brought (spec ``credentials``) are moved out of the start dir
into a private directory of the work dir before anything is staged, named to staging and
tasks by their environment variables, and deleted when the job ends, however it ends.

Exit code: the task's own; 71 when the wrapper itself failed (spec, work dir, staging,
integrity, container, a missing output, stage-out), as Pegasus does; 128+n for signal n.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
import time

import kickstart
from kickstart.statinfo import FileEntry, is_inside
from transfer.errors import BadInput

from . import staging, workdir
from .log import banner, log
from .spec import JobSpec, SpecError, load

WRAPPER_FAILED = 71
CREDENTIALS_DIR = ".pegasus.credentials"  # in the work dir, mode 0700
VERSION = "5.1.3"  # the PegasusLite behaviour we reproduce
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class JobFailed(Exception):
    """The wrapper could not do its part: exit 71 with this message."""


class Interrupted(BaseException):
    """TERM/INT/HUP arrived: stop now, clean up, exit 128+n."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def setup_transfer_log() -> None:
    """The transfer engine's messages in PegasusLite's log format, on stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    from transfer.urls import redact_record

    handler.addFilter(redact_record)
    logger = logging.getLogger("pegasus-transfer")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def _redacted(exc: BaseException) -> str:
    from transfer.urls import redact  # re costs start-up; only errors need it

    return redact(str(exc))


def _integrity():
    from transfer import integrity  # hashlib's OpenSSL loads in ~6 ms: only when needed

    return integrity


class Job:
    def __init__(
        self, spec_path: str, keep_workdir: bool = False, env: dict[str, str] | None = None
    ):
        self.spec_path = spec_path
        self.keep_workdir = keep_workdir
        self.env = dict(os.environ if env is None else env)
        self.start_dir = os.getcwd()
        self.spec: JobSpec | None = None
        self.workdir: str | None = None
        self.created_workdir = False
        self.stager: staging.Stager | None = None
        self.checksums: dict[str, str] = {}
        self.records: list[str] = []
        self.runtime = None  # containers.Runtime when the job runs in a container
        self.image: str | None = None  # what the runtime runs
        self.credential_env: dict[str, str] = {}  # variable -> installed credential file
        self.credential_files: list[str] = []  # to delete when the job ends
        self.output_roots: tuple = ()  # where outputs may lead: the work dir, linked inouts
        self.reported = False  # the multipart blocks were (being) printed: never twice
        self.stopping = False  # a signal came: in-flight transfers must end before cleanup

    # -------------------------------------------------------------- signals

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.stager is not None:
            self.stager.stop()
        raise Interrupted(signum)

    def _install_handlers(self) -> dict:
        previous = {}
        for signum in STOP_SIGNALS:
            try:
                previous[signum] = signal.signal(signum, self._on_signal)
            except (OSError, ValueError):
                pass
        return previous

    # -------------------------------------------------------------- the sequence

    def run(self) -> int:
        started = time.monotonic()
        setup_transfer_log()
        previous = self._install_handlers()
        code = 0
        try:
            # TERM/INT/HUP may be blocked until now (the local engine's forked child holds
            # them until these handlers are set): one that came meanwhile arrives here
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            log("Job launched in directory %s" % self.start_dir)
            log("PegasusLite: version %s (pegasus-lite %s)" % (VERSION, kickstart.__version__))
            code = self._sequence()
        except Interrupted as exc:
            name = signal.Signals(exc.signum).name.replace("SIG", "")
            log("Caught %s signal! Aborting..." % name)
            code = 128 + exc.signum
        except (SpecError, workdir.WorkDirError, JobFailed, BadInput) as exc:
            log("Error: %s" % _redacted(exc))
            code = WRAPPER_FAILED
        except OSError as exc:  # the node's trouble (a full disk): the wrapper failed
            log("Error: %s" % _redacted(_os_problem(exc)))
            code = WRAPPER_FAILED
        finally:
            try:
                self._finish()
            except Interrupted as exc:  # a signal during cleanup: still clean up
                name = signal.Signals(exc.signum).name.replace("SIG", "")
                log("Caught %s signal during cleanup; finishing it" % name)
                code = code or 128 + exc.signum
                self._finish()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            log("PegasusLite: runtime %d" % round(time.monotonic() - started))
            sys.stderr.write("PegasusLite: exitcode %d\n" % code)
            sys.stderr.flush()
        return code

    def _sequence(self) -> int:
        self.spec = spec = load(self.spec_path)
        banner("Setting up workdir")
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:  # a signal now must find the new work dir known, to remove it
            self.workdir = workdir.pick(self.env)
            self.created_workdir = True
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        log("Changing cwd to %s" % self.workdir)
        os.chdir(self.workdir)
        multipart = os.path.join(self.workdir, ".pegasus.multipart.d")
        os.makedirs(multipart, exist_ok=True)
        os.environ["PEGASUS_MULTIPART_DIR"] = multipart  # read by the transfer report
        self.env["PEGASUS_MULTIPART_DIR"] = multipart
        self._install_credentials()

        self.stager = staging.Stager(spec, self.env, meta_dir=self.start_dir)
        if spec.container is not None:
            self._prepare_container()
        banner("Staging in input data and executables")
        entries = [
            e for e in staging.stage_in_entries(spec, self.workdir) if e["lfn"] != self._image_lfn
        ]
        if not self.stager.run(entries):
            raise JobFailed("stage-in failed" + self.stager.why())
        self._condorio_inputs()
        if spec.checkpoints and not self.stager.run(
            staging.checkpoint_in_entries(spec, self.workdir)
        ):
            log("No checkpoint to restart from (that is normal on a first try)")
        self._set_executable_bits()
        self.output_roots = self._output_roots()

        banner("Executing the user task")
        code = 0
        for index, task in enumerate(spec.tasks):
            code = self._run_task(index, task)
            if code != 0:
                break
        if code == 0:
            self._check_outputs()
            self._write_meta()
            banner("Staging out output files")
            entries = staging.stage_out_entries(
                spec.outputs, self.workdir, self.checksums, self.output_roots
            )
            if not self.stager.run(entries):
                raise JobFailed(
                    "stage-out failed: the outputs did not all arrive" + self.stager.why()
                )
        else:
            log("The task failed with exit code %d: outputs are not staged out" % code)
            if workdir.is_full(self.workdir):
                log("The work dir %s is full (no space left on its file system): the likely "
                    "cause" % self.workdir)  # fmt: skip
        if spec.checkpoints:
            self.stager.run(
                staging.stage_out_entries(spec.checkpoints, self.workdir, {}, self.output_roots)
            )
        return code

    # -------------------------------------------------------------- credentials

    def _install_credentials(self) -> None:
        """Each credential file leaves the start dir for a private directory of the work dir
        (0600) and its variable points there, for staging and for the tasks."""
        if not self.spec.credentials:
            return
        directory = os.path.join(self.workdir, CREDENTIALS_DIR)
        os.mkdir(directory, 0o700)
        installed: dict[str, str] = {}
        for credential in self.spec.credentials:
            path = installed.get(credential.file)
            if path is None:
                path = installed[credential.file] = self._move_credential(credential, directory)
            self.credential_env[credential.env] = path
            self.env[credential.env] = path
            log("Credential %s: %s moved into the work dir" % (credential.env, credential.file))

    def _move_credential(self, credential, directory: str) -> str:
        origin = os.path.join(self.start_dir, credential.file)
        target = os.path.join(directory, credential.file)
        try:
            st = os.lstat(origin)
        except OSError:
            raise JobFailed(
                "credential %s: file %s is not in the start directory %s (the batch system "
                "did not bring it)" % (credential.env, credential.file, self.start_dir)
            ) from None
        self.credential_files.append(target)  # removed at the end, whatever happens next
        moved = False
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            try:
                os.rename(origin, target)
                moved = True
            except OSError:
                pass  # another file system: copy, then remove
        if not moved:
            # a symlink or a hard link: copy the content, leave the file it shares alone
            _copy_private(origin, target, credential)
        os.chmod(target, 0o600)
        if not moved:
            os.unlink(origin)
        return target

    def _remove_credentials(self) -> None:
        """At the end, whatever the outcome: the installed copies and any left in the start
        dir (a job that failed before installing them)."""
        paths = list(self.credential_files)
        if self.spec is not None:
            paths += [os.path.join(self.start_dir, c.file) for c in self.spec.credentials]
        removed = 0
        for path in paths:
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log("Cannot remove the credential file %s: %s" % (path, exc.strerror))
        self.credential_files = []
        if removed:
            log("Removed %d credential file%s" % (removed, "s" if removed > 1 else ""))

    # -------------------------------------------------------------- inputs

    def _brought(self, lfn: str) -> str:
        """Where HTCondor put an input: ``lfn`` in the start dir, or its base name there
        (transfer_input_files flattens a deep LFN like ``a/b/c.txt`` to ``c.txt``)."""
        for name in dict.fromkeys((lfn, os.path.basename(lfn))):
            origin = os.path.join(self.start_dir, name)
            if os.path.exists(origin):
                return origin
        raise JobFailed(
            "input %s was to be provided by the batch system, but is not in %s"
            % (lfn, self.start_dir)
        )

    def _condorio_inputs(self) -> None:
        """Inputs with no source were put in the start dir by HTCondor: use them in place,
        verified against the spec's sha256 or, without one, the parents' ``.meta`` files
        that came along."""
        from_meta: dict[str, str] | None = None
        for item in self.spec.inputs:
            if item.sources or item.lfn == self._image_lfn:
                continue
            target = os.path.join(self.workdir, item.lfn)
            origin = self._brought(item.lfn)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(origin, target)
            expected, where = item.sha256, "the job spec"
            if expected is None:
                if from_meta is None:
                    from_meta = _integrity().load_meta_dir(self.start_dir)
                expected, where = from_meta.get(item.lfn), "a .meta file"
            if expected:
                actual = _integrity().sha256_file(origin)
                if actual != expected:
                    raise JobFailed(
                        "input %s: sha256 %s, expected %s (from %s)"
                        % (item.lfn, actual, expected, where)
                    )

    def _set_executable_bits(self) -> None:
        for item in self.spec.inputs:
            if item.executable:
                path = os.path.join(self.workdir, item.lfn)
                mode = os.stat(path).st_mode
                if mode & 0o111 == 0o111:
                    continue
                if not (is_inside(path, self.workdir) or is_inside(path, self.start_dir)):
                    # a link to a shared original (sharedfs): the job must not change its
                    # mode, so it gets a private copy to make executable
                    _replace_with_copy(path)
                os.chmod(path, mode | 0o111)

    def _output_roots(self) -> tuple:
        """The work dir, and the originals of inputs linked in under an output's name: an
        inout file of a shared file system job is updated in place, through its link."""
        outputs = {f.lfn for f in self.spec.outputs}
        roots = [self.workdir]
        for item in self.spec.inputs:
            path = os.path.join(self.workdir, item.lfn)
            if item.lfn in outputs and os.path.islink(path):
                roots.append(os.path.realpath(path))
        return tuple(roots)

    def _metadata_section(self, task) -> dict:
        """The workflow's, the job's and the files' key-value metadata, for the record."""
        spec = self.spec
        files = {f.lfn: f.metadata for f in (*spec.inputs, *spec.outputs) if f.metadata}
        parts = (("workflow", spec.metadata), ("job", task.metadata), ("files", files))
        section = {key: value for key, value in parts if value}
        return {"metadata": section} if section else {}

    def _run_task(self, index: int, task) -> int:
        spec = self.spec
        if task.executable_lfn:
            program = os.path.join(self.workdir, task.executable_lfn)
        else:
            program = task.executable_path
        options = kickstart.Options(
            transformation=task.transformation,
            derivation=task.id or spec.job_id,
            resource=spec.site,
            wf_label=spec.workflow_name,
            wf_stamp=spec.workflow_stamp,
            no_machine=index > 0,
            # entries, not "lfn=lfn" text: a name may hold '=' or start with '@'
            stat_before=[
                FileEntry.named(f.lfn, f.lfn, False)
                for f in spec.inputs
                if f.lfn != self._image_lfn
            ],
            stat_after=[FileEntry.named(f.lfn, f.lfn, True) for f in spec.outputs],
            stat_inside=self.output_roots,  # an output linking out of them is not read
            term_after=task.walltime,
            kill_after=min(30.0, max(1.0, (task.walltime or 0) * 0.05)),
            log=log,
        )
        metadata = self._metadata_section(task)
        if metadata:
            options.extra_sections = lambda: metadata
        for stream in ("stdin", "stdout", "stderr"):
            lfn = getattr(task, stream)
            if lfn:
                path = os.path.join(self.workdir, lfn)
                staged = stream == "stdin" and any(f.lfn == lfn for f in spec.inputs)
                if not staged and not is_inside(path, self.workdir):
                    # an earlier task left a link out of the work dir under that name
                    raise JobFailed(
                        "task %d: %s %s leads outside the work dir (to %s)"
                        % (index, stream, lfn, os.path.realpath(path))
                    )
                setattr(options, stream, kickstart.Stdio("file", path))
        try:
            if self.runtime is not None:
                inv = self._run_in_container(task, [program, *task.arguments], options)
            else:
                env = dict(self.env)
                env.update(task.environment)
                env.update(self.credential_env)
                inv = kickstart.run([program, *task.arguments], options, env=env)
        except Interrupted as exc:
            # stopped after the task ended (while its outputs were hashed): the task ran,
            # so its record is still printed
            stopped = getattr(exc, "invocation", None)
            if stopped is not None and stopped.record:
                sys.stdout.write(stopped.record)
                sys.stdout.flush()
            raise
        sys.stdout.write(inv.record)
        sys.stdout.flush()
        self.checksums.update(inv.checksums)
        if inv.job is not None and inv.job.signals:
            raise Interrupted(inv.job.signals[0])
        if inv.job is not None and inv.job.timed_out:
            log("The task ran past its walltime of %s s and was stopped" % task.walltime)
        code = inv.exitcode
        if inv.integrity_error:
            self._log_unhashable_outputs()
        problem = self._message_problem(task, inv.record)
        if problem is not None:
            log("The task counts as failed: %s" % problem)
            code = code or 1
        return code

    def _log_unhashable_outputs(self) -> None:
        for f in self.spec.outputs:
            kind = _file_kind(os.path.join(self.workdir, f.lfn))
            if kind not in (None, "regular file"):
                log("Output %s is a %s, not a regular file: it has no checksum, the task "
                    "counts as failed" % (f.lfn, kind))  # fmt: skip

    def _message_problem(self, task, record: str) -> str | None:
        """The task's success/failure message, looked for in its stdout and stderr: the
        captured tail the record carries (what pegasus-exitcode would see), or the named
        files; None when the messages say nothing against it."""
        if not task.success_message and not task.failure_message:
            return None
        from .exitcode import stream_data

        captured = stream_data(record)

        def present(message: str) -> bool:
            for stream in ("stdout", "stderr"):
                lfn = getattr(task, stream)
                if lfn:
                    if _file_contains(os.path.join(self.workdir, lfn), message):
                        return True
                elif message in captured.get(stream, ""):
                    return True
            return False

        if task.failure_message and present(task.failure_message):
            return "its output has the failure message %r" % task.failure_message
        if task.success_message and not present(task.success_message):
            return "its output lacks the success message %r" % task.success_message
        return None

    # -------------------------------------------------------------- containers

    @property
    def _image_lfn(self) -> str | None:
        """The container image file: staged by the runtime (only on a cache miss)."""
        container = self.spec.container if self.spec is not None else None
        return container.image_lfn if container is not None else None

    def _prepare_container(self) -> None:
        import containers

        container = self.spec.container
        banner("Setting up the container image")
        try:
            self.runtime = containers.get_runtime(container.runtime, self.env)
            self.image = self.runtime.prepare(container, self.workdir, log, fetch=self._fetch_image)
        except containers.ContainerError as exc:
            raise JobFailed("container: %s" % exc) from None

    def _fetch_image(self) -> None:
        """Stage the image file (a cache miss): through the transfer engine, its sha256
        verified as the bytes arrive, or from the start dir when HTCondor brought it."""
        container = self.spec.container
        lfn = container.image_lfn
        item = next((f for f in self.spec.inputs if f.lfn == lfn), None)
        expected = (item.sha256 if item is not None else None) or container.sha256
        target = os.path.join(self.workdir, lfn)
        if item is not None and item.sources:
            log("Staging in the container image %s" % lfn)
            dest = [{"url": staging.input_dest(item, target), "site_label": "local"}]
            entry = staging.entry(lfn, staging.urls(item.sources), dest, "input", expected)
            if not self.stager.run([entry]):
                raise JobFailed("stage-in of the container image %s failed" % lfn)
            return
        origin = os.path.join(self.start_dir, lfn)
        if not os.path.exists(origin):
            return  # not staged: the runtime pulls the image instead
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(origin, target)
        if expected:
            actual = _integrity().sha256_file(origin)
            if actual != expected:
                raise JobFailed(
                    "container file %s: sha256 %s, expected %s" % (lfn, actual, expected)
                )

    def _run_in_container(self, task, argv: list[str], options) -> kickstart.Invocation:
        """kickstart runs the runtime's command on the host; the task runs inside."""
        import containers
        from kickstart.argexpand import expand_arguments

        runtime = self.runtime
        env = {"HOME": self.workdir, "PEGASUS_MULTIPART_DIR": self.env["PEGASUS_MULTIPART_DIR"]}
        env.update(task.environment)
        env.update(self.credential_env)  # the work dir has the same path inside
        argv = expand_arguments(argv, env)  # $VAR means the container's variable
        options.expand_arguments = False
        name = runtime.new_name(self.spec.job_name or self.spec.job_id)
        try:
            cmd = runtime.command(self.image, argv, self.workdir, env, self.spec.container, name)
        except containers.ContainerError as exc:
            raise JobFailed("container: %s" % exc) from None
        metadata = options.extra_sections() if options.extra_sections is not None else {}
        options.extra_sections = lambda: {
            **metadata,
            "container": runtime.record_section(name, argv),
        }
        stopper = _Stopper(runtime, name, max(5.0, options.kill_after))
        options.on_signal = stopper
        try:
            return kickstart.run(cmd, options, env=runtime.host_env(env, self.env))
        finally:
            stopper.cancel()
            # a second signal now must not leave the container behind: it waits until
            # the container is gone, then arrives
            held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                runtime.cleanup(name)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def _check_outputs(self) -> None:
        missing = [
            f.lfn for f in self.spec.outputs
            if not f.optional and not os.path.exists(os.path.join(self.workdir, f.lfn))
        ]  # fmt: skip
        if missing:
            raise JobFailed(
                "declared output%s missing: %s"
                % ("s" if len(missing) > 1 else "", ", ".join(missing))
            )
        for f in self.spec.outputs:
            path = os.path.join(self.workdir, f.lfn)
            if os.path.lexists(path) and not any(is_inside(path, r) for r in self.output_roots):
                raise JobFailed(
                    "output %s leads outside the work dir (to %s): a task's outputs must be "
                    "files of its work dir; not staged out" % (f.lfn, os.path.realpath(path))
                )

    def _write_meta(self) -> None:
        """``<job>.meta`` in the start dir: the outputs' checksums, for the children to verify."""
        entries = [
            _integrity().meta_entry(
                f.lfn, self.checksums[f.lfn], 0.0, os.path.join(self.workdir, f.lfn)
            )
            for f in self.spec.outputs
            if f.lfn in self.checksums
        ]
        if entries:
            name = (self.spec.job_name or self.spec.job_id or "job") + ".meta"
            path = os.path.join(self.start_dir, name)
            try:
                _integrity().write_meta(path, entries)
            except OSError as exc:
                exc.filename = path  # not the temporary name it was written under
                raise JobFailed(_os_problem(exc)) from None

    def _finish(self) -> None:
        """Multipart blocks to stdout, then the work dir goes (unless kept)."""
        if self.runtime is not None:
            self.runtime.close()
        self._remove_credentials()
        if self.workdir is None:
            return
        if self.stopping:
            self.stopping = False  # once, even if another signal cuts the wait short
            _let_transfers_end()
            if "transfer.streams" in sys.modules:  # a destination's partial files go too
                sys.modules["transfer.streams"].remove_partials()
        # a signal that stopped the first pass here (a full stdout pipe, a FIFO a task left
        # in the multipart dir) must not block the second: it goes straight to the removal
        reporting, self.reported = not self.reported, True
        report = self.stager.report if reporting and self.stager is not None else None
        if report and report.attempts:
            report.write_multipart()
            report.attempts = []
        multipart = os.path.join(self.workdir, ".pegasus.multipart.d")
        if reporting and os.path.isdir(multipart):
            for name in sorted(os.listdir(multipart)):
                block = _multipart_block(os.path.join(multipart, name))
                if block is not None:
                    sys.stdout.write("\n---------------pegasus-multipart\n" + block)
            sys.stdout.flush()
        os.chdir(self.start_dir)
        if self.created_workdir and not self.keep_workdir:
            workdir.remove(self.workdir)
        elif self.created_workdir:
            log("Keeping the work directory %s" % self.workdir)
        self.workdir = None


TRANSFER_GRACE = 3.0  # seconds a stopped job waits for its in-flight transfers


def _let_transfers_end() -> None:
    """After a stop: transfers in flight (they start nothing new) get a moment to end, so
    none writes into the work dir while it is removed; any still blocked (a stalled server)
    is silenced, so nothing follows the 'PegasusLite: exitcode' line."""
    import logging
    import threading

    deadline = time.monotonic() + TRANSFER_GRACE
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        try:
            thread.join(max(0.0, deadline - time.monotonic()))
        except RuntimeError:  # one being started as the signal came: it starts nothing
            pass
    logging.getLogger("pegasus-transfer").disabled = True


def _file_kind(path: str) -> str | None:
    """'regular file', 'FIFO', 'directory'...; None when nothing is there."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")):  # fmt: skip
        if test(mode):
            return kind
    return "device"


MULTIPART_LIMIT = 16 << 20  # a block is a few lines of YAML; more is not a report


def _multipart_block(path: str) -> str | None:
    """A task's multipart file, or None (with a log line) when it is no regular file of a
    sensible size: a FIFO would block the end of the job forever."""
    name = os.path.basename(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        why = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        log("Multipart file %s skipped: %s" % (name, why))
        return None
    with open(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MULTIPART_LIMIT:
            why = "not a regular file" if not stat.S_ISREG(st.st_mode) else "too large"
            log("Multipart file %s skipped: %s" % (name, why))
            return None
        return fh.read(MULTIPART_LIMIT).decode("utf-8", errors="replace")


def _os_problem(exc: OSError) -> str:
    """One line for an OSError the wrapper did not expect: what, where, why."""
    where = exc.filename or "the job's files"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on device: cannot write %s (%s)" % (where, exc.strerror)
    return "%s: %s" % (where, exc.strerror or exc)


def _replace_with_copy(link: str) -> None:
    """The file a link points to, copied in place of the link (atomically)."""
    import shutil

    tmp = "%s.copy-%s" % (link, os.urandom(3).hex())
    try:
        shutil.copyfile(link, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise JobFailed("cannot make a private copy of %s: %s" % (link, exc.strerror)) from None


def _copy_private(origin: str, target: str, credential) -> None:
    """Copy a credential (following a symlink) into a new 0600 file."""
    try:
        with open(origin, "rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise JobFailed(
                    "credential %s: %s in the start directory is not a regular file"
                    % (credential.env, credential.file)
                )
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as dst:
                while True:
                    block = src.read(1 << 16)
                    if not block:
                        break
                    dst.write(block)
    except OSError as exc:
        raise JobFailed(
            "credential %s: cannot copy %s into the work dir: %s"
            % (credential.env, credential.file, exc.strerror)
        ) from None


def _file_contains(path: str, needle: str) -> bool:
    """``needle`` in the file, read in blocks (a message may span two of them)."""
    wanted = needle.encode("utf-8", "surrogateescape")
    if not wanted:
        return True
    keep = len(wanted) - 1
    tail = b""
    try:
        with open(path, "rb") as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    return False
                data = tail + block
                if wanted in data:
                    return True
                tail = data[-keep:] if keep else b""
    except OSError:
        return False


class _Stopper:
    """A signal reached the container's process (kickstart forwarded it): if the container
    has not ended ``grace`` seconds later, kill it and the runtime's process."""

    def __init__(self, runtime, name: str, grace: float):
        self.runtime = runtime
        self.name = name
        self.grace = grace
        self.timer = None  # threading.Timer, once a signal came

    def __call__(self, signum: int, pgid: int) -> None:
        if self.timer is not None:
            return
        import threading

        self.timer = threading.Timer(self.grace, self._kill, (pgid,))
        self.timer.daemon = True
        self.timer.start()

    def _kill(self, pgid: int) -> None:
        log("The container %s did not stop within %g s of the signal: killing it"
            % (self.name, self.grace))  # fmt: skip
        self.runtime.stop(self.name)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
