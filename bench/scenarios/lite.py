"""pegasus-lite end to end beside a real PegasusLite job script; a container job's overhead.

Minimal job (issue 4): one 1 MiB input staged in from file:// with its sha256 checked, the
task ``/bin/sh -c 'echo ok > out.dat'`` (``/bin/true`` cannot make the output a job needs),
and that output staged out to file://.  Two ways, interleaved in the same rounds:

* ours: ``pegasus-lite job.json`` from the clean install of this checkout (bench_venv);
* the anchor: the same job as PegasusLite runs it: a ``<job>.sh`` generated here in the
  order of shared/anchors/worker.md 1.2, sourcing a ``pegasus-lite-common.sh`` written here
  from the description in 1.3 (Pegasus's own file is not shipped in any package we can
  install), calling the real ``pegasus-transfer`` and ``pegasus-integrity`` of
  ``pegasus-wms.worker==5.1.3`` (bench.install.pegasus_worker_venv) and Pegasus's C
  ``pegasus-kickstart`` when given (--anchor-kickstart or PEGASUS_KICKSTART_C), else ours.

Both start in a fresh HTCondor-like scratch directory with the same small environment, pick
their work dir in PEGASUS_WN_TMP (under bench/work/lite), and are checked after every run:
exit 0, last stderr line ``PegasusLite: exitcode 0``, the output at the destination with the
right sha256, the work dir gone.  Before the timed runs each is given a wrong expected
sha256 once and must fail, so integrity checking is known to be on.

Container job: the task ``/bin/true`` in the Docker test image (tests/servers/docker_engine),
``pegasus-lite job.json`` with a ``container`` section beside a bare
``docker run --rm IMAGE /bin/true``, plus ``docker run`` with exactly the flags ours passes,
to split the overhead between the flags and the wrapper.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.install import WORK, bench_venv, pegasus_worker_venv
from bench.runner import summary_rows, table, write_results

BASE = WORK / "lite"
MIB = 1 << 20
PEGASUS_VERSION = "5.1.3"
JOB_ID = "ID0000001"
JOB_NAME = "true_ID0000001"
WF_LABEL = "bench"
WF_UUID = "7b5f43a1-5d4c-4bd6-9d0e-4c1a51c2b0b4"
WF_STAMP = "2026-11-21T00:00:00+00:00"
TASK = ["/bin/sh", "-c", "echo ok > out.dat"]
TASK_TEXT = "/bin/sh -c 'echo ok > out.dat'"
OUTPUT_BYTES = b"ok\n"
MIN_SPACE_KIB = "1024"

OURS = "ours: pegasus-lite job.json"
ANCHOR = "PegasusLite 5.1.3 job script (real pegasus-transfer, pegasus-integrity)"
PY_START = "reference: bench venv python -c pass (interpreter start)"
PY_IMPORT = "reference: bench venv python -c 'import lite.job' (start + imports, no work)"
BARE = "bare: docker run --rm IMAGE /bin/true"
FLAGS = "docker run with ours' flags (--init, --user, --volume, --env, --cgroup-parent ...)"
OURS_CONTAINER = "ours: pegasus-lite job.json (container: docker, IMAGE, task /bin/true)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=30, help="measured runs of ours (default 30)")
    parser.add_argument(
        "--anchor-runs",
        type=int,
        default=5,
        help="measured runs of the PegasusLite script, which sleeps 2 s per pegasus-transfer "
        "call by design (default 5)",
    )
    parser.add_argument(
        "--container-runs", type=int, default=30, help="measured container runs (default 30)"
    )
    parser.add_argument(
        "--anchor-kickstart",
        default=os.environ.get("PEGASUS_KICKSTART_C"),
        help="Pegasus's C pegasus-kickstart for the PegasusLite script (default: ours)",
    )
    parser.add_argument("--no-anchor", action="store_true", help="leave the PegasusLite script out")
    parser.add_argument("--no-container", action="store_true", help="leave the container job out")


# ---------------------------------------------------------------- running one process


def spawn(argv: list[str], env: dict, cwd: Path, out: Path, err: Path) -> tuple[float, int]:
    """(seconds, exit code) of one run: started in ``cwd``, stdin /dev/null, stdout and
    stderr to files (as HTCondor's .out and .err)."""
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    here = os.getcwd()
    os.chdir(cwd)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, fd_in, 0),
                (os.POSIX_SPAWN_DUP2, fd_out, 1),
                (os.POSIX_SPAWN_DUP2, fd_err, 2),
            ],
        )
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        os.chdir(here)
        for fd in (fd_in, fd_out, fd_err):
            os.close(fd)
    return elapsed, os.waitstatus_to_exitcode(status)


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(text[-lines:]) or "(no output)"


def last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


class Case:
    """One way of running the job: a fresh start dir per run, a timed process, a check."""

    def __init__(
        self,
        name: str,
        root: Path,
        files: Callable[[], dict[str, str]],
        argv: list[str],
        env: dict,
        check: Callable[[Case, int], str | None],
    ):
        self.name, self.root, self.files, self.argv, self.env = name, root, files, argv, env
        self.check = check
        self.start = root / "start"
        self.out = root / "job.out"
        self.err = root / "job.err"
        self.samples: list[float] = []
        self.extra: list[float] = []  # per-run figures a case reports besides its time
        self.error: str | None = None

    def prepare(self) -> None:
        shutil.rmtree(self.start, ignore_errors=True)
        self.start.mkdir(parents=True)
        for name, text in self.files().items():
            path = self.start / name
            path.write_text(text)
            if name.endswith(".sh"):
                path.chmod(0o755)

    def once(self, record: bool = True) -> float | None:
        if self.error:
            return None
        self.prepare()
        elapsed, code = spawn(self.argv, self.env, self.start, self.out, self.err)
        problem = self.check(self, code)
        if problem:
            self.error = problem
            return None
        if record:
            self.samples.append(elapsed)
        return elapsed


# ---------------------------------------------------------------- the minimal job


