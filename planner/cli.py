"""``pegasus-plan``: a Pegasus 5 workflow (YAML or DAX 3 XML) to a submit directory.

The flags mean what pegasus-plan's flags mean.  ``--submit`` runs the plan: on the local
engine when every compute site is ``local`` (or ``--engine local``), else through
``condor_submit_dag`` when HTCondor is installed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import subprocess
import sys
import time
import uuid as uuidlib

from .errors import PlanError

LOCAL = "local"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pegasus-plan",
        description="Plan a Pegasus 5 workflow (YAML, or DAX 3 XML) into a submit directory: "
        "one pegasus-lite job spec and one HTCondor .sub per job, a DAG, the worker bundle. "
        "--submit runs it (the local engine for --sites local, else condor_submit_dag).",
    )
    p.add_argument("workflow", help="the workflow file (workflow.yml or a .dax)")
    p.add_argument("--conf", help="the properties file (default: ./pegasus.properties)")
    p.add_argument(
        "-D", dest="defines", action="append", default=[], metavar="PROP=VALUE",
        help="set a property, overriding the properties file",
    )  # fmt: skip
    p.add_argument("-s", "--sites", help="compute sites, comma-separated (default: local)")
    p.add_argument("-o", "--output-sites", help="where the outputs go (default: local)")
    p.add_argument(
        "--staging-site", action="append", default=[], metavar="SITE=STAGING",
        help="the staging site of a compute site (nonsharedfs), or just STAGING for all",
    )  # fmt: skip
    p.add_argument("-d", "--dir", help="the base of the submit directory (default: .)")
    p.add_argument(
        "--relative-dir", help="the submit dir below --dir (default USER/pegasus/WF/runNNNN)"
    )
    p.add_argument("--output-dir", help="put the outputs in this directory (an output site)")
    p.add_argument(
        "--cleanup", choices=("none", "leaf", "inplace"), default=None,
        help="remove the workflow's scratch files: none, at the end (leaf), or as soon as "
        "no job needs them (inplace, the default)",
    )  # fmt: skip
    p.add_argument("-C", "--cluster", help="label and/or horizontal, comma-separated")
    p.add_argument(
        "-f", "--force", action="store_true",
        help="run every job even if its outputs are already in the replica catalog",
    )  # fmt: skip
    p.add_argument("--submit", "-S", action="store_true", help="run the plan once written")
    p.add_argument(
        "-j", "--jobs", type=int, default=None,
        help="jobs at a time on the local engine (default: the number of cores)",
    )  # fmt: skip
    p.add_argument("-v", "--verbose", action="count", default=0, help="say more (repeatable)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="say less")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _staging(values: list[str], sites: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        for part in _split(value):
            if "=" in part:
                site, staging = part.split("=", 1)
                mapping[site.strip()] = staging.strip()
            else:
                mapping.update({site: part for site in sites})
    return mapping


def _defines(values: list[str]) -> dict[str, str]:
    result = {}
    for value in values:
        if "=" not in value:
            raise PlanError("-D %s: expected PROPERTY=VALUE" % value)
        key, val = value.split("=", 1)
        result[key.strip()] = val.strip()
    return result


def _next_run_dir(base: str) -> str:
    """``runNNNN``, one above the highest already there, as pegasus-plan numbers them."""
    highest = 0
    if os.path.isdir(base):
        for name in os.listdir(base):
            if name.startswith("run") and name[3:].isascii() and name[3:].isdigit():
                highest = max(highest, int(name[3:]))
    return os.path.join(base, "run%04d" % (highest + 1))


def _stamp(now: float) -> str:
    """Pegasus's workflow timestamp, 20230303T222333-0800."""
    return time.strftime("%Y%m%dT%H%M%S%z", time.localtime(now))


class Say:
    def __init__(self, verbosity: int):
        self.verbosity = verbosity
        self.started = time.monotonic()

    def __call__(self, message: str, level: int = 0) -> None:
        if level <= self.verbosity:
            elapsed = time.monotonic() - self.started
            sys.stderr.write("[%6.1fs] %s\n" % (elapsed, message))
            sys.stderr.flush()


