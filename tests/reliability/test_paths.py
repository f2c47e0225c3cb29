"""Names from input never lead outside the work dir and the declared destinations.

Every place a name from a job spec, a transfer list, a workflow or a submit file becomes a
path is fed ``..``, absolute paths, symlinks that point out, and odd characters.  Each run
has a sentinel directory beside it (a secret file, a directory, and ``$HOME``, so a ``~``
that got expanded would land there): after the run the sentinel is byte for byte and
mtime for mtime what it was, no file appeared outside the allowed directories, and the
work dir is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lite.spec import JobSpec, SpecError, lfn_problem
from tests.conftest import console_script
from tests.planner.test_engine import SubmitDir

SECRET = "the sentinel's secret: must never be copied or hashed\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(root: Path) -> dict:
    """Every entry under ``root`` (links not followed): kind, size, mtime, content/target."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    what = ("file", st.st_size, sha256(fh.read()), stat.S_IMODE(st.st_mode))
            else:
                what = ("dir", stat.S_IMODE(st.st_mode))
            found[os.path.relpath(path, root)] = (what, st.st_mtime_ns)
    return found


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if ": Error: " in line]

    @property
    def records(self) -> list[dict]:
        return yaml.safe_load(self.stdout.split("\n---------------pegasus-multipart\n")[0]) or []


class Area:
    """tmp_path laid out as a node: the start dir, the scratch parent, sources,
    destinations, and the sentinel outside all of them."""

    def __init__(self, root: Path):
        self.root = root
        self.start = root / "start"  # HTCondor's job dir: the spec, .meta files
        self.wn = root / "wn"  # PEGASUS_WN_TMP: lite's work dir goes in here
        self.data = root / "data"  # sources
        self.out = root / "out"  # declared destinations
        self.sentinel = root / "sentinel"
        self.home = self.sentinel / "home"
        for d in (self.start, self.wn, self.data, self.out, self.home, self.sentinel / "inbox"):
            d.mkdir(parents=True, exist_ok=True)
        (self.sentinel / "secret").write_text(SECRET)
        (self.sentinel / "inbox" / "out.txt").write_text(SECRET)
        (self.data / "in.txt").write_text("input bytes\n")
        self.before = self._state()

    def _state(self) -> tuple:
        return snapshot(self.sentinel), snapshot(self.data), sorted(os.listdir(self.root))

    def env(self, **extra: str) -> dict:
        env = dict(os.environ, PEGASUS_WN_TMP=str(self.wn), PEGASUS_WN_TMP_MIN_SPACE="1",
                   HOME=str(self.home), TMPDIR=str(self.wn))  # fmt: skip
        env.update(extra)
        return env

    def lite(self, spec: dict, **env: str) -> Result:
        (self.start / "job.json").write_text(json.dumps(spec))
        proc = subprocess.run(
            [*console_script("pegasus-lite"), "job.json"],
            cwd=self.start, env=self.env(**env), capture_output=True, timeout=120,
        )  # fmt: skip
        return Result(proc)

    def contained(self, result: Result | None = None) -> None:
        """Nothing outside was read into the outputs, written, or left behind."""
        sentinel, data, top = self._state()
        assert sentinel == self.before[0], "the sentinel directory changed"
        assert data == self.before[1], "a source changed"
        assert top == self.before[2], "a new entry appeared beside the run: %s" % top
        assert os.listdir(self.wn) == [], "the work dir was left: %s" % os.listdir(self.wn)
        if result is not None:
            assert "Traceback" not in result.stderr, result.stderr
            for text in (result.stdout, result.stderr):
                assert SECRET.strip() not in text
                assert sha256(SECRET.encode()) not in text
        for path in self.out.rglob("*"):
            if path.is_file():
                assert SECRET.strip() not in path.read_text(errors="replace"), path
        for path in self.start.glob("*.meta"):
            assert sha256(SECRET.encode()) not in path.read_text(), path


@pytest.fixture
def area(tmp_path: Path) -> Area:
    return Area(tmp_path)