def transfer_json(linkage: str, src: tuple[str, str], dest: tuple[str, str]) -> str:
    """One transfer as the planner writes it for pegasus-transfer (worker.md 1.4)."""
    return (
        "[\n"
        ' { "type": "transfer",\n'
        '   "linkage": "%s",\n'
        '   "lfn": "%s",\n'
        '   "id": 1,\n'
        '   "src_urls": [\n'
        '     { "site_label": "%s", "url": "%s", "checkpoint": "false" }\n'
        "   ],\n"
        '   "dest_urls": [\n'
        '     { "site_label": "%s", "url": "%s" }\n'
        "   ]\n"
        " }\n"
        "]"
    ) % (linkage, "in.dat" if linkage == "input" else "out.dat", *src, *dest)


def banner(message: str, prefix: str = "") -> str:
    """PegasusLite's 80-column banner, written into the script as a literal printf."""
    text = "%s %s" % (prefix, message)
    hashes = "#" * ((80 - len(text)) // 2 + 1)
    return 'printf "\\n%s%s %s\\n"  1>&2' % (hashes, text, hashes)


# Written from shared/anchors/worker.md 1.3 (functions, order, messages, exit handling of
# Pegasus 5.1.3's pegasus-lite-common.sh); branches the bench never takes are reduced to
# their checks.  Metrics are off (no network), as a site without outbound access has them.
COMMON_SH = r"""#!/bin/bash
# pegasus-lite-common.sh as bench/scenarios/lite.py writes it: the functions of Pegasus
# 5.1.3's file of that name, as shared/anchors/worker.md section 1.3 describes them.

if [ "x$PATH" = "x" ]; then
    export PATH=/usr/bin:/bin
fi
pegasus_lite_start_time=$(/bin/date +%s)
export pegasus_lite_start_dir=$(pwd)
if [ "x$_CONDOR_SCRATCH_DIR" = "x" ]; then
    export _CONDOR_SCRATCH_DIR=$pegasus_lite_start_dir
fi
pegasus_lite_default_system="x86_64_rhel_8"

function pegasus_lite_log()
{
    TS=$(/bin/date +'%F %H:%M:%S')
    echo "$TS: $1" 1>&2
}

function pegasus_lite_setup_log()
{
    if [ "X${pegasus_lite_log_file}" != "X" ]; then
        count="000"
        for count in $(seq -f "%03g" 0 999); do
            if [ ! -e ${pegasus_lite_log_file}.${count} ]; then
                break
            fi
        done
        pegasus_lite_log_file=${pegasus_lite_log_file}.${count}
        exec 1>&-
        exec 2>&-
        exec 2>$pegasus_lite_log_file
        exec 1>&2
    fi
}

function pegasus_lite_init()
{
    pegasus_lite_full_version=${pegasus_lite_version_major}.${pegasus_lite_version_minor}.${pegasus_lite_version_patch}
    pegasus_lite_setup_log
    pegasus_lite_log "Job launched in directory $pegasus_lite_start_dir"
    export PEGASUS_MULTIPART_DIR=$(pwd)/.pegasus.multipart.d
    mkdir -p $PEGASUS_MULTIPART_DIR

    if [ "x$pegasus_lite_inside_container" != "xtrue" ]; then
        pegasus_lite_log "PegasusLite: version ${pegasus_lite_full_version}"
        out="Executing on"
        if hostname -f >/dev/null 2>&1; then
            out="$out host $(hostname -f)"
        fi
        ip=$( (hostname -I | awk '{print $1}') 2>/dev/null || true)
        out="$out IP=$ip"
        if [ "x$OSG_SITE_NAME" != "x" ]; then
            out="$out OSG_SITE_NAME=${OSG_SITE_NAME}"
        fi
        if [ "x$GLIDEIN_Site" != "x" ]; then
            out="$out GLIDEIN_Site=${GLIDEIN_Site}"
        fi
        if [ "x$GLIDEIN_ResourceName" != "x" ]; then
            out="$out GLIDEIN_ResourceName=${GLIDEIN_ResourceName}"
        fi
        pegasus_lite_log "$out"
        # pegasus_metrics=true would ask https://location.scitech.group/v1/ here
    fi

    # staged credentials: absolute paths, mode 0600
    for base in PEGASUS_CREDENTIALS X509_USER_PROXY S3CFG BOTO_CONFIG SSH_PRIVATE_KEY \
                IRODS_ENVIRONMENT_FILE GOOGLE_PKCS12; do
        for key in $( (env | grep -i "^$base" | sed 's/=.*//') 2>/dev/null); do
            eval val="\$$key"
            if ! (echo "$val" | grep "^/") >/dev/null 2>&1; then
                eval $key=$(pwd)/"$val"
                eval val="\$$key"
                pegasus_lite_log "Expanded \$$key to $val"
            elif [ ! -e "$val" ]; then
                eval $key=$(pwd)/$(basename "$val")
                eval val="\$$key"
            fi
            if [ -e "$val" ]; then
                chmod 0600 "$val"
            fi
        done
    done
}

function pegasus_lite_setup_work_dir()
{
    found_lof=""
    found_meta=""
    if ls $pegasus_lite_start_dir/*.lof >/dev/null 2>&1; then
        found_lof="true"
    fi
    if ls $pegasus_lite_start_dir/*.meta >/dev/null 2>&1; then
        found_meta="true"
    fi

    if [ "x$pegasus_lite_work_dir" != "x" ]; then
        pegasus_lite_log \
            "Not creating a new work directory as it is already set to $pegasus_lite_work_dir"
        return
    fi

    targets="$PEGASUS_WN_TMP $_CONDOR_SCRATCH_DIR $OSG_WN_TMP $TG_NODE_SCRATCH"
    targets="$targets $TG_CLUSTER_SCRATCH $SCRATCH $TMPDIR $TMP /tmp"
    unset TMPDIR
    if [ "x$PEGASUS_WN_TMP_MIN_SPACE" = "x" ]; then
        PEGASUS_WN_TMP_MIN_SPACE=1000000
    fi

    for d in $targets; do
        pegasus_lite_log "Checking $d for potential use as work space... "
        if [ ! -e $d ]; then
            pegasus_lite_log "  Workdir: $d does not exist"
            continue
        fi
        cd $d
        free=$(df -kP . | awk '{if (NR==2) print $4}')
        free_human=$(df --si . | awk '{if (NR==2) print $4}')
        if [ "x$free" = "x" -o $free -lt $PEGASUS_WN_TMP_MIN_SPACE ]; then
            pegasus_lite_log "  Workdir: not enough disk space available in $d"
            continue
        fi
        if touch $d/.dirtest.$$ >/dev/null 2>&1; then
            rm -f $d/.dirtest.$$ >/dev/null 2>&1
            d=$(mktemp -d $d/pegasus.XXXXXXXXX)
            export pegasus_lite_work_dir=$d
            export pegasus_lite_work_dir_created=1
            pegasus_lite_log "  Workdir is $d - $free_human available"
            pegasus_lite_log "Changing cwd to $pegasus_lite_work_dir"
            cd $pegasus_lite_work_dir
            if [ "x$found_lof" != "x" ]; then
                pegasus_lite_log \
                    "Copying lof files from $pegasus_lite_start_dir to $pegasus_lite_work_dir"
                cp $pegasus_lite_start_dir/*.lof $pegasus_lite_work_dir/
            fi
            if [ "x$found_meta" != "x" ]; then
                pegasus_lite_log \
                    "Copying meta files from $pegasus_lite_start_dir to $pegasus_lite_work_dir"
                cp $pegasus_lite_start_dir/*.meta $pegasus_lite_work_dir/
            fi
            return 0
        fi
        pegasus_lite_log "  Workdir: not allowed to write to $d"
    done
    return 1
}

function pegasus_lite_worker_package()
{
    if pegasus_lite_internal_wp_shipped || pegasus_lite_internal_wp_untarred || \
       pegasus_lite_internal_wp_in_env || pegasus_lite_internal_wp_download; then
        return 0
    fi
    return 1
}

function pegasus_lite_internal_wp_shipped()
{
    if ls $pegasus_lite_start_dir/pegasus-worker-*.tar.gz >/dev/null 2>&1; then
        pegasus_lite_log "The job contained a Pegasus worker package (the bench ships none)"
    fi
    return 1
}

function pegasus_lite_internal_wp_untarred()
{
    pegasus_lite_log "Checking for untar worker package in $pegasus_lite_start_dir"
    pattern='pegasus-[0-9]+\.[0-9]+\.[0-9]+[a-zA-Z0-9]*-'
    for dir in $( (ls -d $pegasus_lite_start_dir/* | grep -E "$pattern") 2>/dev/null); do
        if [ -d "$dir" ] && "$dir/bin/pegasus-kickstart" true >/dev/null 2>&1; then
            pegasus_lite_log \
                "The job contained a Pegasus worker package that was already untarred in $dir"
            export PATH=$dir/bin:$PATH
            return 0
        fi
    done
    return 1
}

function pegasus_lite_internal_wp_in_env()
{
    old_path=$PATH
    if [ "x$PEGASUS_HOME" != "x" ]; then
        PATH="$PEGASUS_HOME/bin:$PATH"
        export PATH
    fi
    detected_pegasus_bin=$(which pegasus-config 2>/dev/null || /bin/true)
    if [ "x$detected_pegasus_bin" != "x" ]; then
        detected_pegasus_bin=$(dirname $detected_pegasus_bin)
        wanted="${pegasus_lite_version_major}\.${pegasus_lite_version_minor}"
        wanted="${wanted}\.${pegasus_lite_version_patch}\$"
        if $detected_pegasus_bin/pegasus-config --version 2>/dev/null \
                | grep -E "$wanted" >/dev/null 2>/dev/null; then
            pegasus_lite_log "Using existing Pegasus binaries in $detected_pegasus_bin"
            return 0
        else
            pegasus_lite_log "Warning: Pegasus binaries in $detected_pegasus_bin do not match \
Pegasus version used for current workflow"
        fi
    fi
    unset PEGASUS_HOME
    PATH=$old_path
    export PATH
    return 1
}

function pegasus_lite_internal_wp_download()
{
    if [ "X$pegasus_lite_version_allow_wp_auto_download" != "Xtrue" ]; then
        pegasus_lite_log "Not downloading a worker package because \
pegasus.transfer.worker.package.autodownload=$pegasus_lite_version_allow_wp_auto_download"
        return 1
    fi
    pegasus_lite_log "The bench never downloads a worker package"
    return 1
}

function pegasus_lite_section_start()
{
    eval pegasus_lite_section_${1}_start=$(/bin/date +%s)
}

function pegasus_lite_section_end()
{
    start_var="pegasus_lite_section_${1}_start"
    end=$(/bin/date +%s)
    eval pegasus_lite_section_${1}_duration=$(( end - ${!start_var} ))
}

function pegasus_include_multipart()
{
    if [ -d "$PEGASUS_MULTIPART_DIR" ]; then
        for entry in $(ls $PEGASUS_MULTIPART_DIR | sort); do
            printf "\n---------------pegasus-multipart\n"
            cat $PEGASUS_MULTIPART_DIR/$entry
        done
    fi
}

function pegasus_lite_signal_int()
{
    caught_signal_name="INT"
    caught_signal_num=2
}

function pegasus_lite_signal_term()
{
    caught_signal_name="TERM"
    caught_signal_num=15
}

function pegasus_lite_unexpected_exit()
{
    rc=$?
    pegasus_include_multipart
    if [ "x$caught_signal_name" != "x" ]; then
        pegasus_lite_log "Caught $caught_signal_name signal! Aborting..."
        rc=$(($caught_signal_num + 128))
    elif [ "x$rc" = "x" ]; then
        pegasus_lite_log "Unable to determine real exit code!"
        rc=1
    elif [ $rc -gt 0 ]; then
        pegasus_lite_log "Last command exited with $rc"
    fi
    if [ "x$rc" = "x0" ]; then
        pegasus_lite_log "Unable to determine why the script was forced to exit!"
        rc=1
    fi
    if [ "x$pegasus_lite_work_dir_created" = "x1" ]; then
        cd /
        rm -rf $pegasus_lite_work_dir
        pegasus_lite_log "$pegasus_lite_work_dir cleaned up"
    fi
    echo "PegasusLite: runtime $(( $(/bin/date +%s) - pegasus_lite_start_time ))" 1>&2
    echo "PegasusLite: exitcode 71, tool originally exited with exitcode $rc" 1>&2
    exit 71
}

function pegasus_lite_final_exit()
{
    pegasus_include_multipart
    if [ "x$job_ec" = "x" ]; then
        pegasus_lite_log "job_ec is missing - did the user task fail?"
        exit 1
    fi
    if [ $job_ec != 0 ]; then
        pegasus_lite_log "User task failed with exitcode $job_ec"
    fi
    if [ "x$pegasus_lite_work_dir_created" = "x1" ]; then
        cd /
        rm -rf $pegasus_lite_work_dir
        pegasus_lite_log "$pegasus_lite_work_dir cleaned up"
    fi
    echo "PegasusLite: runtime $(( $(/bin/date +%s) - pegasus_lite_start_time ))" 1>&2
    echo "PegasusLite: exitcode $job_ec" 1>&2
    exit $job_ec
}
"""


def job_sh(source_url: str, dest_url: str) -> str:
    """``<job>.sh`` in the order of worker.md 1.2 (nonsharedfs, no container, integrity and
    stat on, as 5.1.3 writes them)."""
    task = " ".join(TASK[:2]) + " '%s'" % TASK[2]
    lines = [
        "#!/bin/bash",
        "set -e",
        'pegasus_lite_version_major="5"',
        'pegasus_lite_version_minor="1"',
        'pegasus_lite_version_patch="3"',
        'pegasus_lite_enforce_strict_wp_check="true"',
        'pegasus_lite_version_allow_wp_auto_download="false"',
        'pegasus_metrics="false"',
        "",
        ". pegasus-lite-common.sh",
        "",
        "pegasus_lite_init",
        "",
        "# cleanup in case of failures",
        "trap pegasus_lite_signal_int INT",
        "trap pegasus_lite_signal_term TERM",
        "trap pegasus_lite_unexpected_exit EXIT",
        "",
        banner("Setting up workdir", "[Pegasus Lite]"),
        "# work dir",
        "pegasus_lite_setup_work_dir",
        "",
        banner("Figuring out the worker package to use", "[Pegasus Lite]"),
        "# figure out the worker package to use",
        "pegasus_lite_worker_package",
        "",
        "pegasus_lite_section_start stage_in",
        banner("Staging in input data and executables"),
        "# stage in data and executables",
        "pegasus-transfer --threads 1  1>&2 << 'eof'",
        transfer_json("input", ("staging", source_url), ("condorpool", "file://$PWD/in.dat")),
        "eof",
        "",
        banner("Setting the xbit for executables staged"),
        "# (no executable is staged: the task is /bin/sh, so the planner writes no chmod)",
        "",
        banner("Checking file integrity for input files"),
        "# do file integrity checks",
        "pegasus-integrity --print-timings --verify=stdin 1>&2 << 'eof'",
        "in.dat",
        "eof",
        "",
        "pegasus_lite_section_end stage_in",
        "set +e",
        "job_ec=0",
        "pegasus_lite_section_start task_execute",
        banner("Executing the user task", "[Pegasus Lite]"),
        "pegasus-kickstart  -n true -N %s -R condorpool  -S @$_CONDOR_SCRATCH_DIR/%s.in.lof  "
        "-s @$_CONDOR_SCRATCH_DIR/%s.out.lof -L %s -T %s %s"
        % (JOB_ID, JOB_NAME, JOB_NAME, WF_LABEL, WF_STAMP, task),
        "job_ec=$?",
        "pegasus_lite_section_end task_execute",
        "set -e",
        "pegasus_lite_section_start stage_out",
        banner("Staging out output files"),
        "# stage out",
        "pegasus-transfer --threads 1  1>&2 << 'eof'",
        transfer_json("output", ("condorpool", "file://$PWD/out.dat"), ("staging", dest_url)),
        "eof",
        "",
        "pegasus_lite_section_end stage_out",
        "set -e",
        "",
        "# clear the trap, and exit cleanly",
        "trap - EXIT",
        "pegasus_lite_final_exit",
        "",
    ]
    return "\n".join(lines)


def in_meta(sha256: str) -> str:
    """``<job>.in.meta`` as the planner writes it (tab-indented JSON, worker.md section 4)."""
    entry = {
        "_id": "in.dat",
        "_type": "file",
        "_attributes": {
            "checksum.type": "sha256",
            "checksum.value": sha256,
            "checksum.timing": "0.0",
        },
    }
    return json.dumps([entry], indent="\t") + "\n"


def job_spec(source_url: str, dest_url: str, sha256: str) -> str:
    spec = {
        "version": 1,
        "job": {
            "id": JOB_ID,
            "name": JOB_NAME,
            "site": "condorpool",
            "workflow": {"name": WF_LABEL, "uuid": WF_UUID, "stamp": WF_STAMP},
        },
        "tasks": [
            {
                "transformation": "true",
                "executable": {"path": TASK[0]},
                "arguments": TASK[1:],
            }
        ],
        "inputs": [
            {
                "lfn": "in.dat",
                "sha256": sha256,
                "sources": [{"url": source_url, "site": "staging"}],
            }
        ],
        "outputs": [{"lfn": "out.dat", "destinations": [{"url": dest_url, "site": "staging"}]}],
    }
    return json.dumps(spec, indent=1) + "\n"


def condor_env(start: Path, wn_tmp: Path) -> dict:
    """What HTCondor gives a PegasusLite job (worker.md 1.1), and the work-dir settings."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "_CONDOR_SCRATCH_DIR": str(start),
        "CONDOR_JOBID": "1.0",
        "PEGASUS_DAG_JOB_ID": JOB_NAME,
        "PEGASUS_WF_UUID": WF_UUID,
        "PEGASUS_WF_LABEL": WF_LABEL,
        "PEGASUS_SITE": "condorpool",
        "PEGASUS_WN_TMP": str(wn_tmp),
        "PEGASUS_WN_TMP_MIN_SPACE": MIN_SPACE_KIB,
    }


def input_file() -> tuple[Path, str]:
    path = BASE / "data" / "in-1MiB.bin"
    if not path.exists() or path.stat().st_size != MIB:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(os.urandom(MIB))
        tmp.replace(path)
    return path, sha256_of(path)


def job_checker(dest: Path, wn_tmp: Path, ok: bool, stdout_marker: str):
    """Check a run: with ``ok``, success and the output at ``dest`` with the right sha256;
    else (a wrong expected sha256) a failure and no output.  The work dir must be gone."""
    expected = hashlib.sha256(OUTPUT_BYTES).hexdigest()

    def check(case: Case, code: int) -> str | None:
        left = sorted(p.name for p in wn_tmp.iterdir())
        problem = None
        if ok:
            if code != 0:
                problem = "exit %d: %s" % (code, tail(case.err))
            elif last_line(case.err) != "PegasusLite: exitcode 0":
                problem = "last stderr line is %r" % last_line(case.err)
            elif not dest.exists():
                problem = "no output at %s" % dest
            elif sha256_of(dest) != expected:
                problem = "output at %s has the wrong sha256" % dest
            elif stdout_marker not in case.out.read_text(errors="replace"):
                problem = "stdout lacks %r" % stdout_marker
        elif code == 0 or dest.exists():
            problem = "a wrong expected sha256 did not fail the job (exit %d)" % code
        if left and not problem:
            problem = "work dir left behind: %s" % ", ".join(left)
        for name in left:
            shutil.rmtree(wn_tmp / name, ignore_errors=True)
        if dest.exists():
            dest.unlink()
        return problem

    return check


def transfer_sleep(err: Path) -> float:
    """Seconds pegasus-transfer spent in its built-in start delay in one run: from each
    'Starting transfers' line to the next timestamped line."""
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) +INFO:  (.*)$")
    events = []
    for line in err.read_text(errors="replace").splitlines():
        match = stamp.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((when, match.group(2)))
    total = 0.0
    for (when, text), (after, _) in zip(events, events[1:]):
        if text.startswith("Starting transfers"):
            total += after - when
    return total


def kickstart_label(path: str | None, ours: str) -> str:
    if not path:
        return "our pegasus-kickstart (`%s`): no C build given" % ours
    try:
        version = subprocess.run(
            [path, "-V"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = "?"
    return "Pegasus's C pegasus-kickstart `%s` (version %s)" % (path, version or "?")


def anchor_home(kickstart: str) -> Path:
    """$PEGASUS_HOME of the anchor: bin/ as a Pegasus install has it.

    The tools are Pegasus's own scripts from the pegasus-wms.worker venv
    (bench.install.pegasus_worker_venv), each copied to bin/<name> with that venv's python
    in its first line, which is what a Pegasus install's bin/ holds (the scripts
    themselves).  bench/install.py's exec() wrappers are not used here: pegasus-integrity
    never closes its multipart file, so under exec() its ``<epoch>-integrity`` block stays
    empty.  Also the kickstart, and a pegasus-config that answers --version (the wheel has
    none; PegasusLite only asks it for the version)."""
    tool = pegasus_worker_venv(PEGASUS_VERSION)
    python = tool.parent / "python"
    scripts = next(tool.parent.parent.glob("lib/python*/site-packages/Pegasus/cli"))
    home = BASE / "anchor-pegasus-home"
    shutil.rmtree(home, ignore_errors=True)
    bindir = home / "bin"
    bindir.mkdir(parents=True)
    for name in ("pegasus-transfer", "pegasus-integrity", "pegasus-s3"):
        source = scripts / ("%s.py" % name)
        if not source.exists():
            continue
        text = source.read_text()
        if text.startswith("#!"):
            text = text.split("\n", 1)[1]
        (bindir / name).write_text("#!%s\n%s" % (python, text))
        (bindir / name).chmod(0o755)
    (bindir / "pegasus-kickstart").symlink_to(kickstart)
    config = bindir / "pegasus-config"
    config.write_text(
        "#!/bin/sh\n"
        "# Stand-in written by bench/scenarios/lite.py: PegasusLite asks only for the version.\n"
        'if [ "$1" = "--version" ]; then echo %s; exit 0; fi\n'
        "echo 'pegasus-config stand-in: only --version' >&2\n"
        "exit 1\n" % PEGASUS_VERSION
    )
    config.chmod(0o755)
    return home


def complete_venv(venv: Path) -> str | None:
    """The transfer scenario's fix for a wheel without transfer/handlers, when it has one."""
    try:
        from bench.scenarios.transfer import complete_install
    except ImportError:
        complete_install = None
    if complete_install is not None:
        return complete_install(venv)
    if not any(venv.glob("lib/python*/site-packages/transfer/handlers/__init__.py")):
        raise RuntimeError("the bench install has no transfer/handlers: pegasus-lite cannot stage")
    return None


