"""pegasus-transfer throughput beside Pegasus 5.1.3's, rclone, cp and curl; sha256 speed.

Cases (issue 3, "Measured in bench/"):
  small   1000 x 4 KiB file -> file
  large   5 x 200 MiB file -> file (ours also with a "checksum" on every entry)
  http    200 x 64 KiB and 2 x 200 MiB http -> file from nginx on 127.0.0.1 (a free port)
  sha256  of 1 GiB: transfer.integrity.sha256_file, hashlib, openssl dgst, sha256sum

Ours is the clean install of this checkout (bench.install.bench_venv, with the http extra);
Pegasus's is pegasus-wms.worker from PyPI in its own venv, run with its defaults (8
threads, each started 2*i seconds late by design, so it gets fewer runs).  Every tool gets
a fresh destination directory per run (removed and synced before the clock starts) and its
result is checked after every run: the exact file names and sizes, and every sha256 on the
first measured run, so a fast but wrong result cannot count.  Data is generated once in
bench/work/transfer/data.  The page cache is warm (one untimed warm-up run per tool).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench.install import WORK, bench_venv, pegasus_worker_venv
from bench.runner import table, write_results

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
BASE = WORK / "transfer"
DATA = BASE / "data"
OUT = BASE / "out"
LOGS = BASE / "logs"

# name: (directory under DATA, number of files, size of each)
SETS = {
    "small": ("small", 1000, 4 * KIB),
    "large": ("large", 5, 200 * MIB),
    "http-small": ("www/small", 200, 64 * KIB),
    "http-large": ("www/large", 2, 200 * MIB),
}
OURS = "ours: pegasus-transfer"
OURS_CHECKED = "ours: pegasus-transfer, sha256 checked (checksum on each entry)"
ANCHOR = "Pegasus 5.1.3 pegasus-transfer (defaults)"
SHA_OURS = "ours: transfer.integrity.sha256_file"
SHA_HASHLIB = "hashlib.sha256, 1 MiB reads"
HASH_FILE = "hash1g.bin"
HASH_SIZE = GIB
DATA_VERSION = 1

NGINX_CONF = """\
daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
    }}
}}
"""

HASH_SCRIPT = r"""
import hashlib, json, sys, time
from transfer.integrity import sha256_file

path = sys.argv[1]