def spec_with(area: Area, script: str, outputs=("out.txt",), inputs=None, **extra) -> dict:
    spec = {
        "version": 1,
        "job": {"id": "ID0000001", "name": "paths_ID0000001", "site": "local"},
        "tasks": [{"transformation": "sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script]}],
        "inputs": inputs if inputs is not None else [
            {"lfn": "in.txt", "sources": [{"url": "file://%s" % (area.data / "in.txt")}]}
        ],
        "outputs": [{"lfn": name, "destinations": [{"url": "file://%s/%s" % (area.out, name)}]}
                    for name in outputs],
    }  # fmt: skip
    spec.update(extra)
    return spec


# ---------------------------------------------------------------------- the job spec

UNSAFE = [
    "../x",
    "a/../../x",
    "/etc/passwd",
    "/",
    "",
    ".",
    "./x",
    "a/./b",
    "a//b",
    "a/",
    "x\x00y",
    "$HOME",
    "a/${HOME}/b",
    "pre$PWD",
]


def _field_docs(value: str) -> list[tuple[str, dict]]:
    """(field path, spec) with ``value`` in each field that becomes a path in the work dir."""
    base = {"version": 1, "tasks": [{"executable": {"path": "/bin/true"}}]}

    def with_(**changes) -> dict:
        doc = json.loads(json.dumps(base))
        doc.update(changes)
        return doc

    src = [{"url": "file:///dev/null"}]
    task = {"executable": {"path": "/bin/true"}}
    return [
        ("spec.inputs[0].lfn", with_(inputs=[{"lfn": value, "sources": src}])),
        ("spec.outputs[0].lfn", with_(outputs=[{"lfn": value}])),
        ("spec.checkpoints[0].lfn", with_(checkpoints=[{"lfn": value}])),
        ("spec.tasks[0].stdin", with_(tasks=[{**task, "stdin": value}])),
        ("spec.tasks[0].stdout", with_(tasks=[{**task, "stdout": value}])),
        ("spec.tasks[0].stderr", with_(tasks=[{**task, "stderr": value}])),
        ("spec.tasks[0].executable.lfn",
         with_(tasks=[{"executable": {"lfn": value}}], inputs=[{"lfn": "t", "sources": src}])),
        ("spec.container.image_lfn",
         with_(container={"runtime": "docker", "image": "x", "image_lfn": value})),
    ]  # fmt: skip


@pytest.mark.parametrize("value", UNSAFE)
def test_spec_refuses_every_name_that_is_not_a_plain_relative_path(value):
    for where, doc in _field_docs(value):
        if value == "" and where in ("spec.tasks[0].stdin", "spec.tasks[0].stdout",
                                     "spec.tasks[0].stderr", "spec.container.image_lfn",
                                     "spec.tasks[0].executable.lfn"):  # fmt: skip
            continue  # an empty value there means "none"
        with pytest.raises(SpecError) as caught:
            JobSpec(doc)
        assert str(caught.value).startswith(where), (where, str(caught.value))
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", ["../id_rsa", "/root/.ssh/id_rsa", "a/b", ".", "..", ""])
def test_spec_refuses_credential_files_that_are_not_bare_names(value):
    doc = {"version": 1, "tasks": [{"executable": {"path": "/bin/true"}}],
           "credentials": [{"env": "SSH_PRIVATE_KEY", "file": value}]}  # fmt: skip
    with pytest.raises(SpecError, match=r"^spec\.credentials\[0\]\.file: "):
        JobSpec(doc)


@pytest.mark.parametrize(
    "names",
    [("a", "a/x"), ("d/e", "d/e/f.txt"), ("a/x", "a")],
    ids=["dir-and-file", "deep", "reverse"],
)
def test_spec_refuses_a_name_inside_another_file_of_the_job(names):
    """``a`` staged as a symlink to a directory outside, then ``a/x`` written into it,
    would write outside the work dir: two names of one job cannot nest."""
    first, second = names
    src = [{"url": "file:///dev/null"}]
    doc = {"version": 1, "tasks": [{"executable": {"path": "/bin/true"}}],
           "inputs": [{"lfn": first, "symlink": True, "sources": src}],
           "outputs": [{"lfn": second}]}  # fmt: skip
    with pytest.raises(SpecError, match="inside"):
        JobSpec(doc)
    doc["inputs"].append({"lfn": second, "sources": src})
    del doc["outputs"]
    with pytest.raises(SpecError, match="inside"):
        JobSpec(doc)


def test_spec_keeps_odd_but_safe_names():
    names = ["with space", "it's", 'say "hi"', "line\nbreak", "-rf", "~", "~u/x", "%2e%2e",
             "%2E%2E/x", "k=v", "$(id)", "`id`", "$", "x$", "\u00e9t\u00e9/\u2713", "a/b/c",
             "..x", "x..", "...", ".hidden"]  # fmt: skip
    doc = {"version": 1, "tasks": [{"executable": {"path": "/bin/true"}}],
           "outputs": [{"lfn": name} for name in names]}  # fmt: skip
    assert [f.lfn for f in JobSpec(doc).outputs] == names


@pytest.mark.parametrize(
    "field, patch",
    [
        ("spec.inputs[0].lfn", lambda s: s["inputs"][0].update(lfn="../../sentinel/inbox/x")),
        ("spec.outputs[0].lfn", lambda s: s["outputs"][0].update(lfn="../../sentinel/secret")),
        ("spec.tasks[0].stdout", lambda s: s["tasks"][0].update(stdout="../../sentinel/log")),
        ("spec.tasks[0].stdin", lambda s: s["tasks"][0].update(stdin="/etc/passwd")),
        ("spec.checkpoints[0].lfn", lambda s: s.update(checkpoints=[{"lfn": "/tmp/ckpt"}])),
        (
            "spec.credentials[0].file",
            lambda s: s.update(credentials=[{"env": "X509_USER_PROXY", "file": "../proxy"}]),
        ),
    ],
    ids=["input", "output", "stdout", "stdin", "checkpoint", "credential"],
)
def test_lite_refuses_an_escaping_name_before_anything_runs(area, field, patch):
    spec = spec_with(area, "touch ran; echo x > out.txt")
    patch(spec)
    result = area.lite(spec)
    assert result.rc == 71, result.stderr
    (error,) = result.errors
    assert error.split(": Error: ", 1)[1].startswith(field), error
    assert result.stderr.rstrip().endswith("PegasusLite: exitcode 71")
    assert list(area.out.iterdir()) == []
    area.contained(result)


# ---------------------------------------------------------------------- outputs that are links


@pytest.mark.parametrize(
    "script, output",
    [
        ('ln -s "$SENTINEL/secret" out.txt', "out.txt"),
        ("ln -s ../../sentinel/secret out.txt", "out.txt"),
        ('ln -s "$SENTINEL/secret" inner && ln -s inner out.txt', "out.txt"),
        ('ln -s "$SENTINEL/inbox" sub', "sub/out.txt"),
        ('mkdir d && ln -s "$SENTINEL" d/up && ln -s d/up/secret out.txt', "out.txt"),
    ],
    ids=["absolute", "relative", "chain", "directory", "deep"],
)
def test_an_output_linking_outside_the_work_dir_is_refused(area, script, output):
    spec = spec_with(area, script, outputs=(output,))
    result = area.lite(spec, SENTINEL=str(area.sentinel))
    assert result.rc == 71, result.stderr
    (error,) = result.errors
    assert "output %s" % output in error and "outside the work dir" in error, error
    assert list(area.out.rglob("*")) == []  # nothing staged out
    assert not list(area.start.glob("*.meta"))  # no checksum of it written
    (record,) = result.records
    assert "sha256" not in record["files"][output]
    area.contained(result)


def test_an_output_linking_inside_the_work_dir_is_staged_as_its_content(area):
    spec = spec_with(area, "mkdir -p real && cp in.txt real/data && ln -s real/data out.txt")
    result = area.lite(spec)
    assert result.rc == 0, result.stderr
    staged = area.out / "out.txt"
    assert not staged.is_symlink() and staged.read_text() == "input bytes\n"
    (record,) = result.records
    assert record["files"]["out.txt"]["sha256"] == sha256(b"input bytes\n")
    area.contained(result)


def test_a_checkpoint_linking_outside_is_not_staged_out(area):
    spec = spec_with(area, 'ln -s "$SENTINEL/secret" state.ckpt; exit 3', outputs=())
    spec["checkpoints"] = [{"lfn": "state.ckpt", "destinations": [
        {"url": "file://%s/state.ckpt" % area.out}]}]  # fmt: skip
    result = area.lite(spec, SENTINEL=str(area.sentinel))
    assert result.rc == 3, result.stderr
    assert "state.ckpt" in result.stderr and "outside the work dir" in result.stderr
    assert list(area.out.iterdir()) == []
    area.contained(result)


@pytest.mark.parametrize("stream", ["stdout", "stderr", "stdin"])
def test_a_later_task_does_not_write_or_read_through_a_link_an_earlier_task_left(area, stream):
    """Clustered tasks share the work dir: task 0 leaves ``log.txt`` linking to the
    sentinel; task 1's stdio named ``log.txt`` must not truncate (or read) it."""
    spec = spec_with(area, 'ln -s "$SENTINEL/secret" log.txt', outputs=())
    spec["tasks"].append({"executable": {"path": "/bin/echo"}, "arguments": ["overwritten"],
                          stream: "log.txt"})  # fmt: skip
    result = area.lite(spec, SENTINEL=str(area.sentinel))
    assert result.rc == 71, result.stderr
    (error,) = result.errors
    assert "task 1: %s log.txt leads outside the work dir" % stream in error, error
    area.contained(result)


# ---------------------------------------------------------------------- inputs staged as links


def test_symlinked_inputs_point_at_their_sources_and_leave_them_alone(area):
    tool = area.data / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool ran\n")
    tool.chmod(0o644)  # not executable: the job must not chmod the shared original
    (area.data / "deep.txt").write_text("deep\n")
    area.before = area._state()
    inputs = [
        {"lfn": "in.txt", "symlink": True, "sources": [{"url": "file://%s/in.txt" % area.data}]},
        {"lfn": "d/e/f.txt", "symlink": True,
         "sources": [{"url": "file://%s/deep.txt" % area.data}]},
        {"lfn": "tool", "symlink": True, "executable": True,
         "sources": [{"url": "file://%s" % tool}]},
    ]  # fmt: skip
    script = "readlink in.txt > out.txt; readlink d/e/f.txt >> out.txt; ./tool >> out.txt"
    result = area.lite(spec_with(area, script, inputs=inputs))
    assert result.rc == 0, result.stderr
    lines = (area.out / "out.txt").read_text().splitlines()
    assert lines == [str(area.data / "in.txt"), str(area.data / "deep.txt"), "tool ran"]
    assert stat.S_IMODE(tool.stat().st_mode) == 0o644
    area.contained(result)


def test_an_inout_file_linked_in_may_be_updated_in_place(area):
    """sharedfs (a link to the shared copy) and condorio (a link to the start dir): a file
    that is input and output of the job leads, by design, to its linked original."""
    shared = area.root / "shared"
    shared.mkdir()
    (shared / "log.txt").write_text("line 1\n")
    (area.start / "brought.txt").write_text("brought 1\n")
    area.before = area._state()
    inputs = [
        {"lfn": "log.txt", "symlink": True, "sources": [{"url": "file://%s/log.txt" % shared}]},
        {"lfn": "brought.txt"},
    ]
    spec = spec_with(area, "echo line 2 >> log.txt; echo brought 2 >> brought.txt",
                     inputs=inputs, outputs=("log.txt", "brought.txt"))  # fmt: skip
    result = area.lite(spec)
    assert result.rc == 0, result.stderr
    assert (area.out / "log.txt").read_text() == "line 1\nline 2\n"
    assert (area.out / "brought.txt").read_text() == "brought 1\nbrought 2\n"
    (record,) = result.records
    assert record["files"]["log.txt"]["sha256"] == sha256(b"line 1\nline 2\n")
    area.contained(result)


# ---------------------------------------------------------------------- odd characters

ODD = [
    "with space.txt",
    "it's.txt",
    'say "hi".txt',
    "line\nbreak.txt",
    "tab\there.txt",
    "-rf",
    "--help",
    "~",
    "~user.txt",
    "%2e%2e",
    "k=v.txt",
    "$(touch pwned).txt",
    "`touch pwned`.txt",
    "semi;colon|pipe*star?.txt",
    "\u00e9t\u00e9 \u2713 \u65e5\u672c.txt",
    "sub dir/with space/f.txt",
    "..dots..",
    "\\back\\slash",
    "@list.txt",
]

COPY = """\
import json, os, sys
names = json.loads(sys.argv[1])
for i, name in enumerate(names):
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open("in-%d" % i, "rb") as src, open(name, "wb") as dst:
        dst.write(src.read())
    with open(name, "rb") as fh:
        assert fh.read() == ("content %d\\n" % i).encode()
"""


def test_odd_names_stay_inside_and_arrive_intact(area):
    """Each odd name is an input (staged from a source of the same odd name) and an output
    (staged to a destination of that name); the task copies one to the other."""
    src_dir = area.data / "odd"
    src_dir.mkdir()
    inputs, outputs = [], []
    for i, name in enumerate(ODD):
        source = src_dir / name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("content %d\n" % i)
        inputs.append({"lfn": "in-%d" % i, "sources": [{"url": "file://%s" % source}]})
        outputs.append({"lfn": name, "destinations": [{"url": "file://%s/%s" % (area.out, name)}]})
    (area.data / "copy.py").write_text(COPY)
    area.before = area._state()
    spec = {
        "version": 1,
        "job": {"id": "ID0000001", "name": "odd_ID0000001"},
        "tasks": [{"executable": {"path": sys.executable},
                   "arguments": [str(area.data / "copy.py"), json.dumps(ODD)]}],
        "inputs": inputs,
        "outputs": outputs,
    }  # fmt: skip
    result = area.lite(spec)
    assert result.rc == 0, result.stderr
    for i, name in enumerate(ODD):
        assert (area.out / name).read_bytes() == b"content %d\n" % i, name
    (record,) = result.records
    for i, name in enumerate(ODD):
        assert record["files"][name]["lfn"] == name
        assert record["files"][name]["sha256"] == sha256(b"content %d\n" % i), name
    meta = json.loads((area.start / "odd_ID0000001.meta").read_text())
    assert sorted(m["_id"] for m in meta) == sorted(ODD)
    assert not list(area.root.rglob("pwned"))
    assert sorted(os.listdir(area.home)) == []  # no "~" was expanded
    area.contained(result)


# Seeded random campaign: each case is one job whose inputs, outputs and arguments are
# random strings of awkward characters.  CI runs a few cases; the full run sets
# RELIABILITY_ODD_CASES (README: 1000 cases).
ODD_CASES = int(os.environ.get("RELIABILITY_ODD_CASES", "3"))
ODD_SEED = int(os.environ.get("RELIABILITY_ODD_SEED", "7"))
AWKWARD = (" \t\n'\"`$()[]{};|&*?~%=@#!<>^,:+-_.\\" "abcXYZ019"
           "\u00e9\u00df\u2713\u65e5\u00a0\u200b\U0001f600")  # fmt: skip

ODD_TASK = """\
import json, os, sys
pairs = json.loads(sys.argv[1])
for source, target in pairs:
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())
with open("argv.json", "w", encoding="utf-8", errors="surrogateescape") as fh:
    json.dump(sys.argv[2:], fh)
"""


def _awkward(rng, low: int, high: int) -> str:
    return "".join(rng.choice(AWKWARD) for _ in range(rng.randint(low, high)))


def _odd_case(rng) -> tuple[list[str], list[str], list[str]]:
    """(input names, output names, arguments): names safe by lite's rule and not nested;
    arguments without $NAME or backslashes, so the task must get them byte for byte."""
    import re

    names: list[str] = []
    while len(names) < 12:
        name = "/".join(_awkward(rng, 1, 8) for _ in range(rng.randint(1, 3)))
        if (
            lfn_problem(name) is None
            and name != "argv.json"
            and all(not n.startswith(name + "/") and not name.startswith(n + "/") and n != name
                    for n in names)
        ):  # fmt: skip
            names.append(name)
    args = []
    while len(args) < 20:
        arg = _awkward(rng, 0, 12)
        if "\\" not in arg and not re.search(r"\$[A-Za-z0-9_{\u00e9\u00df\u65e5]", arg):
            args.append(arg)
    return names[:6], names[6:], args


@pytest.mark.parametrize("case", range(ODD_CASES))
def test_random_awkward_names_and_arguments_round_trip(area, case):
    import random

    rng = random.Random(ODD_SEED * 1_000_003 + case)
    ins, outs, args = _odd_case(rng)
    sources = area.data / "src"
    inputs = []
    for i, name in enumerate(ins):
        path = sources / ("%d" % i) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"content of %d\n" % i)
        inputs.append({"lfn": name, "sources": [{"url": "file://%s" % path}]})
    (area.data / "task.py").write_text(ODD_TASK)
    area.before = area._state()
    outputs = [{"lfn": name, "destinations": [{"url": "file://%s/%s" % (area.out, name)}]}
               for name in [*outs, "argv.json"]]  # fmt: skip
    spec = {
        "version": 1,
        "job": {"id": "ID%07d" % case, "name": "odd_ID%07d" % case},
        "tasks": [{"executable": {"path": sys.executable},
                   "arguments": [str(area.data / "task.py"), json.dumps(list(zip(ins, outs))),
                                 *args]}],
        "inputs": inputs,
        "outputs": outputs,
    }  # fmt: skip
    result = area.lite(spec)
    assert result.rc == 0, (ins, outs, args, result.stderr)
    assert json.loads((area.out / "argv.json").read_text(encoding="utf-8")) == args
    for i, name in enumerate(outs):
        assert (area.out / name).read_bytes() == b"content of %d\n" % i, name
    (record,) = result.records
    assert record["mainjob"]["argument_vector"][2:] == args
    for i, name in enumerate(outs):
        assert record["files"][name]["sha256"] == sha256(b"content of %d\n" % i), name
    meta = json.loads((area.start / spec["job"]["name"]).with_suffix(".meta").read_text())
    assert sorted(m["_id"] for m in meta) == sorted([*outs, "argv.json"])
    arrived = {str(p.relative_to(area.out)) for p in area.out.rglob("*") if not p.is_dir()}
    assert arrived == {*outs, "argv.json"}  # nothing else, no temporary file
    area.contained(result)


def test_percent_encoded_dots_in_a_file_url_are_a_name_not_a_parent(area):
    """``%2e%2e`` is not decoded in a local URL: it names a directory called ``%2e%2e``."""
    dest = "file://%s/%%2e%%2e/%%2e%%2e/x.txt" % area.out
    spec = spec_with(area, "cp in.txt out.txt", outputs=())
    spec["outputs"] = [{"lfn": "out.txt", "destinations": [{"url": dest}]}]
    result = area.lite(spec)
    assert result.rc == 0, result.stderr
    assert (area.out / "%2e%2e" / "%2e%2e" / "x.txt").read_text() == "input bytes\n"
    area.contained(result)


# ---------------------------------------------------------------------- pegasus-transfer


def transfer(area: Area, entries: list, *args: str) -> Result:
    (area.start / "t.json").write_text(json.dumps(entries))
    proc = subprocess.run(
        [*console_script("pegasus-transfer"), "-f", "t.json", *args],
        cwd=area.start, env=area.env(), capture_output=True, timeout=120,
    )  # fmt: skip
    return Result(proc)


def test_transfer_honours_dot_dot_in_a_url_the_user_wrote(area):
    """``file:///a/b/../../c`` is a real path the user asked for: it is where the file goes."""
    (area.out / "sub").mkdir()
    dest = "file://%s/sub/../final.txt" % area.out
    entries = [{"type": "transfer", "lfn": "../../not/a/path",
                "src_urls": [{"url": "file://%s/in.txt" % area.data}],
                "dest_urls": [{"url": dest}]}]  # fmt: skip
    result = transfer(area, entries)
    assert result.rc == 0, result.stderr
    assert (area.out / "final.txt").read_text() == "input bytes\n"
    assert sorted(p.name for p in area.out.iterdir()) == ["final.txt", "sub"]
    assert list((area.out / "sub").iterdir()) == []
    area.contained(result)


def open_fifo_writer(fifo: Path, proc: subprocess.Popen):
    """The writing end of ``fifo`` once the reader has opened it (polled, with a deadline:
    a reader that died first must not hang the test)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:  # ENXIO: nobody reads yet
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("pegasus-transfer never opened the source") from None
            time.sleep(0.01)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb")


@pytest.mark.parametrize("hashing", [True, False], ids=["hashed", "plain"])
def test_transfer_temporary_files_live_in_the_destination_dir_and_go_away(area, hashing):
    """While a copy is under way its only trace is a hidden name in the destination
    directory; after success and after failures nothing but the finished files is left.
    The source is a FIFO: like a /proc file it says 0 bytes, and must still arrive whole."""
    fifo = area.root / "slow"
    os.mkfifo(fifo)
    entries = [
        {"type": "transfer", "lfn": "slow", "generate_checksum": hashing,
         "src_urls": [{"url": "file://%s" % fifo}],
         "dest_urls": [{"url": "file://%s/slow.txt" % area.out}]},
    ]  # fmt: skip
    (area.start / "t.json").write_text(json.dumps(entries))
    watched = area.root / "tmp"
    watched.mkdir()
    area.before = area._state()
    proc = subprocess.Popen(
        [*console_script("pegasus-transfer"), "-f", "t.json"],
        cwd=area.start, env=area.env(TMPDIR=str(watched)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        with open_fifo_writer(fifo, proc) as writer:
            writer.write(b"first half ")
            writer.flush()
            deadline = time.monotonic() + 60
            while not list(area.out.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.01)
            during = [p.name for p in area.out.iterdir()]
            assert len(during) == 1 and during[0].startswith(".slow.txt."), during
            assert list(watched.iterdir()) == []
            writer.write(b"second half\n")
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert (area.out / "slow.txt").read_bytes() == b"first half second half\n"

    good = sha256(b"input bytes\n")
    failing = [
        {"type": "transfer", "lfn": "bad-sum", "checksum": "0" * 64,
         "src_urls": [{"url": "file://%s/in.txt" % area.data}],
         "dest_urls": [{"url": "file://%s/bad-sum.txt" % area.out}]},
        {"type": "transfer", "lfn": "missing",
         "src_urls": [{"url": "file://%s/nope" % area.data}],
         "dest_urls": [{"url": "file://%s/missing.txt" % area.out}]},
        {"type": "transfer", "lfn": "good", "checksum": good,
         "src_urls": [{"url": "file://%s/in.txt" % area.data}],
         "dest_urls": [{"url": "file://%s/deep/er/good.txt" % area.out}]},
    ]  # fmt: skip
    result = transfer(area, failing, "-m", "1")
    assert result.rc == 1
    left = sorted(str(p.relative_to(area.out)) for p in area.out.rglob("*"))
    assert left == ["deep", "deep/er", "deep/er/good.txt", "slow.txt"]
    assert list(watched.iterdir()) == []
    area.contained(result)


# ---------------------------------------------------------------------- the planner


def write_workflow(top: Path, lfn_in: str, lfn_out: str, configuration: str = "condorio") -> None:
    """A one-job workflow (copy input to output) and its catalogs, with Pegasus's API."""
    from Pegasus.api import (
        Directory,
        File,
        FileServer,
        Job,
        Operation,
        Properties,
        ReplicaCatalog,
        Site,
        SiteCatalog,
        Transformation,
        TransformationCatalog,
        Workflow,
    )

    props = Properties()
    props["pegasus.data.configuration"] = configuration
    props.write(str(top / "pegasus.properties"))
    local = Site("local").add_directories(
        Directory(Directory.SHARED_SCRATCH, str(top / "scratch")).add_file_servers(
            FileServer("file://" + str(top / "scratch"), Operation.ALL)
        ),
        Directory(Directory.LOCAL_STORAGE, str(top / "output")).add_file_servers(
            FileServer("file://" + str(top / "output"), Operation.ALL)
        ),
    )
    SiteCatalog().add_sites(local).write(str(top / "sites.yml"))
    source = top / "input.txt"
    source.write_text("workflow input\n")
    ReplicaCatalog().add_replica("local", lfn_in, str(source)).write(str(top / "replicas.yml"))
    sh = Transformation("sh", site="local", pfn="/bin/sh", is_stageable=False)
    TransformationCatalog().add_transformations(sh).write(str(top / "transformations.yml"))
    copy = 'mkdir -p "$(dirname "$2")" && cp "$1" "$2"'  # $1, $2: unset, kickstart keeps them
    job = Job(sh, _id="ID0000001").add_args("-c", copy, "sh", File(lfn_in), File(lfn_out))
    job.add_inputs(File(lfn_in)).add_outputs(File(lfn_out), stage_out=True, register_replica=False)
    wf = Workflow("paths").add_jobs(job)
    wf.write(str(top / "workflow.yml"))


def plan(top: Path, *extra: str) -> Result:
    proc = subprocess.run(
        [*console_script("pegasus-plan"), "--dir", "submit", "--sites", "local",
         "--output-sites", "local", "workflow.yml", *extra],
        cwd=top, capture_output=True, timeout=300,
    )  # fmt: skip
    return Result(proc)


@pytest.mark.parametrize(
    "lfn_in, lfn_out, bad",
    [
        ("in.txt", "../escape.txt", "../escape.txt"),
        ("in.txt", "/tmp/abs-escape.txt", "/tmp/abs-escape.txt"),
        ("../../in.txt", "out.txt", "../../in.txt"),
        ("in.txt", "a/../../b.txt", "a/../../b.txt"),
        ("in.txt", "$HOME/out.txt", "$HOME/out.txt"),
        ("in.txt", "./out.txt", "./out.txt"),
    ],
    ids=["output-up", "output-absolute", "input-up", "output-inner-up", "variable", "dot"],
)
def test_plan_refuses_a_file_name_that_would_leave_the_job_dir(tmp_path, lfn_in, lfn_out, bad):
    write_workflow(tmp_path, lfn_in, lfn_out)
    result = plan(tmp_path)
    assert result.rc != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1, result.stderr
    assert "ID0000001" in errors[0] and repr(bad) in errors[0], errors[0]
    assert not (tmp_path / "submit").exists() or not list((tmp_path / "submit").rglob("*.dag"))
    assert not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.parametrize("configuration", ["condorio", "nonsharedfs"])
def test_deep_file_names_plan_run_and_land_under_the_output_site(tmp_path, configuration):
    """``sub/dir/out.txt`` is a Pegasus deep LFN: it keeps its directories at the output
    site and never leaves the job's, the scratch's or the output site's directory."""
    write_workflow(tmp_path, "in dir/in.txt", "sub dir/deep/out.txt", configuration)
    before = sorted(os.listdir(tmp_path))
    staging = ["--staging-site", "local=local"] if configuration == "nonsharedfs" else []
    planned = plan(tmp_path, *staging)
    assert planned.rc == 0, planned.stderr
    submit = next((tmp_path / "submit").rglob("braindump.yml")).parent
    scratch_root = tmp_path / "engine-scratch"
    scratch_root.mkdir()
    ran = subprocess.run(
        [*console_script("pegasus-run"), str(submit)],
        cwd=tmp_path, capture_output=True, timeout=300,
        env=dict(os.environ, PEGASUS_LOCAL_SCRATCH=str(scratch_root)),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr.decode()
    assert (tmp_path / "output" / "sub dir" / "deep" / "out.txt").read_text() == "workflow input\n"
    new = sorted(set(os.listdir(tmp_path)) - set(before))
    assert new == ["engine-scratch", "output", "scratch", "submit"], new
    assert os.listdir(scratch_root) == []
    outside = [p for p in tmp_path.parent.iterdir() if p.name in ("out.txt", "deep", "sub dir")]
    assert outside == []


# ---------------------------------------------------------------------- the local engine


def test_engine_refuses_output_names_that_leave_the_scratch_dir(tmp_path):
    sd = SubmitDir(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("outside the scratch dir\n")
    jobdir = sd.job("escape", "echo inside > mine.txt",
                    outputs=["mine.txt", "../../../victim.txt"])  # fmt: skip
    before = victim.read_text()
    proc = sd.run()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    message = (jobdir / "escape.err.000").read_text()
    assert "../../../victim.txt is outside the job's scratch directory" in message, message
    assert victim.read_text() == before
    assert not (sd.work / "victim.txt").exists()
    assert os.listdir(sd.scratch) == []


def test_engine_does_not_bring_back_a_link_to_outside_the_scratch_dir(tmp_path):
    sd = SubmitDir(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    jobdir = sd.job("linker", 'ln -s "%s" out.txt\nln -s "$PWD/real.txt" in.txt\n'
                    "echo real > real.txt" % secret,
                    outputs=["out.txt", "in.txt"])  # fmt: skip
    proc = sd.run()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    message = (jobdir / "linker.err.000").read_text()
    assert "out.txt" in message and "outside the job's scratch directory" in message
    assert not os.path.lexists(sd.work / "out.txt")
    assert secret.read_text() == SECRET
    assert os.listdir(sd.scratch) == []


def test_engine_brings_back_the_content_of_a_link_inside_the_scratch_dir(tmp_path):
    sd = SubmitDir(tmp_path)
    sd.job("linker", "echo real > real.txt\nln -s real.txt out.txt", outputs=["out.txt"])
    proc = sd.run()
    assert proc.returncode == 0, proc.stderr
    out = sd.work / "out.txt"
    assert not out.is_symlink() and out.read_text() == "real\n"
    assert os.listdir(sd.scratch) == []


@pytest.mark.parametrize("remap", ["../outside.txt", "{root}/outside.txt"])
def test_engine_keeps_remapped_outputs_inside_initialdir(tmp_path, remap):
    sd = SubmitDir(tmp_path)
    target = remap.replace("{root}", str(tmp_path))
    jobdir = sd.job("remapper", "echo data > out.txt", outputs=["out.txt"],
                    remaps="out.txt = %s" % target)  # fmt: skip
    proc = sd.run()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    message = (jobdir / "remapper.err.000").read_text()
    assert "transfer_output_remaps: out.txt would go to" in message, message
    assert "outside initialdir" in message
    assert not (tmp_path / "outside.txt").exists()
    assert os.listdir(sd.scratch) == []
