"""Synthetic Pegasus 5 workflows of any size, for the planner benchmark.

The files have the layout pegasus-wms.api writes (same keys, same order, same scalars), but
are written as plain text: the API needs minutes and gigabytes for a few 100k jobs, this
needs seconds.  Two shapes:

* ``independent``: every job reads the one shared input ``f.in`` and writes its own
  ``out_<i>`` (stageOut true), as Pegasus's own 014-planner-performance-100k test does
  (that test's jobs write nothing; ``outputs=False`` gives exactly that);
* ``chainfan``: a chain of stages, each fanning out from one file to ``fan`` jobs and back
  in to one job, so the depth grows with the number of jobs; every file between jobs is an
  intermediate file, only the last job's output is staged out.

Jobs run ``/usr/bin/touch <their outputs>`` (a no-op that still makes the files a job must
produce), or ``/bin/true`` when they have no outputs.  Beside the workflow: replicas.yml
(``f.in`` as a file:// URL under the directory), transformations.yml (installed on site
local), sites.yml (site local: sharedScratch and localStorage under the directory) and
pegasus.properties (condorio).

``python -m bench.wfgen --shape independent --jobs 100000 --dir DIR``
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

SHAPES = ("independent", "chainfan")
API_VERSION = "5.0.4"  # what pegasus-wms.api 5.x writes, whatever its own version
RAW_INPUT = "f.in"
FAN = 10
CHUNK = 4096  # jobs per write


class Generated:
    """What was written, so a caller can check the planner's output against it."""

    def __init__(self, directory: Path, name: str, shape: str):
        self.directory = directory
        self.name = name  # the workflow's name (its label in the submit dir)
        self.shape = shape
        self.jobs = 0
        self.edges = 0
        self.depth = 0  # levels, roots = 1
        self.stage_out = 0  # output files with stageOut true
        self.intermediate = 0  # files made by one job and read by another
        self.transformation = ""  # its pfn

    @property
    def workflow(self) -> Path:
        return self.directory / "workflow.yml"

    def __repr__(self) -> str:
        return "%s: %d jobs, %d edges, depth %d, %d staged out, %d intermediate files" % (
            self.workflow,
            self.jobs,
            self.edges,
            self.depth,
            self.stage_out,
            self.intermediate,
        )