def plain(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()

out = {"ours": [], "hashlib": []}
ours, hashlib_ = ("ours", sha256_file), ("hashlib", plain)
for name, fn in (ours, hashlib_, hashlib_, ours):
    started = time.perf_counter()
    digest = fn(path)
    out[name].append([time.perf_counter() - started, digest])
json.dump(out, sys.stdout)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool (default 5)")
    parser.add_argument(
        "--anchor-runs",
        type=int,
        default=3,
        help="measured runs of Pegasus's pegasus-transfer, which sleeps by design (default 3)",
    )
    parser.add_argument(
        "--no-anchor", action="store_true", help="leave Pegasus's pegasus-transfer out"
    )
    parser.add_argument(
        "--only",
        default="small,large,http-small,http-large,sha256",
        help="comma-separated subset of: small, large, http-small, http-large, sha256",
    )


# ---------------------------------------------------------------- data


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            digest.update(block)
            fh.write(block)
            left -= len(block)
    return digest.hexdigest()


def ensure_data() -> dict:
    """{set name: {file name: (size, sha256)}}, plus the 1 GiB file; made once."""
    manifest_path = DATA / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == DATA_VERSION:
            return manifest
    except (OSError, ValueError):
        pass
    shutil.rmtree(DATA, ignore_errors=True)
    manifest = {"version": DATA_VERSION, "sets": {}}
    for name, (sub, count, size) in SETS.items():
        directory = DATA / sub
        directory.mkdir(parents=True)
        width = len(str(count - 1))
        files = {}
        for i in range(count):
            fname = "f%0*d" % (width, i)
            files[fname] = [size, _write_random(directory / fname, size)]
        manifest["sets"][name] = files
    manifest["sha256"] = {HASH_FILE: [HASH_SIZE, _write_random(DATA / HASH_FILE, HASH_SIZE)]}
    os.sync()
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def warm_cache(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while fh.read(8 * MIB):
                pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while True:
            chunk = fh.read(MIB)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)


def verify(dest: Path, expected: dict, deep: bool) -> str | None:
    """None when dest holds exactly the expected files (sizes; sha256 too when deep)."""
    try:
        found = {e.name: e for e in os.scandir(dest)}
    except OSError as exc:
        return "destination %s unreadable: %s" % (dest, exc.strerror)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        return "destination has %d missing and %d unexpected files (e.g. %s)" % (
            len(missing), len(extra), (missing + extra)[0],
        )  # fmt: skip
    for name, (size, digest) in expected.items():
        entry = found[name]
        if not entry.is_file() or entry.stat().st_size != size:
            return "%s: wrong size or not a regular file" % name
        if deep and sha256_of(Path(entry.path)) != digest:
            return "%s: wrong sha256" % name
    return None


# ---------------------------------------------------------------- running


def spawn(argv: list[str], env: dict, log: Path, stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children); stderr to ``log``."""
    out_fd = os.open(stdout or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, out_fd, 1), (os.POSIX_SPAWN_DUP2, err_fd, 2)],
        )
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        os.close(out_fd)
        os.close(err_fd)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError("exit %d: %s (log: %s)" % (code, tail[0][:200], log))
    return elapsed, usage.ru_utime + usage.ru_stime


class Case:
    """One tool on one data set: fresh destination, timed command, checked result."""

    def __init__(
        self,
        group: str,
        name: str,
        argv: list[str],
        dest: Path,
        expected: dict,
        env: dict,
        runs: int,
        warmup: bool = True,
        premake: bool = False,
        note: str = "",
        sources: list[Path] = (),
    ):
        self.group, self.name, self.argv, self.dest = group, name, argv, dest
        self.expected, self.env, self.runs, self.warmup = expected, env, runs, warmup
        self.premake, self.note, self.sources = premake, note, list(sources)
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.error: str | None = None
        self.log = LOGS / ("%s--%s.log" % (group, "".join(c if c.isalnum() else "-" for c in name)))

    def once(self, deep: bool, record: bool) -> None:
        if self.error:
            return
        shutil.rmtree(self.dest, ignore_errors=True)
        if self.premake:
            self.dest.mkdir(parents=True)
        else:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
        os.sync()
        warm_cache(self.sources)  # rclone drops what it read from the page cache
        try:
            wall, cpu = spawn(self.argv, self.env, self.log)
        except (RuntimeError, OSError) as exc:
            self.error = str(exc)
            return
        problem = verify(self.dest, self.expected, deep)
        shutil.rmtree(self.dest, ignore_errors=True)
        if problem:
            self.error = "wrong result: %s" % problem
            return
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)


def shuffled(cases: list[Case], round_number: int) -> list[Case]:
    """This round's order: each data set's tools shuffled (seeded by the round), so no
    tool always runs right after the same other one."""
    order: list[Case] = []
    for group in dict.fromkeys(c.group for c in cases):
        members = [c for c in cases if c.group == group]
        random.Random(round_number).shuffle(members)
        order.extend(members)
    return order


def transfer_list(path: Path, pairs: list[tuple[str, str, str, str | None]]) -> Path:
    """Pegasus's JSON: one transfer per file, as the planner writes them."""
    entries = []
    for i, (lfn, src, dst, checksum) in enumerate(pairs):
        entry = {
            "type": "transfer",
            "id": i + 1,
            "lfn": lfn,
            "linkage": "input",
            "src_urls": [{"site_label": "source", "url": src}],
            "dest_urls": [{"site_label": "local", "url": dst}],
        }
        if checksum:
            entry["checksum"] = checksum
        entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=1))
    return path


