"""Shared pieces of the container tests: a job spec's ``container``, fake programs, images.

The Docker fixtures (engine, registry, test image) come from tests/servers/fixtures_docker.py;
here the test image is turned into images of our own (one ``docker commit`` with a label),
so that a test can remove them from the engine and watch them being loaded again.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from lite.spec import Container


def container_spec(**fields) -> Container:
    """A validated ``spec.container`` with the given fields (runtime docker by default)."""
    fields.setdefault("runtime", "docker")
    fields.setdefault("image", "docker://example.org/img:1")
    return Container(fields, "spec.container")


def write_program(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# A stand-in for apptainer/singularity: logs its argv and the *ENV_ variables it received
# (JSON lines in apptainer.log beside its directory); "pull"/"build" write a SIF-like file;
# "exec" runs the command on the host as apptainer would inside: in --pwd, --cleanenv.
FAKE_APPTAINER = """#!%(python)s
import json, os, sys
args = sys.argv[1:]
name = os.path.basename(sys.argv[0])
prefix = name.upper() + "ENV_"
here = os.path.dirname(os.path.abspath(sys.argv[0]))
log_path = os.path.join(os.path.dirname(here), "apptainer.log")
with open(log_path, "a") as log:
    log.write(json.dumps({"prog": name, "argv": args,
                          "env": {k: v for k, v in os.environ.items() if "ENV_" in k}}) + "\\n")
verb = args[0]
if verb in ("pull", "build"):
    out, source = args[-2], args[-1]
    if "missing" in source:
        sys.stderr.write("FATAL: While making image from oci registry: not found\\n")
        sys.exit(255)
    with open(out, "w") as fh:
        fh.write("SIF of %%s\\n" %% source)
    sys.exit(0)
if verb != "exec":
    sys.exit(2)
with_arg = {"--bind", "-B", "--pwd", "--home", "--overlay", "--env"}
i, pwd = 1, None
while args[i].startswith("-"):
    if args[i] in with_arg:
        if args[i] == "--pwd":
            pwd = args[i + 1]
        i += 2
    else:
        i += 1
image, argv = args[i], args[i + 1:]
if not os.path.exists(image):
    sys.stderr.write("FATAL: could not open image %%s\\n" %% image)
    sys.exit(255)
env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
env.update({k[len(prefix):]: v for k, v in os.environ.items() if k.startswith(prefix)})
if pwd:
    os.chdir(pwd)
os.execvpe(argv[0], argv, env)
"""


@pytest.fixture
def fake_apptainer(tmp_path):
    """(bin dir, log path, read_log()) with ``apptainer`` (and nothing else) in bin."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    write_program(bindir / "apptainer", FAKE_APPTAINER % {"python": sys.executable})
    log = tmp_path / "apptainer.log"
    log.touch()

    def read_log() -> list[dict]:
        import json

        return [json.loads(line) for line in log.read_text().splitlines()]

    return bindir, log, read_log


def fake_env(bindir: Path, **extra: str) -> dict:
    """An environment whose PATH holds only ``bindir`` and the system directories."""
    env = {"PATH": "%s:/usr/bin:/bin" % bindir, "HOME": os.environ.get("HOME", "/root")}
    env.update(extra)
    return env