# ---------------------------------------------------------------- YAML scalars

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./+-]*(:/[A-Za-z0-9_./+:-]*)?$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back as the same string (as the
    API's dumper writes paths and URLs), else a double-quoted (JSON) string."""
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _header(user: str, stamp: str) -> str:
    return "x-pegasus:\n  apiLang: python\n  createdBy: %s\n  createdOn: %s\npegasus: %s\n" % (
        scalar(user),
        stamp,
        API_VERSION,
    )


# ---------------------------------------------------------------- jobs


def _job(
    number: int, transformation: str, inputs: list[str], outputs: list[tuple[str, bool]]
) -> str:
    """One job as the API writes it: arguments = the outputs (touch) or ``-i f.in``."""
    lines = ["- type: job", "  name: %s" % transformation, "  id: ID%07d" % number]
    if outputs:
        lines.append("  arguments:")
        lines.extend("  - %s" % lfn for lfn, _ in outputs)
    elif inputs:
        lines.append("  arguments:\n  - -i\n  - %s" % inputs[0])
    else:
        lines.append("  arguments: []")
    if not inputs and not outputs:
        lines.append("  uses: []")
    else:
        lines.append("  uses:")
        lines.extend("  - lfn: %s\n    type: input" % lfn for lfn in inputs)
        for lfn, final in outputs:
            flag = "true" if final else "false"
            lines.append(
                "  - lfn: %s\n    type: output\n    stageOut: %s\n    registerReplica: %s"
                % (lfn, flag, flag)
            )
    return "\n".join(lines) + "\n"


def _independent(count: int, outputs: bool, info: Generated) -> Iterator[str]:
    name = "touch" if outputs else "noop"
    for i in range(count):
        produced = [("out_%d" % i, True)] if outputs else []
        yield _job(i + 1, name, [RAW_INPUT], produced)
    info.jobs = count
    info.depth = 1 if count else 0
    info.stage_out = count if outputs else 0


def chainfan_stages(count: int, fan: int) -> list[int]:
    """Fan-out widths of the stages after the first job: ``fan`` each, the last stage
    narrower so that the total is exactly ``count`` (each stage = its fan jobs + 1 join)."""
    if count < 1:
        return []
    rest = count - 1
    stages = [fan] * (rest // (fan + 1))
    if rest % (fan + 1):
        stages.append(rest % (fan + 1) - 1)
    return stages


def _chainfan(count: int, fan: int, info: Generated) -> Iterator[str]:
    """Job 1 reads f.in and writes c_0; stage s: jobs read c_s and write f_s_k, then one
    job reads them all and writes c_<s+1>; the last c_ is the workflow's output."""
    if count < 1:
        return
    stages = chainfan_stages(count, fan)
    number = 1
    yield _job(number, "touch", [RAW_INPUT], [("c_0", not stages)])
    depth = 1
    for s, width in enumerate(stages):
        last = s == len(stages) - 1
        fanned = ["f_%d_%d" % (s, k) for k in range(width)]
        for lfn in fanned:
            number += 1
            yield _job(number, "touch", ["c_%d" % s], [(lfn, False)])
        number += 1
        yield _job(number, "touch", fanned or ["c_%d" % s], [("c_%d" % (s + 1), last)])
        depth += 2 if width else 1
        info.edges += 2 * width if width else 1
        info.intermediate += width + 1
    info.jobs = number
    info.depth = depth
    info.stage_out = 1


def _dependencies(shape: str, count: int, fan: int) -> Iterator[str]:
    """``jobDependencies`` entries, one per parent, in job order (as the API writes them)."""
    if shape != "chainfan" or count < 2:
        return
    ids = "ID%07d"
    join = 1  # the job whose c_ file the next stage reads
    for width in chainfan_stages(count, fan):
        first = join + 1
        fanned = list(range(first, first + width))
        nxt = first + width
        children = fanned or [nxt]
        yield "- id: %s\n  children:\n%s\n" % (
            ids % join,
            "\n".join("  - " + ids % c for c in children),
        )
        for c in fanned:
            yield "- id: %s\n  children:\n  - %s\n" % (ids % c, ids % nxt)
        join = nxt


def _write_chunks(fh, parts: Iterator[str]) -> None:
    buffer: list[str] = []
    for part in parts:
        buffer.append(part)
        if len(buffer) >= CHUNK:
            fh.write("".join(buffer))
            buffer.clear()
    fh.write("".join(buffer))


# ---------------------------------------------------------------- catalogs


def _replicas(header: str, directory: Path) -> str:
    url = "file://%s" % (directory / "inputs" / RAW_INPUT)
    return header + "replicas:\n- lfn: %s\n  pfns:\n  - site: local\n    pfn: %s\n" % (
        RAW_INPUT,
        scalar(url),
    )


def _transformations(header: str, names: dict[str, str]) -> str:
    body = "".join(
        "- name: %s\n  sites:\n  - name: local\n    pfn: %s\n    type: installed\n"
        % (name, scalar(pfn))
        for name, pfn in names.items()
    )
    return header + "transformations:\n" + body


def _sites(header: str, directory: Path) -> str:
    lines = [header + "sites:", "- name: local", "  directories:"]
    for kind, sub in (("sharedScratch", "scratch"), ("localStorage", "outputs")):
        path = str(directory / sub)
        lines += [
            "  - type: %s" % kind,
            "    path: %s" % scalar(path),
            "    sharedFileSystem: false",
            "    fileServers:",
            "    - url: %s" % scalar("file://" + path),
            "      operation: all",
        ]
    return "\n".join(lines) + "\n"


PROPERTIES = """\
pegasus.data.configuration = condorio
pegasus.dir.storage.deep = false
pegasus.condor.logs.symlink = false

"""


def _touch() -> str:
    for candidate in ("/usr/bin/touch", "/bin/touch"):
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("touch") or "/usr/bin/touch"


# ---------------------------------------------------------------- the entry points


def generate(
    shape: str,
    jobs: int,
    directory: str | Path,
    fan: int = FAN,
    outputs: bool = True,
    name: str | None = None,
) -> Generated:
    """Write workflow.yml and its catalogs into ``directory`` (created); ``outputs=False``
    (independent only) gives jobs that write nothing and run /bin/true."""
    if shape not in SHAPES:
        raise ValueError("unknown shape %r (one of %s)" % (shape, ", ".join(SHAPES)))
    if jobs < 1:
        raise ValueError("a workflow needs at least one job")
    if fan < 1:
        raise ValueError("fan must be at least 1")
    if shape == "chainfan" and not outputs:
        raise ValueError("chainfan jobs pass files along: outputs=False makes no sense there")
    directory = Path(directory).resolve()
    (directory / "inputs").mkdir(parents=True, exist_ok=True)
    (directory / "inputs" / RAW_INPUT).write_text("the shared input\n")
    info = Generated(directory, name or "%s-%d" % (shape, jobs), shape)
    header = _header(getpass.getuser(), datetime.datetime.now().strftime("%m-%d-%yT%H:%M:%SZ"))
    if shape == "independent":
        job_text = _independent(jobs, outputs, info)
    else:
        job_text = _chainfan(jobs, fan, info)
    with open(info.workflow, "w") as fh:
        fh.write(header + "name: %s\njobs:\n" % scalar(info.name))
        _write_chunks(fh, job_text)
        deps = _dependencies(shape, jobs, fan)
        first = next(deps, None)
        if first is None:
            fh.write("jobDependencies: []\n")
        else:
            fh.write("jobDependencies:\n" + first)
            _write_chunks(fh, deps)
    pfn = _touch() if outputs else "/bin/true"
    info.transformation = pfn
    transformation = {"touch" if outputs else "noop": pfn}
    (directory / "replicas.yml").write_text(_replicas(header, directory))
    (directory / "transformations.yml").write_text(_transformations(header, transformation))
    (directory / "sites.yml").write_text(_sites(header, directory))
    (directory / "pegasus.properties").write_text(PROPERTIES)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.wfgen", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--shape", choices=SHAPES, required=True)
    parser.add_argument("--jobs", type=int, required=True, help="number of jobs")
    parser.add_argument("--dir", required=True, help="where to write (created)")
    parser.add_argument(
        "--fan", type=int, default=FAN, help="chainfan: jobs per stage (default %d)" % FAN
    )
    parser.add_argument(
        "--no-outputs",
        action="store_true",
        help="independent: jobs write nothing and run /bin/true (Pegasus's 014-100k test)",
    )
    parser.add_argument("--name", help="the workflow's name (default SHAPE-JOBS)")
    args = parser.parse_args(argv)
    try:
        info = generate(args.shape, args.jobs, args.dir, args.fan, not args.no_outputs, args.name)
    except (ValueError, OSError) as exc:
        sys.stderr.write("wfgen: %s\n" % exc)
        return 2
    print(repr(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