class Nginx:
    """nginx from Debian serving DATA/www on 127.0.0.1 at a free port, 2 workers."""

    def __init__(self, root: Path):
        import socket

        self.work = BASE / "nginx"
        self.work.mkdir(parents=True, exist_ok=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        conf = self.work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=self.work, port=self.port, root=root))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.log = open(self.work / "nginx.out", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [nginx, "-p", str(self.work), "-c", str(conf)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited %s: see %s" % (self.proc.returncode, self.work))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("nginx is not listening; see %s" % self.work) from None
                time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the master stops its workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SystemExit(
            "bench transfer: %s is not installed (apt-get install %s)" % (program, program)
        )
    return path


def build_cases(args, manifest, ours, anchor, env, nginx) -> list[Case]:
    """Every tool on every selected data set, in the order they run in each round."""
    groups = set(args.only.split(","))
    cases: list[Case] = []

    def add(group, name, argv, expected, dest_name, **kw):
        dest = OUT / group / dest_name
        argv = [a.replace("{DEST}", str(dest)) for a in argv]
        kw.setdefault("runs", args.runs)
        kw["sources"] = [DATA / SETS[group][0] / lfn for lfn in expected]
        cases.append(Case(group, name, argv, dest, expected, env, **kw))

    for group in ("small", "large", "http-small", "http-large"):
        if group not in groups:
            continue
        sub = SETS[group][0]
        expected = {k: tuple(v) for k, v in manifest["sets"][group].items()}
        http = group.startswith("http")
        if http:
            base_url = "%s/%s/" % (nginx.url, sub.split("/", 1)[1])
            sources = {name: base_url + name for name in expected}
        else:
            sources = {name: "file://%s" % (DATA / sub / name) for name in expected}

        def listing(name: str, checksums: bool, group=group, sources=sources, expected=expected):
            dest = OUT / group / name
            pairs = [
                (lfn, src, "file://%s/%s" % (dest, lfn), expected[lfn][1] if checksums else None)
                for lfn, src in sources.items()
            ]
            return str(transfer_list(BASE / "lists" / ("%s-%s.json" % (group, name)), pairs))

        add(group, OURS, [ours, "-f", listing("ours", False)], expected, "ours")
        if group in ("large", "http-large"):
            add(group, OURS_CHECKED, [ours, "-f", listing("ours-checksum", True)], expected,
                "ours-checksum", note="sha256 compared before the rename")  # fmt: skip
        if anchor:
            add(group, ANCHOR, [anchor, "-f", listing("pegasus", False)], expected, "pegasus",
                runs=args.anchor_runs, warmup=False,
                note="%d runs: sleeps 2*i s per thread by design" % args.anchor_runs)  # fmt: skip
        if http:
            add(group, "rclone copy", [need("rclone"), "copy", "--http-url", base_url, ":http:",
                "{DEST}"], expected, "rclone")  # fmt: skip
            add(group, "curl (1 process, keep-alive)", [need("curl"), "-sS", "--fail",
                "--output-dir", "{DEST}", "--remote-name-all", *sources.values()], expected,
                "curl", premake=True)  # fmt: skip
        else:
            add(group, "rclone copy", [need("rclone"), "copy", str(DATA / sub), "{DEST}"],
                expected, "rclone")  # fmt: skip
            add(group, "cp -r", [need("cp"), "-r", str(DATA / sub), "{DEST}"], expected, "cp")
    return cases


def run_hashes(runs: int, python: str, env: dict, manifest: dict) -> tuple[dict, str | None]:
    """{tool: [seconds]} for sha256 of the 1 GiB file, tools interleaved per round.

    The two Python functions run in one process per round in the order A B B A (two
    samples each per round); sha256sum, 4x slower, only in the first three rounds."""
    path = DATA / HASH_FILE
    want = manifest["sha256"][HASH_FILE][1]
    samples: dict[str, list[float]] = {
        SHA_OURS: [],
        SHA_HASHLIB: [],
        "openssl dgst -sha256": [],
        "sha256sum": [],
    }
    commands = {
        "openssl dgst -sha256": [
            shutil.which("openssl") or "/usr/bin/openssl",
            "dgst",
            "-sha256",
            str(path),
        ],
        "sha256sum": [shutil.which("sha256sum") or "sha256sum", str(path)],
    }
    out = LOGS / "sha256.out"
    for round_number in range(-1, runs):  # round -1 warms up
        proc = subprocess.run(
            [python, "-c", HASH_SCRIPT, str(path)], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            return samples, "python hashing failed: %s" % proc.stderr.strip()[-200:]
        result = json.loads(proc.stdout)
        for key, name in (("ours", SHA_OURS),
                          ("hashlib", SHA_HASHLIB)):  # fmt: skip
            for seconds, digest in result[key]:
                if digest != want:
                    return samples, "%s: wrong sha256" % name
                if round_number >= 0:
                    samples[name].append(seconds)
        for name, argv in commands.items():
            if name == "sha256sum" and round_number >= 3:
                continue
            try:
                wall, _ = spawn(argv, env, LOGS / "sha256-tool.log", out)
            except (RuntimeError, OSError) as exc:
                return samples, "%s: %s" % (name, exc)
            if out.read_text().split()[-1 if name.startswith("openssl") else 0] != want:
                return samples, "%s: wrong sha256" % name
            if round_number >= 0:
                samples[name].append(wall)
    return samples, None


# ---------------------------------------------------------------- report

GROUP_TITLES = {
    "small": "1000 x 4 KiB, file -> file",
    "large": "5 x 200 MiB, file -> file",
    "http-small": "200 x 64 KiB, http -> file (nginx on loopback)",
    "http-large": "2 x 200 MiB, http -> file (nginx on loopback)",
}


def _med(values: list[float]) -> float:
    return statistics.median(values)


def group_section(group: str, cases: list[Case], manifest: dict, reference: str) -> list[str]:
    files = manifest["sets"][group]
    total = sum(size for size, _ in files.values())
    ref = next((c for c in cases if c.name.startswith(reference) and c.wall), None)
    ours = next((c for c in cases if c.name == OURS and c.wall), None)
    rows = []
    for case in cases:
        if not case.wall:
            rows.append([case.name, 0, "FAILED: %s" % (case.error or "no runs"), "", "", "", "",
                         "", case.note])  # fmt: skip
            continue
        median = _med(case.wall)
        rate = "%.0f MiB/s" % (total / MIB / median)
        if total / len(files) < MIB:
            rate = "%.0f files/s" % (len(files) / median)
        rows.append(
            [case.name, len(case.wall), median, "%.2f-%.2f" % (min(case.wall), max(case.wall)),
             rate, _med(case.cpu),
             "%.2f" % (median / _med(ref.wall)) if ref else "-",
             "%.2f" % (median / _med(ours.wall)) if ours else "-",
             case.note]
        )  # fmt: skip
    header = ["tool", "runs", "median s", "min-max s", "rate", "CPU s (median)",
              "time / %s" % reference, "time / ours", "note"]  # fmt: skip
    return table(header, rows)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")


def by_name(cases: list[Case], name: str) -> Case | None:
    return next((c for c in cases if c.name == name), None)


def goals(by_group: dict, hashes: dict, manifest: dict) -> list[str]:
    """One row per goal of issue 3: measured value and pass/FAIL (a tool that failed: FAIL)."""
    lines = ["| goal | measured | result |", "|---|---|---|"]

    def time_ratio(group: str, a: str, b: str) -> tuple[str, bool | None]:
        ca, cb = by_name(by_group[group], a), by_name(by_group[group], b)
        for case in (ca, cb):
            if case is None:
                return "not run", None
            if not case.wall:
                return "%s failed: %s" % (case.name, case.error), False
        return "%.2f" % (_med(ca.wall) / _med(cb.wall)), None

    def row(goal: str, what: str, value: tuple[str, bool | None], test) -> None:
        text, failed = value
        ok = failed if failed is not None else (None if text == "not run" else test(float(text)))
        lines.append("| %s | %s = %s | %s |" % (goal, what, text, verdict(ok)))

    if "small" in by_group:
        row(
            "small files: ours within 1.2x of cp -r",
            "ours / cp -r",
            time_ratio("small", OURS, "cp -r"),
            lambda r: r <= 1.2,
        )
        row("small files: at least 20x faster than Pegasus's default", "Pegasus / ours",
            time_ratio("small", ANCHOR, OURS), lambda r: r >= 20)  # fmt: skip
    if "large" in by_group:
        total = sum(size for size, _ in manifest["sets"]["large"].values())
        for name, what in ((OURS_CHECKED, "with sha256 checked: the goal"),
                           (OURS, "no checksum asked: for reference")):  # fmt: skip
            case = by_name(by_group["large"], name)
            if case is None:
                continue
            if case.wall:
                value = ("%.2f" % (total / GIB / _med(case.wall)), None)
            else:
                value = ("failed: %s" % case.error, False)
            row("large files: at least 1.2 GiB/s (%s)" % what, "GiB/s", value,
                lambda r: r >= 1.2)  # fmt: skip
    for group in ("http-small", "http-large"):
        if group in by_group:
            row("%s: no slower than rclone" % GROUP_TITLES[group], "ours / rclone",
                time_ratio(group, OURS, "rclone copy"), lambda r: r <= 1.0)  # fmt: skip
    if hashes:
        ours, plain = hashes.get(SHA_OURS), hashes.get(SHA_HASHLIB)
        value = ("%.2f" % (_med(plain) / _med(ours)), None) if ours and plain else ("-", False)
        row("sha256: at least 0.9x of hashlib's speed", "ours speed / hashlib speed", value,
            lambda r: r >= 0.9)  # fmt: skip
    return lines


def hash_section(hashes: dict, error: str | None) -> list[str]:
    rows = []
    base = hashes.get(SHA_HASHLIB)
    for name, values in hashes.items():
        if not values:
            rows.append([name, 0, "FAILED", "", "", ""])
            continue
        median = _med(values)
        rows.append([name, len(values), median, "%.2f-%.2f" % (min(values), max(values)),
                     "%.0f MiB/s" % (HASH_SIZE / MIB / median),
                     "%.2f" % (median / _med(base)) if base else "-"])  # fmt: skip
    body = table(["tool", "samples", "median s", "min-max s", "rate", "time / hashlib"], rows)
    body += [
        "",
        "The two Python functions are timed inside one process of the bench venv (no "
        "interpreter start), in the order A B B A each round (two samples per round); "
        "openssl and sha256sum as whole processes (sha256sum, 4x slower, in three rounds "
        "only).  Every digest is checked against the data's manifest.",
    ]
    if error:
        body += ["", "Error: %s" % error]
    return body


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> str:
    for sub in (OUT, LOGS):
        shutil.rmtree(sub, ignore_errors=True)
        sub.mkdir(parents=True)
    groups = set(args.only.split(","))
    load_before = os.getloadavg()
    started = time.monotonic()
    venv = bench_venv(extras=("http",))
    ours = str(venv / "bin" / "pegasus-transfer")
    anchor = None if args.no_anchor else str(pegasus_worker_venv("5.1.3"))
    manifest = ensure_data()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "OSG_SQUID_LOCATION"):
        env.pop(var, None)
    rclone_conf = BASE / "rclone.conf"
    rclone_conf.touch()
    env["RCLONE_CONFIG"] = str(rclone_conf)
    env["TMPDIR"] = str(BASE / "tmp")  # Pegasus's temporary files stay with the bench
    Path(env["TMPDIR"]).mkdir(exist_ok=True)

    nginx = Nginx(DATA / "www") if groups & {"http-small", "http-large"} else None
    try:
        cases = build_cases(args, manifest, ours, anchor, env, nginx)
        warm_cache([DATA / SETS[g][0] / n for g in SETS if g in groups
                    for n in manifest["sets"][g]])  # fmt: skip
        for case in cases:
            if case.warmup:
                case.once(deep=False, record=False)
        for round_number in range(max([c.runs for c in cases], default=0)):
            for case in shuffled(cases, round_number):
                if round_number < case.runs:
                    case.once(deep=round_number == 0, record=True)
        hashes, hash_error = {}, None
        if "sha256" in groups:
            warm_cache([DATA / HASH_FILE])
            hashes, hash_error = run_hashes(args.runs, str(venv / "bin" / "python"), env,
                                            manifest)  # fmt: skip
    finally:
        if nginx:
            nginx.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    by_group: dict[str, list[Case]] = {}
    for case in cases:
        by_group.setdefault(case.group, []).append(case)
    sections = [("Goals (issue 3)", goals(by_group, hashes, manifest))]
    for group, group_cases in by_group.items():
        reference = "rclone copy" if group.startswith("http") else "cp -r"
        sections.append((GROUP_TITLES[group],
                         group_section(group, group_cases, manifest, reference)))  # fmt: skip
    if "sha256" in groups:
        sections.append(("sha256 of 1 GiB", hash_section(hashes, hash_error)))
    notes = method_notes(args, anchor, load_before, load_after, elapsed)
    sections.append(("How this was measured", notes))
    return str(write_results("transfer", "pegasus-transfer throughput", sections))


def _version(argv: list[str]) -> str:
    """The first two words of the tool's version line (``curl 7.88.1``)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "%s not found" % argv[0]
    text = (proc.stdout or proc.stderr).strip().splitlines()
    words = text[0].replace("nginx version: ", "").split() if text else []
    return " ".join(words[:2]) or argv[0]


def method_notes(args, anchor, load_before, load_after, elapsed) -> list[str]:
    return [
        "- Tools: ours = `bench/work/venv/bin/pegasus-transfer` (clean install of this "
        "checkout + requests), defaults (8 threads); Pegasus = `%s` (pegasus-wms.worker 5.1.3, "
        "defaults: 8 threads, wget for http); %s; %s; %s; %s."
        % (
            anchor or "not run",
            _version(["rclone", "version"]),
            _version(["curl", "--version"]),
            _version(["nginx", "-v"]),
            _version(["openssl", "version"]),
        ),
        "- Each tool: %d measured runs (Pegasus's: %d, as it sleeps 2*i s in thread i by "
        "design: about 16 s per small-file case), one untimed warm-up run before (not for "
        "Pegasus's), all tools interleaved round by round, each data set's tools in an order "
        "shuffled every round (so no tool always follows the same one).  Before every run the "
        "destination is removed, `sync` is called and the source files are read once more "
        "(rclone drops the files it read from the page cache, which made the next tool read "
        "from disk); the clock covers the whole process, start to exit."
        % (args.runs, args.anchor_runs),
        "- After every run: the destination must hold exactly the expected names and sizes; on "
        "the first measured run every file's sha256 is compared too.  A failure drops the tool "
        "from the table with the reason.",
        "- Rates use MiB = 2^20 and GiB = 2^30 bytes; CPU = user + system time of the tool's "
        "process and its children (nginx's CPU is not counted).  Warm page cache.",
        "- Shared machine: load average %.2f before, %.2f after; the whole scenario took "
        "%.0f s.  Compare ratios within this run, not absolute numbers across runs."
        % (load_before[0], load_after[0], elapsed),
    ]
