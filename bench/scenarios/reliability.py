"""Fault injection at full size: pegasus-transfer against servers that fail on purpose.

Campaigns (issue 7), each through the real ``pegasus-transfer`` with a sha256 on every entry:
  http  N files from tests/reliability/faulty_http.py: about 20% of requests get a fault
        (reset mid-body, 500, 503 with Retry-After, truncated body, one byte flipped,
        stalled body)
  sftp  N files, half down, half up, through sshd behind a proxy per file that cuts chosen
        connections mid-file (tests/reliability/fault_proxy.py CuttingProxy)
  s3    N objects, half down, half up, through moto behind a proxy that answers 500
        InternalError or 503 SlowDown in its place (FaultyS3Proxy)

Every campaign checks: exit 0; every destination file (local or remote) with the right
sha256; nothing else anywhere under the destination trees (no temporary or partial file;
for S3 no unfinished multipart upload); every transfer within the retry budget (its
attempts in the ``--json-report``); and the faults the servers counted.  For http the
accounting is exact: each transfer's failed attempts are the attempt-ending faults its
path got (500, 503, flip), and the "resuming" lines are its resets, truncations and stalls.

The test suite runs the same campaigns at CI size (tests/reliability/test_faults.py);
``python -m bench reliability`` runs them at full size and writes
bench/results/reliability.md.  The servers are the tests' own (tests/servers: sshd, moto).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.fault_proxy import CuttingProxy, FaultyS3Proxy
from tests.reliability.faulty_http import ENDING, KINDS, RESUMING, FaultyHttpServer

KIB = 1024
# how a failed attempt's error names each attempt-ending fault
ERROR_TEXT = {"error500": "HTTP 500", "busy503": "HTTP 503", "flip": "checksum mismatch"}


@dataclass
class Outcome:
    """What one campaign did and found; ``problems`` is empty when everything held."""

    name: str
    transfers: int = 0
    rc: int | None = None
    seconds: float = 0.0
    requests: int = 0  # requests (http, s3) or connections (sftp) the fault layer saw
    faults: collections.Counter = field(default_factory=collections.Counter)
    transfers_hit: int = 0  # transfers that got at least one fault
    verified: int = 0  # destination files checked with sha256
    leftovers: list[str] = field(default_factory=list)
    attempts: collections.Counter = field(default_factory=collections.Counter)  # n -> transfers
    problems: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def summary(self) -> str:
        return "%s: %d transfers, %d faults in %d requests, %d verified, %d problems" % (
            self.name, self.transfers, self.total_faults, self.requests, self.verified,
            len(self.problems),
        )  # fmt: skip


def pegasus_transfer() -> list[str]:
    """The installed command beside this interpreter (the checkout's venv)."""
    beside = os.path.join(os.path.dirname(sys.executable), "pegasus-transfer")
    if os.access(beside, os.X_OK):
        return [beside]
    found = shutil.which("pegasus-transfer")
    if found:
        return [found]
    raise RuntimeError("pegasus-transfer is not installed: run scripts/test.sh")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_file(path: Path, size: int, rng: random.Random) -> str:
    """Random bytes from ``rng`` (repeatable), written to ``path``; their sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.randbytes(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def entry(lfn: str, src: str, dst: str, sha256: str, src_site: str, dst_site: str) -> dict:
    return {
        "type": "transfer",
        "lfn": lfn,
        "linkage": "input",
        "checksum": sha256,
        "src_urls": [{"site_label": src_site, "url": src}],
        "dest_urls": [{"site_label": dst_site, "url": dst}],
    }


def everything_under(top: Path) -> set[str]:
    """Every file and link under ``top`` (hidden ones too), relative to it."""
    found = set()
    for directory, _, names in os.walk(top):
        for name in names:
            found.add(os.path.relpath(os.path.join(directory, name), top))
    return found


def run_transfer(
    work: Path,
    entries: list[dict],
    outcome: Outcome,
    env: dict[str, str],
    threads: int,
    attempts: int,
    deadline: float,
) -> dict:
    """pegasus-transfer on ``entries`` (a file, -f); its JSON report ({} if none)."""
    listing = work / ("%s-transfers.json" % outcome.name)
    listing.write_text(json.dumps(entries))
    report = work / ("%s-report.json" % outcome.name)
    if report.exists():
        report.unlink()
    command = [
        *pegasus_transfer(), "-f", str(listing), "-n", str(threads), "-m", str(attempts),
        "--json-report", str(report), "--no-progress",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=work,
        env=dict(os.environ, **env),
        timeout=deadline,
        check=False,
    )
    outcome.seconds = time.monotonic() - started
    outcome.rc = proc.returncode
    outcome.stderr = proc.stderr
    outcome.transfers = len(entries)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-5:]
        outcome.problems.append("exit %d: %s" % (proc.returncode, " | ".join(tail)))
    if "Traceback" in proc.stderr:
        outcome.problems.append("a traceback on stderr")
    try:
        return json.loads(report.read_text())
    except (OSError, ValueError):
        outcome.problems.append("no JSON report")
        return {}


def attempts_by_lfn(report: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = collections.defaultdict(list)
    for attempt in report.get("attempts", ()):
        found[attempt["lfn"]].append(attempt)
    return found


def check_budget(
    outcome: Outcome, report: dict, lfns: list[str], budget: int
) -> dict[str, list[dict]]:
    """Each transfer ended with one success, within ``budget`` attempts."""
    by_lfn = attempts_by_lfn(report)
    for lfn in lfns:
        tries = by_lfn.get(lfn, [])
        outcome.attempts[len(tries)] += 1
        if not tries or not tries[-1]["success"]:
            outcome.problems.append("%s: no successful attempt" % lfn)
        elif sum(1 for t in tries if t["success"]) != 1:
            outcome.problems.append("%s: more than one successful attempt" % lfn)
        if len(tries) > budget:
            outcome.problems.append(
                "%s: %d attempts, over the budget of %d" % (lfn, len(tries), budget)
            )
    return by_lfn


def check_files(outcome: Outcome, top: Path, expected: dict[str, str], label: str) -> None:
    """``top`` holds exactly ``expected`` (relative path -> sha256), nothing more."""
    for relative, sha256 in sorted(expected.items()):
        path = top / relative
        if not path.is_file():
            outcome.problems.append("%s %s: missing" % (label, relative))
        elif sha256_file(path) != sha256:
            outcome.problems.append("%s %s: wrong sha256 (corrupt)" % (label, relative))
        else:
            outcome.verified += 1
    extra = sorted(everything_under(top) - set(expected)) if top.is_dir() else []
    outcome.leftovers.extend("%s %s" % (label, name) for name in extra)
    outcome.problems.extend("%s %s: left behind" % (label, name) for name in extra)


# ---------------------------------------------------------------------- http


def http_campaign(
    work: Path,
    count: int,
    seed: int,
    rate: float = 0.2,
    threads: int = 8,
    attempts: int = 3,
    timeout: float = 3.0,
    min_size: int = 2 * KIB,
    max_size: int = 256 * KIB,
    deadline: float = 900.0,
) -> Outcome:
    """``count`` downloads from the faulty server into a tree of 10 directories."""
    outcome = Outcome("http")
    rng = random.Random(seed)
    www, out = work / "www", work / "http-out"
    shutil.rmtree(out, ignore_errors=True)
    expected: dict[str, str] = {}
    for i in range(count):
        relative = "d%d/f%04d.dat" % (i % 10, i)
        expected[relative] = make_file(www / relative, rng.randint(min_size, max_size), rng)
    server = FaultyHttpServer(www, seed=seed, rate=rate, attempts=attempts).start()
    try:
        entries = [
            entry(name, server.url(name), "file://%s/%s" % (out, name), sha, "web", "local")
            for name, sha in expected.items()
        ]
        env = {"PEGASUS_TRANSFER_TIMEOUT": str(timeout)}
        report = run_transfer(work, entries, outcome, env, threads, attempts, deadline)
    finally:
        server.stop()
    outcome.requests = server.requests
    outcome.faults.update(server.injected)
    check_files(outcome, out, expected, "destination")
    # a mismatch is worth one immediate re-fetch on top of the rounds
    by_lfn = check_budget(outcome, report, list(expected), attempts + 1)
    resuming = 0
    for name in expected:
        faults = server.faults_for(name)
        outcome.transfers_hit += bool(faults)
        resuming += sum(1 for f in faults if f in RESUMING)
        ending = [f for f in faults if f in ENDING]
        failed = [t.get("error") or "" for t in by_lfn.get(name, []) if not t["success"]]
        if len(failed) != len(ending):
            outcome.problems.append(
                "%s: %d failed attempts for %d attempt-ending faults %s"
                % (name, len(failed), len(ending), ending)
            )
        for kind in ENDING:
            seen = sum(1 for error in failed if ERROR_TEXT[kind] in error)
            wanted = ending.count(kind)
            if seen != wanted:
                outcome.problems.append(
                    "%s: %d %s faults, %d such errors" % (name, wanted, kind, seen)
                )
    resumed = outcome.stderr.count("; resuming at byte ")
    if resumed != resuming:
        outcome.problems.append("%d resumes logged for %d resuming faults" % (resumed, resuming))
    return outcome


# ---------------------------------------------------------------------- sftp


def sftp_campaign(
    work: Path,
    sshd,
    count: int,
    seed: int,
    rate: float = 0.3,
    threads: int = 4,
    attempts: int = 3,
    min_size: int = 64 * KIB,
    max_size: int = 512 * KIB,
    per_proxy: int = 1,
    deadline: float = 900.0,
) -> Outcome:
    """``count`` files, alternately downloaded and uploaded, through cutting proxies in front
    of ``sshd`` (tests/servers/sshd.Sshd: port, user, client_key), ``per_proxy`` files each
    (they share its SSH connection).  A proxy cuts at most ``attempts - 1`` connections, so
    no file can lose more attempts than that, however the cuts fall."""
    outcome = Outcome("sftp")
    rng = random.Random(seed)
    base = work / "sftp"
    shutil.rmtree(base, ignore_errors=True)
    remote_src, remote_dst = base / "remote-src", base / "remote-dst"
    local_src, local_dst = base / "local-src", base / "local-dst"
    remote_dst.mkdir(parents=True)
    down: dict[str, str] = {}
    up: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for i in range(count):
        name = "%s%04d.dat" % ("g" if i % 2 == 0 else "p", i)
        sizes[name] = rng.randint(min_size, max_size)
        if i % 2 == 0:
            down[name] = make_file(remote_src / name, sizes[name], rng)
        else:
            up[name] = make_file(local_src / name, sizes[name], rng)
    names = sorted(sizes)
    groups = [names[i : i + per_proxy] for i in range(0, len(names), max(1, per_proxy))]
    proxies: dict[str, CuttingProxy] = {}
    entries = []
    try:
        for group in groups:
            proxy = CuttingProxy(
                ("127.0.0.1", sshd.port), seed=seed, name=group[0], rate=rate,
                max_cuts=attempts - 1, cut_from=16 * KIB, cut_to=sum(sizes[n] for n in group),
            ).start()  # fmt: skip
            proxies[group[0]] = proxy
            where = "sftp://%s@127.0.0.1:%d" % (sshd.user, proxy.port)
            for name in group:
                if name in down:
                    src, dst = where + str(remote_src / name), "file://%s" % (local_dst / name)
                    entries.append(entry(name, src, dst, down[name], "ssh", "local"))
                else:
                    src, dst = "file://%s" % (local_src / name), where + str(remote_dst / name)
                    entries.append(entry(name, src, dst, up[name], "local", "ssh"))
        env = {"SSH_PRIVATE_KEY": str(sshd.client_key)}
        report = run_transfer(work, entries, outcome, env, threads, attempts, deadline)
    finally:
        for proxy in proxies.values():
            proxy.stop()
    for group in groups:
        proxy = proxies[group[0]]
        outcome.requests += proxy.connections
        outcome.faults["cut"] += proxy.cuts
        outcome.transfers_hit += len(group) if proxy.cuts else 0  # behind a cut connection
        if proxy.cuts > attempts - 1:
            outcome.problems.append(
                "%s: %d cuts, over the schedule's limit" % (group[0], proxy.cuts)
            )
    check_files(outcome, local_dst, down, "local destination")
    check_files(outcome, remote_dst, up, "remote destination")
    check_budget(outcome, report, sorted(sizes), attempts)
    return outcome


# ---------------------------------------------------------------------- s3


def s3_campaign(
    work: Path,
    endpoint_url: str,
    count: int,
    seed: int,
    rate: float = 0.2,
    threads: int = 8,
    attempts: int = 3,
    min_size: int = 1 * KIB,
    max_size: int = 256 * KIB,
    multipart: int = 0,
    bucket: str | None = None,
    deadline: float = 900.0,
) -> Outcome:
    """``count`` objects, alternately downloaded and uploaded, through the faulty proxy in
    front of the S3 server at ``endpoint_url`` (moto); plus ``multipart`` uploads of 9 MiB
    (two parts).  The bucket (``faults-<seed>-<count>`` unless named) must be new: the
    schedule follows the object paths, so a run repeats exactly on a fresh server."""
    import boto3

    outcome = Outcome("s3")
    rng = random.Random(seed)
    base = work / "s3"
    shutil.rmtree(base, ignore_errors=True)
    local_src, local_dst = base / "local-src", base / "local-dst"
    local_dst.mkdir(parents=True)
    client = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    bucket = bucket or "faults-%d-%d" % (seed, count)
    client.create_bucket(Bucket=bucket)
    down: dict[str, str] = {}
    up: dict[str, str] = {}
    for i in range(count + multipart):
        name = "%s%04d.dat" % ("g" if i % 2 == 0 and i < count else "p", i)
        size = rng.randint(min_size, max_size) if i < count else 9 * 1024 * KIB
        if name.startswith("g"):
            data = rng.randbytes(size)
            client.put_object(Bucket=bucket, Key="src/" + name, Body=data)
            down[name] = hashlib.sha256(data).hexdigest()
        else:
            up[name] = make_file(local_src / name, size, rng)
    creds = base / "credentials.conf"
    with FaultyS3Proxy(endpoint_url, seed=seed, rate=rate, max_faults=attempts - 1) as proxy:
        creds.write_text(
            "[faulty]\nendpoint = %s\nregion = us-east-1\n\n"
            "[test@faulty]\naccess_key = testing\nsecret_key = testing\n" % proxy.url
        )
        creds.chmod(0o600)
        entries = []
        for name in sorted(down):
            src = "s3://test@faulty/%s/src/%s" % (bucket, name)
            entries.append(
                entry(name, src, "file://%s" % (local_dst / name), down[name], "s3", "local")
            )
        for name in sorted(up):
            dst = "s3://test@faulty/%s/dst/%s" % (bucket, name)
            entries.append(
                entry(name, "file://%s" % (local_src / name), dst, up[name], "local", "s3")
            )
        env = {
            "PEGASUS_CREDENTIALS": str(creds),
            "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": str(base),
        }
        report = run_transfer(work, entries, outcome, env, threads, attempts, deadline)
    outcome.requests = proxy.requests
    outcome.faults.update(proxy.injected)
    for name in list(down) + list(up):
        key = "/%s/%s/%s" % (bucket, "src" if name in down else "dst", name)
        faults = proxy.faults_for(key)
        outcome.transfers_hit += bool(faults)
        if len(faults) > attempts - 1:
            outcome.problems.append(
                "%s: %d faults, over the schedule's limit" % (name, len(faults))
            )
    check_files(outcome, local_dst, down, "local destination")
    stored = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="dst/")
    for page in pages:
        for item in page.get("Contents", ()):
            stored[item["Key"][len("dst/") :]] = item["Key"]
    for name, sha in sorted(up.items()):
        if name not in stored:
            outcome.problems.append("object dst/%s: missing" % name)
            continue
        digest = hashlib.sha256()
        for chunk in client.get_object(Bucket=bucket, Key=stored[name])["Body"].iter_chunks(
            1 << 20
        ):
            digest.update(chunk)
        if digest.hexdigest() != sha:
            outcome.problems.append("object dst/%s: wrong sha256 (corrupt)" % name)
        else:
            outcome.verified += 1
    for name in sorted(set(stored) - set(up)):
        outcome.leftovers.append("object dst/%s" % name)
        outcome.problems.append("object dst/%s: left behind" % name)
    unfinished = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    for upload in unfinished:
        outcome.leftovers.append("multipart upload %s" % upload["Key"])
        outcome.problems.append("multipart upload of %s left unfinished" % upload["Key"])
    check_budget(outcome, report, sorted(down) + sorted(up), attempts)
    return outcome


# ---------------------------------------------------------------------- the full run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http", type=int, default=1000, help="http transfers (default 1000)")
    parser.add_argument("--sftp", type=int, default=100, help="sftp transfers (default 100)")
    parser.add_argument("--s3", type=int, default=100, help="s3 transfers (default 100)")
    parser.add_argument("--seed", type=int, default=7, help="the schedule's seed (default 7)")
    parser.add_argument("--rate", type=float, default=0.2, help="fault rate (default 0.2)")


def _row(outcome: Outcome) -> list[object]:
    kinds = ", ".join("%s %d" % (k, v) for k, v in sorted(outcome.faults.items()))
    used = max(outcome.attempts) if outcome.attempts else 0
    return [
        outcome.name, outcome.transfers, outcome.requests, outcome.total_faults, kinds,
        outcome.transfers_hit, outcome.verified, len(outcome.leftovers), used,
        "%.1f" % outcome.seconds, len(outcome.problems),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> str:
    from bench.install import WORK
    from bench.runner import table, write_results
    from tests.servers.moto import MotoS3
    from tests.servers.sshd import Sshd

    work = WORK / "reliability"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    outcomes: list[Outcome] = []
    started = time.monotonic()
    if args.http:
        outcomes.append(http_campaign(work, args.http, args.seed, rate=args.rate))
        print(outcomes[-1].summary(), file=sys.stderr)
    if args.sftp:
        sshd = Sshd(work / "sshd").start()
        try:
            outcomes.append(
                sftp_campaign(work, sshd, args.sftp, args.seed, rate=max(args.rate, 0.3))
            )
        finally:
            sshd.stop()
        print(outcomes[-1].summary(), file=sys.stderr)
    if args.s3:
        moto = MotoS3(work / "moto").start()
        try:
            outcomes.append(
                s3_campaign(
                    work, moto.endpoint_url, args.s3, args.seed, rate=args.rate, multipart=2
                )
            )
        finally:
            moto.stop()
        print(outcomes[-1].summary(), file=sys.stderr)
    header = [
        "campaign", "transfers", "requests / connections", "faults injected", "by kind",
        "transfers hit", "files verified (sha256)", "partial files left", "most attempts",
        "seconds", "problems",
    ]  # fmt: skip
    sections = [("Results", table(header, [_row(o) for o in outcomes]))]
    for outcome in outcomes:
        histogram = ", ".join(
            "%d attempt%s: %d" % (n, "" if n == 1 else "s", c)
            for n, c in sorted(outcome.attempts.items())
        )
        body = ["- attempts per transfer: %s" % (histogram or "none")]
        body += ["- problem: %s" % p for p in outcome.problems[:50]] or ["- problems: none"]
        sections.append((outcome.name, body))
    sections.append(
        (
            "Method",
            [
                "Seed %d, fault rate %.2f per request (sftp: per connection, at least 0.3), %.0f s "
                "in all.  Fault kinds for http: %s.  Budget: 3 attempts per transfer (-m 3), "
                "schedules built never to need more."
                % (args.seed, args.rate, time.monotonic() - started, ", ".join(KINDS)),
            ],
        )
    )
    path = write_results("reliability", "Fault injection (issue 7)", sections)
    if not any(o.problems for o in outcomes):
        shutil.rmtree(work, ignore_errors=True)  # hundreds of MB of generated files
    return str(path)