def schedule(runs: int, few: int) -> set[int]:
    """The rounds (of ``runs``) in which a case measured only ``few`` times runs: spread."""
    if few <= 0:
        return set()
    few = min(few, runs)
    return {(k * runs) // few + runs // (2 * few) for k in range(few)}


def rotated(items: list, round_number: int) -> list:
    """The cases in a different order each round: what one case leaves behind (the engine
    removing a --rm container, dirty pages) does not always land on the same next case."""
    shift = round_number % len(items) if items else 0
    return items[shift:] + items[:shift]


def run_minimal(args, venv: Path) -> dict:
    source, sha = input_file()
    source_url = "file://%s" % source
    python = str(venv / "bin" / "python")
    ours_kickstart = str(venv / "bin" / "pegasus-kickstart")
    kickstart = args.anchor_kickstart or ours_kickstart
    cases: dict[str, Case] = {}

    def make(name: str, key: str, files, argv, extra_env, ok=True, marker="") -> Case:
        root = BASE / "runs" / key
        shutil.rmtree(root, ignore_errors=True)
        wn_tmp = root / "wn-tmp"
        dest = root / "dest" / "out.dat"
        wn_tmp.mkdir(parents=True)
        dest.parent.mkdir(parents=True)
        env = condor_env(root / "start", wn_tmp)
        env.update(extra_env)
        dest_url = "file://%s" % dest
        check = job_checker(dest, wn_tmp, ok, marker)
        return Case(name, root, lambda: files(dest_url), argv, env, check)

    def ours_files(wrong: bool):
        value = "0" * 64 if wrong else sha
        return lambda dest_url: {"job.json": job_spec(source_url, dest_url, value)}

    def anchor_files(wrong: bool):
        value = "0" * 64 if wrong else sha

        def files(dest_url: str) -> dict[str, str]:
            return {
                "%s.sh" % JOB_NAME: job_sh(source_url, dest_url),
                "pegasus-lite-common.sh": COMMON_SH,
                "%s.in.meta" % JOB_NAME: in_meta(value),
                "%s.in.lof" % JOB_NAME: "in.dat=in.dat\n",
                "%s.out.lof" % JOB_NAME: "out.dat=out.dat\n",
            }

        return files

    ours_argv = [str(venv / "bin" / "pegasus-lite"), "job.json"]
    cases[OURS] = make(OURS, "ours", ours_files(False), ours_argv, {}, marker="- invocation:")
    negative = {
        "ours": make(OURS, "ours-bad-sha", ours_files(True), ours_argv, {}, ok=False),
    }
    anchor_env = {}
    if not args.no_anchor:
        home = anchor_home(kickstart)
        anchor_env = {
            "PEGASUS_HOME": str(home),
            "GRIDSTART_CLEANUP": "/bin/rm -rf %s.in.lof %s.out.lof" % (JOB_NAME, JOB_NAME),
        }
        start = BASE / "runs" / "anchor" / "start"
        argv = [str(start / ("%s.sh" % JOB_NAME))]
        cases[ANCHOR] = make(
            ANCHOR, "anchor", anchor_files(False), argv, anchor_env, marker="integrity"
        )
        bad_start = BASE / "runs" / "anchor-bad-sha" / "start"
        negative["anchor"] = make(
            ANCHOR, "anchor-bad-sha", anchor_files(True),
            [str(bad_start / ("%s.sh" % JOB_NAME))], anchor_env, ok=False,
        )  # fmt: skip
    reference = {
        PY_START: [python, "-c", "pass"],
        PY_IMPORT: [python, "-c", "import lite.job"],
    }
    for name, argv in reference.items():
        key = "ref-start" if name == PY_START else "ref-import"
        cases[name] = make(name, key, lambda _url: {}, argv, {}, marker="")
        cases[name].check = lambda case, code: None if code == 0 else "exit %d" % code

    # integrity is on: a wrong expected sha256 fails each (untimed)
    negative_codes = {}
    for key, case in negative.items():
        case.once(record=False)
        negative_codes[key] = (last_line(case.err), tail(case.err, 4))
        if case.error:  # then its timings would not be of the same job
            cases[case.name].error = case.error
    # warm-up (untimed): page cache, bytecode, the anchor venv
    for case in cases.values():
        for _ in range(1 if case.name == ANCHOR else 3):
            case.once(record=False)
    anchor_rounds = schedule(args.runs, args.anchor_runs)
    sleeps: list[float] = []
    for round_number in range(args.runs):
        for name, case in rotated(list(cases.items()), round_number):
            if name == ANCHOR and round_number not in anchor_rounds:
                continue
            if case.once() is not None and name == ANCHOR:
                sleeps.append(transfer_sleep(case.err))
    return {
        "cases": cases,
        "sleeps": sleeps,
        "negative": negative_codes,
        "kickstart": kickstart_label(args.anchor_kickstart, ours_kickstart),
        "script": job_sh(source_url, "file://%s" % (BASE / "runs" / "anchor" / "dest" / "out.dat")),
        "sha": sha,
    }


# ---------------------------------------------------------------- the container job


def record_argv(record: str) -> list[str]:
    """The mainjob's argument_vector from a kickstart record (the docker run command)."""
    lines = record.split("\n---------------pegasus-multipart")[0].splitlines()
    try:
        start = lines.index("    argument_vector:")
    except ValueError:
        return []
    argv = []
    for line in lines[start + 1 :]:
        if not line.startswith("      - "):
            break
        item = line[len("      - ") :]
        argv.append(json.loads(item) if item.startswith('"') else item)
    return argv


def run_container(args, venv: Path) -> dict:
    """{"error": reason} or the cases; the engine is stopped again if it was started here."""
    try:
        from tests.servers.docker_engine import (
            docker_program,
            ensure_docker_engine,
            ensure_local_image,
        )
    except Exception as exc:  # pytest missing, or the module moved
        return {"error": "not measured: cannot import tests/servers/docker_engine (%s)" % exc}
    try:
        engine = ensure_docker_engine()
    except Exception as exc:  # ServerUnavailable, or anything else that stops it
        return {"error": "not measured: no Docker engine (%s)" % " ".join(str(exc).split())}
    try:
        image = ensure_local_image(engine.host)
        cli = docker_program()
        return _container_cases(args, venv, engine, image, cli)
    except Exception as exc:
        return {"error": "not measured: %s" % " ".join(str(exc).split())[:300]}
    finally:
        engine.stop()


def _container_cases(args, venv: Path, engine, image: str, cli: str) -> dict:
    root = BASE / "runs" / "container"
    shutil.rmtree(root, ignore_errors=True)
    wn_tmp = root / "wn-tmp"
    wn_tmp.mkdir(parents=True)
    env = condor_env(root / "start", wn_tmp)
    env["PATH"] = "%s:/usr/bin:/bin" % os.path.dirname(cli)
    env["DOCKER_HOST"] = engine.host
    env["PEGASUS_IMAGE_CACHE"] = str(root / "image-cache")
    spec = {
        "version": 1,
        "job": {"id": "ID0000002", "name": "true_ID0000002", "site": "condorpool"},
        "tasks": [{"transformation": "true", "executable": {"path": "/bin/true"}}],
        "container": {"runtime": "docker", "image": image},
    }
    spec_text = json.dumps(spec, indent=1) + "\n"

    def ours_check(case: Case, code: int) -> str | None:
        left = sorted(p.name for p in wn_tmp.iterdir())
        for name in left:
            shutil.rmtree(wn_tmp / name, ignore_errors=True)
        if code != 0:
            return "exit %d: %s" % (code, tail(case.err))
        if last_line(case.err) != "PegasusLite: exitcode 0":
            return "last stderr line is %r" % last_line(case.err)
        if "  container:\n    runtime: docker" not in case.out.read_text(errors="replace"):
            return "the record has no container section"
        if left:
            return "work dir left behind: %s" % ", ".join(left)
        return None

    def plain_check(case: Case, code: int) -> str | None:
        return None if code == 0 else "exit %d: %s" % (code, tail(case.err))

    ours = Case(
        OURS_CONTAINER, root / "ours", lambda: {"job.json": spec_text},
        [str(venv / "bin" / "pegasus-lite"), "job.json"], env, ours_check,
    )  # fmt: skip
    ours.start = root / "start"
    bare = Case(
        BARE, root / "bare", dict, [cli, "run", "--rm", image, "/bin/true"], env, plain_check
    )
    for case in (ours, bare):
        case.root.mkdir(parents=True, exist_ok=True)
        case.out, case.err = case.root / "job.out", case.root / "job.err"

    ours.once(record=False)
    if ours.error:
        return {
            "error": "not measured yet: pegasus-lite did not run the container job (%s); run "
            "`python -m bench lite` again once it does" % ours.error[:300]
        }
    # the same docker run as ours, with a fresh work dir and name each time
    template = record_argv(ours.out.read_text(errors="replace"))
    flags = None
    if template and template[0] == "run" and "--name" in template:
        old_name = template[template.index("--name") + 1]
        old_dir = template[template.index("--workdir") + 1]
        flags = FlagsCase(cli, template, old_name, old_dir, root / "flags", env)
    cases = [c for c in (bare, flags, ours) if c is not None]
    for case in cases:
        for _ in range(3):
            case.once(record=False)
    for round_number in range(args.container_runs):
        for case in rotated(cases, round_number):
            case.once()
    leftover = engine.docker("ps", "--all", "--quiet", timeout=60).stdout.split()
    return {
        "cases": {case.name: case for case in cases},
        "image": image,
        "engine": engine.host + (" (started by the bench)" if engine.started_here else ""),
        "leftover": leftover,
        "flags": " ".join([*template[:-1], "IMAGE"]) if template else "",
    }


class FlagsCase(Case):
    """``docker run`` with the argv ours ran, in a fresh directory under a fresh name."""

    def __init__(self, cli, template, old_name, old_dir, root: Path, env: dict):
        super().__init__(FLAGS, root, dict, [cli], env, lambda case, code: None)
        self.cli, self.template = cli, template
        self.old_name, self.old_dir = old_name, old_dir
        root.mkdir(parents=True, exist_ok=True)
        self.out, self.err = root / "job.out", root / "job.err"
        self.count = 0

    def once(self, record: bool = True) -> float | None:
        if self.error:
            return None
        self.count += 1
        name = "bench-lite-flags-%d-%s" % (self.count, os.urandom(3).hex())
        workdir = self.root / ("work-%d" % self.count)
        workdir.mkdir()
        argv = [self.cli] + [
            arg.replace(self.old_dir, str(workdir)).replace(self.old_name, name)
            for arg in self.template
        ]
        try:
            elapsed, code = spawn(argv, self.env, workdir, self.out, self.err)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if "--cgroup-parent" in argv:
                try:
                    from containers import cgroups

                    cgroups.remove_tree(cgroups.parent_path(name))
                except Exception:
                    pass
        if code != 0:
            self.error = "exit %d: %s" % (code, tail(self.err))
            return None
        if record:
            self.samples.append(elapsed)
        return elapsed


# ---------------------------------------------------------------- the report


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def rows_of(cases: dict[str, Case]) -> dict[str, dict]:
    return {
        row["case"]: row
        for row in summary_rows({n: c.samples for n, c in cases.items() if c.samples})
    }


def minimal_section(result: dict) -> tuple[list[str], dict]:
    cases = result["cases"]
    rows = rows_of(cases)
    ours = rows.get(OURS)
    body = []
    out = []
    for name, case in cases.items():
        if case.error:
            out.append([name, 0, "-", "-", "-", "-", "failed: %s" % case.error[:200]])
            continue
        row = rows[name]
        ratio = row["median_ms"] / ours["median_ms"] if ours else None
        out.append([name, row["n"], row["median_ms"], row["p10_ms"], row["p90_ms"],
                    row["max_ms"], "%.1f" % ratio if ratio else "-"])  # fmt: skip
    body += table(["case", "n", "median ms", "p10 ms", "p90 ms", "max ms", "÷ ours"], out)
    figures = {"ours": ours["median_ms"] if ours else None, "anchor": None, "bare": None}
    anchor = rows.get(ANCHOR)
    if anchor:
        figures["anchor"] = anchor["median_ms"]
        sleep = statistics.median(result["sleeps"]) * 1000 if result["sleeps"] else 0.0
        without = statistics.median(
            [t * 1000 - s * 1000 for t, s in zip(cases[ANCHOR].samples, result["sleeps"])]
        ) if result["sleeps"] else anchor["median_ms"]  # fmt: skip
        body += [
            "",
            "Of the PegasusLite script's time, pegasus-transfer's built-in start delay (each "
            "call's first worker thread sleeps 2 s, worker.md 1.3; read from its log) is a "
            "median %.0f ms per job; without it the script would take a median %.0f ms "
            "(%.1fx ours)." % (sleep, without, without / ours["median_ms"] if ours else 0),
        ]
        figures["anchor_without_sleep"] = without
    body += ["", "Anchor kickstart: %s." % result["kickstart"]]
    return body, figures


def container_section(result: dict) -> tuple[list[str], dict]:
    if "error" in result:
        return ["| case | result |", "|---|---|", "| %s | %s |" % (OURS_CONTAINER,
                result["error"])], {}  # fmt: skip
    cases = result["cases"]
    rows = rows_of(cases)
    bare = rows.get(BARE)
    out = []
    for name, case in cases.items():
        if case.error:
            out.append([name, 0, "-", "-", "-", "-", "failed: %s" % case.error[:200]])
            continue
        row = rows[name]
        over = row["median_ms"] - bare["median_ms"] if bare else None
        out.append([name, row["n"], row["median_ms"], row["p10_ms"], row["p90_ms"],
                    row["max_ms"], over if over is not None else "-"])  # fmt: skip
    body = table(["case", "n", "median ms", "p10 ms", "p90 ms", "max ms", "over bare ms"], out)
    figures = {}
    if bare and OURS_CONTAINER in rows:
        paired = statistics.median(
            [a - b for a, b in zip(cases[OURS_CONTAINER].samples, cases[BARE].samples)]
        ) * 1000  # fmt: skip
        figures["overhead"] = rows[OURS_CONTAINER]["median_ms"] - bare["median_ms"]
        body += [
            "",
            "Overhead of ours over the bare run: %.1f ms (difference of medians); %.1f ms "
            "(median of the per-round differences)." % (figures["overhead"], paired),
        ]
        if FLAGS in rows:
            body.append(
                "Of that, the flags ours passes to `docker run` account for %.1f ms and "
                "pegasus-lite itself (interpreter, imports, spec, work dir, engine checks, "
                "kickstart, container removal) for %.1f ms."
                % (rows[FLAGS]["median_ms"] - bare["median_ms"],
                   rows[OURS_CONTAINER]["median_ms"] - rows[FLAGS]["median_ms"])
            )  # fmt: skip
    body += [
        "",
        "- Image: `%s` (the test image of tests/servers/docker_engine.py, imported from its "
        "cached Debian rootfs), already in the engine; engine `%s`." % (result["image"],
                                                                       result["engine"]),
        "- Ours' `docker run` (from its kickstart record): `docker %s`." % result["flags"],
        "- Containers left in the engine afterwards: %s."
        % (", ".join(result["leftover"]) if result["leftover"] else "none"),
    ]  # fmt: skip
    return body, figures


def goals_section(minimal: dict, container: dict, container_result: dict) -> list[str]:
    rows = []
    ours = minimal.get("ours")
    if ours is not None:
        rows.append(["minimal job end to end at most 150 ms", "%.1f ms" % ours,
                     verdict(ours <= 150)])  # fmt: skip
    else:
        rows.append(["minimal job end to end at most 150 ms", "not measured", "-"])
    if ours and minimal.get("anchor"):
        ratio = minimal["anchor"] / ours
        rows.append(["at least 20x faster than the PegasusLite script", "%.1fx" % ratio,
                     verdict(ratio >= 20)])  # fmt: skip
    else:
        rows.append(["at least 20x faster than the PegasusLite script", "not measured", "-"])
    goal = "container job overhead at most 100 ms over bare docker run"
    if "overhead" in container:
        overhead = container["overhead"]
        rows.append([goal, "%.1f ms" % overhead, verdict(overhead <= 100)])
    else:
        rows.append([goal, container_result.get("error", "not measured"), "-"])
    return table(["goal", "measured (median)", "result"], rows)


def method_notes(args, result: dict, install_note: str | None, load, elapsed) -> list[str]:
    negative = result["negative"]
    notes = [
        "- The task: `%s` (one fork+exec of dash; `/bin/true` cannot create the output a job "
        "must have).  Input `in.dat`: 1 MiB of random bytes in bench/work/lite/data, sha256 "
        "`%s`, staged from `file://`; output `out.dat` (3 bytes) staged out to `file://` in "
        "the case's own bench/work/lite/runs/<case>/dest." % (TASK_TEXT, result["sha"]),
        "- Ours: `bench/work/venv/bin/pegasus-lite job.json` (clean non-editable install of "
        "this checkout, no extras needed), the job spec with the input's sha256, a source "
        "and a destination URL; nothing else.",
        "- Anchor: `<job>.sh` + `pegasus-lite-common.sh` generated by bench/scenarios/lite.py "
        "(the script is below), with `<job>.in.meta` (the input's sha256) and the stat "
        "`.lof` files shipped in the start dir, `$PEGASUS_HOME/bin` holding the real "
        "pegasus-transfer and pegasus-integrity of pegasus-wms.worker %s (its scripts, "
        "as a Pegasus install's bin/ has them), the kickstart, and a shell stand-in for "
        "`pegasus-config --version` (the wheel has none; the real one is a Python script, so "
        "this favours the anchor).  `GRIDSTART_CLEANUP` removes the `.lof` copies, as the "
        "planner sets it."
        % PEGASUS_VERSION,
        "- Both: a fresh start directory per run (removed and rewritten before the clock "
        "starts), cwd there, stdin /dev/null, stdout/stderr to files, an environment of only "
        "PATH=/usr/bin:/bin, LANG, _CONDOR_SCRATCH_DIR, CONDOR_JOBID, PEGASUS_DAG_JOB_ID, "
        "PEGASUS_WF_UUID, PEGASUS_WF_LABEL, PEGASUS_SITE, PEGASUS_WN_TMP (the case's "
        "wn-tmp) and PEGASUS_WN_TMP_MIN_SPACE=%s; the clock covers spawn to exit."
        % MIN_SPACE_KIB,
        "- Checked after every run: exit 0, last stderr line `PegasusLite: exitcode 0`, the "
        "output at the destination with sha256 of `ok\\n`, the work dir removed, and the "
        "kickstart record (ours) or pegasus-integrity's multipart block (anchor) on stdout.",
        "- Integrity is on: with a wrong expected sha256 (untimed, once each) ours ended "
        "with `%s`%s." % (negative["ours"][0],
                          "" if "anchor" not in negative else
                          " and the PegasusLite script with `%s` (`%s`)" % negative["anchor"]),
        "- Rounds: %d, interleaved, the order of the cases rotated each round; ours and the "
        "references every round, the PegasusLite "
        "script in %d of them spread over the run (it sleeps by design); 3 untimed warm-up "
        "runs each (1 for the script).  Container cases: %d rounds, 3 warm-up runs each."
        % (args.runs, min(args.anchor_runs, args.runs), args.container_runs),
        "- Shared machine: load average %.2f before, %.2f after; the scenario took %.0f s.  "
        "Compare ratios within one run, not absolute numbers across runs."
        % (load[0], load[1], elapsed),
    ]  # fmt: skip
    if install_note:
        notes.append("- " + install_note)
    return notes


def run(args: argparse.Namespace) -> str:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    venv = bench_venv()
    install_note = complete_venv(venv)
    minimal = run_minimal(args, venv)
    container = {"error": "not measured: --no-container"}
    if not args.no_container:
        container = run_container(args, venv)
    load = (load_before, os.getloadavg()[0])
    elapsed = time.monotonic() - started

    minimal_body, minimal_figures = minimal_section(minimal)
    container_body, container_figures = container_section(container)
    script = minimal["script"]
    sections = [
        ("Goals (issue 4)", goals_section(minimal_figures, container_figures, container)),
        ("Minimal job end to end: 1 MiB in (sha256 checked), %s, 1 output out" % TASK_TEXT,
         minimal_body),
        ("Container job: /bin/true in Docker, ours vs a bare docker run", container_body),
        ("How this was measured", method_notes(args, minimal, install_note, load, elapsed)),
        ("The PegasusLite job script (pegasus-lite-common.sh: see bench/scenarios/lite.py)",
         ["```bash", *script.rstrip("\n").splitlines(), "```"]),
    ]  # fmt: skip
    return str(write_results("lite", "pegasus-lite: one job end to end", sections))
