"""osdf:// / stash:// / pelican:// (transfer/handlers/pelican.py) — with FAKE clients.

Neither ``pelican`` nor ``stashcp`` can be installed here (and no OSDF origin can run), so
these tests put stand-in scripts of those names on PATH.  They record their argv and
environment, and copy bytes between the local file and a directory that plays the
federation (``<store>/<host>/<path>``); a missing object answers as the real clients do
(an error mentioning 404), a path containing "forbidden" answers 403.  Everything else is
the real CLI and engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import transfer

FAKE_CLIENT = r'''#!{python}
"""Fake {name}: records argv, copies files between local paths and osdf-like URLs."""
import json, os, shutil, sys
from urllib.parse import urlsplit

store = os.environ["FAKE_OSDF_STORE"]
with open(os.environ["FAKE_OSDF_LOG"], "a") as log:
    record = {{"argv": sys.argv[1:], "http_proxy": os.environ.get("http_proxy")}}
    log.write(json.dumps(record) + "\n")
args = [a for a in sys.argv[1:] if not a.startswith("-")]
if "{name}" == "pelican":
    if args[:1] != ["object"] or args[1] not in ("get", "put", "copy"):
        sys.exit("fake pelican: unsupported command %r" % args)
    args = args[2:]
src, dst = args

def where(url):
    parts = urlsplit(url)
    return os.path.join(store, parts.netloc or "_", parts.path.lstrip("/"))

if "://" in src:
    path = where(src)
    if "forbidden" in src:
        sys.stderr.write("Error: failed download: 403: permission denied for %s\n" % src)
        sys.exit(1)
    if not os.path.exists(path):
        sys.stderr.write("Error: failed download from %s: 404: object not found\n" % src)
        sys.exit(1)
    shutil.copyfile(path, dst)
else:
    path = where(dst)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(src, path)
'''


@pytest.fixture
def fake_clients(tmp_path):
    """fake_clients(*names) -> (env, store, log): those fake programs alone on PATH."""

    def make(*names):
        bin_dir = tmp_path / ("bin-" + "-".join(names))
        bin_dir.mkdir()
        for name in names:
            script = bin_dir / name
            script.write_text(FAKE_CLIENT.format(python=sys.executable, name=name))
            script.chmod(0o755)
        store = tmp_path / "store"
        store.mkdir(exist_ok=True)
        log = tmp_path / "calls.jsonl"
        env = {
            "PATH": "%s:/usr/bin:/bin" % bin_dir,
            "FAKE_OSDF_STORE": str(store),
            "FAKE_OSDF_LOG": str(log),
            "http_proxy": "http://squid.example.org:3128",
        }
        return env, store, log

    return make


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_pelican_put_and_get(pegasus_transfer, fake_clients, tmp_path):
    env, store, log = fake_clients("pelican", "stashcp")  # pelican is preferred
    local = tmp_path / "local"
    local.mkdir()
    data = {"a.dat": os.urandom(70_000), "b.dat": b"b" * 10}
    for name, payload in data.items():
        (local / name).write_bytes(payload)

    put = pegasus_transfer(
        [
            transfer("file://%s/%s" % (local, n), "osdf:///ospool/ap20/data/%s" % n, lfn=n)
            for n in data
        ],
        env=env,
    )
    assert put.rc == 0, put.stderr
    for name, payload in data.items():
        assert (store / "_" / "ospool/ap20/data" / name).read_bytes() == payload
    assert {a["lfn"]: a["sha256"] for a in put.report["attempts"]} == {
        n: sha256(p) for n, p in data.items()
    }

    out = tmp_path / "out"
    (store / "fed.example.org/ns").mkdir(parents=True)
    (store / "fed.example.org/ns/a.dat").write_bytes(data["a.dat"])
    get = pegasus_transfer(
        [
            transfer("osdf:///ospool/ap20/data/%s" % n, "file://%s/%s" % (out, n), lfn=n)
            for n in data
        ]
        + [transfer("pelican://fed.example.org/ns/a.dat", "file://%s/via-pelican" % out, lfn="p")],
        env=env,
    )
    assert get.rc == 0, get.stderr
    for name, payload in data.items():
        assert (out / name).read_bytes() == payload
    assert (out / "via-pelican").read_bytes() == data["a.dat"]
    assert sorted(os.listdir(out)) == sorted([*data, "via-pelican"])  # no temporaries left

    recorded = calls(log)
    puts = [c["argv"] for c in recorded if c["argv"][:2] == ["object", "put"]]
    assert sorted(puts) == sorted(
        ["object", "put", str(local / n), "osdf:///ospool/ap20/data/%s" % n] for n in data
    )
    gets = [c["argv"] for c in recorded if c["argv"][:2] == ["object", "get"]]
    assert ["object", "get", "pelican://fed.example.org/ns/a.dat"] in [g[:3] for g in gets]
    assert all(c["http_proxy"] == "" for c in recorded)  # as Pegasus: no proxy


def test_stashcp_when_there_is_no_pelican(pegasus_transfer, fake_clients, tmp_path):
    env, store, log = fake_clients("stashcp")
    (tmp_path / "up").write_bytes(b"via stashcp")
    put = pegasus_transfer([transfer("file://%s/up" % tmp_path, "stash:///osgconnect/up")], env=env)
    assert put.rc == 0, put.stderr
    assert (store / "_" / "osgconnect/up").read_bytes() == b"via stashcp"

    get = pegasus_transfer(
        [transfer("stash:///osgconnect/up", "file://%s/down" % tmp_path)], env=env
    )
    assert get.rc == 0, get.stderr
    assert (tmp_path / "down").read_bytes() == b"via stashcp"
    argvs = [c["argv"] for c in calls(log)]
    assert argvs[0] == [str(tmp_path / "up"), "stash:///osgconnect/up"]
    assert argvs[1][0] == "stash:///osgconnect/up" and len(argvs[1]) == 2


def test_missing_and_forbidden_objects_fail_at_once(pegasus_transfer, fake_clients, tmp_path):
    env, _store, _log = fake_clients("pelican")
    out = tmp_path / "out"
    run = pegasus_transfer(
        [
            transfer("osdf:///ospool/nothing", "file://%s/nothing" % out, lfn="missing"),
            transfer("osdf:///ospool/forbidden/x", "file://%s/x" % out, lfn="denied"),
        ],
        env=env,
    )
    assert run.rc == 1
    by_lfn: dict[str, list] = {}
    for attempt in run.report["attempts"]:
        by_lfn.setdefault(attempt["lfn"], []).append(attempt)
    assert len(by_lfn["missing"]) == 1 and "404" in by_lfn["missing"][0]["error"]
    assert len(by_lfn["denied"]) == 1 and "403" in by_lfn["denied"][0]["error"]
    assert not out.exists() or os.listdir(out) == []


def test_mkdir_is_a_no_op_and_remove_is_refused(pegasus_transfer, fake_clients):
    env, _store, log = fake_clients("pelican")
    mkdir = pegasus_transfer(
        [{"type": "mkdir", "target": {"site_label": "o", "url": "osdf:///ospool/new/dir"}}],
        env=env,
    )
    assert mkdir.rc == 0, mkdir.stderr
    assert calls(log) == []

    remove = pegasus_transfer(
        [{"type": "remove", "target": {"site_label": "o", "url": "osdf:///ospool/new/f"}}],
        env=env,
    )
    assert remove.rc == 1
    assert "osdf:// does not support remove" in remove.stderr
    assert "cannot delete objects" in remove.stderr
    assert calls(log) == []


def test_missing_program_is_one_line(pegasus_transfer, tmp_path):
    (tmp_path / "f").write_text("x")
    run = pegasus_transfer(
        [transfer("file://%s/f" % tmp_path, "osdf:///ospool/f")],
        env={"PATH": str(tmp_path / "nothing-here")},
    )
    assert run.rc == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("pegasus-transfer:")]
    assert len(lines) == 1
    assert "need the pelican or stashcp program" in lines[0]
    assert "install the Pelican client" in lines[0]