def plan_and_write(args: argparse.Namespace, say: Say) -> tuple:
    """Load, plan, write; returns (plan, submit_dir)."""
    from . import condor, discovery
    from .plan import PlanOptions, plan

    cwd = os.getcwd()
    env = dict(os.environ)
    say("reading %s" % args.workflow, 1)
    inputs = discovery.load_all(
        args.workflow,
        args.conf,
        cwd,
        env,
        overrides=_defines(args.defines),
        submit_dir=args.dir,
    )
    for warning in inputs.warnings:
        say("warning: %s" % warning, 1)
    workflow = inputs.workflow
    for kind, source in sorted(inputs.sources.items()):
        say("%s: %s" % (kind, source), 1)
    say("workflow %s: %d jobs" % (workflow.name, len(workflow.jobs)))

    user = getpass.getuser()
    base = os.path.abspath(args.dir or cwd)
    if args.relative_dir:
        relative = args.relative_dir
        submit_dir = os.path.join(base, relative)
    else:
        submit_dir = _next_run_dir(os.path.join(base, user, "pegasus", workflow.name))
        relative = os.path.relpath(submit_dir, base)
    if os.path.exists(submit_dir) and os.listdir(submit_dir):
        raise PlanError("submit directory %s exists and is not empty" % submit_dir)
    sites = _split(args.sites) or [LOCAL]
    output_sites = _split(args.output_sites) or [LOCAL]
    now = time.time()
    options = PlanOptions(
        sites=sites,
        output_sites=output_sites,
        staging_sites=_staging(args.staging_site, sites),
        submit_dir=submit_dir,
        relative_dir=relative,
        output_dir=os.path.abspath(args.output_dir) if args.output_dir else None,
        cleanup=args.cleanup,
        cluster=_split(args.cluster),
        force=args.force,
        user=user,
        timestamp=_stamp(now),
        uuid=str(uuidlib.uuid4()),
        environment=env,
        planner_arguments=" ".join(sys.argv[1:]),
        compact_specs=True,
        on_job=condor.Streamer(),
    )
    existed = os.path.isdir(submit_dir)
    try:
        executable = plan(inputs, options, progress=lambda m: say(m, 0))
    except PlanError:
        if options.on_job.started:  # the jobs streamed so far: no half-written submit dir
            _empty(submit_dir, keep=existed)
        raise
    del inputs, workflow  # the abstract workflow's memory is the writer's now
    for warning in getattr(executable, "warnings", []):
        sys.stderr.write("pegasus-plan: warning: %s\n" % warning)
    say("writing %d jobs to %s" % (len(executable.jobs), submit_dir))
    condor.write(
        executable, progress=lambda done, total: say("wrote %d of %d jobs" % (done, total), 1)
    )
    return executable, submit_dir


def _empty(directory: str, keep: bool) -> None:
    """Remove what planning wrote into ``directory`` (and the directory unless ``keep``)."""
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def submit(executable, submit_dir: str, args: argparse.Namespace, say: Say) -> int:
    if all(site == LOCAL for site in executable.sites):
        from .engine import run

        say("running on the local engine (pegasus-run %s resumes it)" % submit_dir)
        return run(submit_dir, jobs=args.jobs, verbose=args.verbose > 0)
    program = shutil.which("condor_submit_dag")
    if program is None:
        sys.stderr.write(
            "pegasus-plan: not submitted: condor_submit_dag is not installed here (HTCondor is "
            "needed for site %s). The plan is in %s; 'pegasus-run %s' runs it on this "
            "machine instead.\n" % (", ".join(executable.sites), submit_dir, submit_dir)
        )
        return 1
    dag = os.path.join(submit_dir, executable.dag_name + ".dag")
    return subprocess.call([program, "-force", os.path.basename(dag)], cwd=submit_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    say = Say(args.verbose - args.quiet)
    try:
        executable, submit_dir = plan_and_write(args, say)
    except PlanError as exc:
        if args.debug:
            raise
        sys.stderr.write("pegasus-plan: %s\n" % exc)
        return exc.exit_code
    except OSError as exc:
        if args.debug:
            raise
        where = " %s" % exc.filename if exc.filename else ""
        sys.stderr.write("pegasus-plan: cannot write%s: %s\n" % (where, exc.strerror))
        return 1
    print("Submit directory: %s" % submit_dir)
    if not args.submit:
        print("Run it with: pegasus-run %s" % submit_dir)
        sys.stdout.flush()
        sys.stderr.flush()
        # a million-job plan takes seconds to free object by object: the OS does it at once
        os._exit(0)
    return submit(executable, submit_dir, args, say)


if __name__ == "__main__":
    sys.exit(main())
