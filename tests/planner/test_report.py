"""``pegasus-statistics SUBMIT_DIR --html OUT.html``: the run report.

Three runs: the statistics tests' diamond (real records from our kickstart and
pegasus-lite, one from Pegasus 5.1, a retry, a clustered job, a failure), a 10,000-job
synthetic run written from a template (lite records with stage-in/stage-out reports on
the submit side's clock), and the split example planned and run for real.  The page's
numbers are checked against statistics.compute(); the page itself is opened in a real
headless Chromium: every plot must render, the console must stay clean, and a screenshot
is kept ($PEGASUS_LITE_ARTIFACTS, else the test's tmp dir).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from planner import records, report, report_plots, statistics
from tests.planner.browser import Browser, find_chromium
from tests.planner.test_statistics import build_diamond

try:
    import plotly  # noqa: F401
except ImportError:  # in CI a missing plotly is a failure, elsewhere a skip saying why
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the HTML report needs plotly (pip install 'plotly>=5')", allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]
T0 = 1767225600.0  # 2026-01-01 00:00:00 UTC
PLOTLY_JS = len(report_plots.plotly_script())


# ---------------------------------------------------------------- a 10k-job run

SUB = """universe = vanilla
executable = {root}/pegasus-lite.pyz
arguments = "{name}.json"
output = {root}/{leaf}/{name}.out
error = {root}/{leaf}/{name}.err
+pegasus_job_class = {job_class}
+pegasus_site = "condorpool"
+pegasus_wf_xformation = "{xform}"
+pegasus_wf_dax_job_id = "{dax}"
+pegasus_cluster_size = 1
queue
"""

RECORD = """- invocation: True
  version: 3.0
  start: {start}
  duration: {duration:.3f}
  transformation: "{xform}"
  derivation: "{dax}"
  resource: "condorpool"
  hostname: node{host:03d}
  mainjob:
    start: {start}
    duration: {duration:.3f}
    usage:
      utime: {utime:.3f}
      stime: 0.100
      maxrss: 20480
    status:
      raw: {raw}
      regular_exitcode: {code}
    executable:
      file_name: /usr/bin/{xform}
    argument_vector:
      - "-i"
      - "in_{i}.dat"
  cwd: /scratch/pegasus.{i}
  files:
    "in_{i}.dat":
      lfn: "in_{i}.dat"
      file_name: /scratch/pegasus.{i}/in_{i}.dat
      size: {in_size}
    "out_{i}.dat":
      lfn: "out_{i}.dat"
      file_name: /scratch/pegasus.{i}/out_{i}.dat
      size: {out_size}
      output: True
    stderr:
      temporary_name: /tmp/ks.err
      data: "{stderr}"

---------------pegasus-multipart
- transfer_attempts:
  - src_url: "https://data.example.org/in_{i}.dat"
    src_label: "origin"
    dst_url: "file:///scratch/pegasus.{i}/in_{i}.dat"
    dst_label: "local"
    success: True
    start: {in_start:.0f}
    duration: {in_secs:.1f}
    lfn: "in_{i}.dat"
    bytes: {in_size}
{stage_out}"""

STAGE_OUT = """  - src_url: "file:///scratch/pegasus.{i}/out_{i}.dat"
    src_label: "local"
    dst_url: "s3://bucket/run/out_{i}.dat"
    dst_label: "staging"
    success: True
    start: {out_start:.0f}
    duration: {out_secs:.1f}
    lfn: "out_{i}.dat"
    bytes: {out_size}
"""

ERR = """{launch}: Job launched in directory /scratch/job
{launch}: PegasusLite: version 5.1.3 (pegasus-lite test)

########################[Pegasus Lite] Setting up workdir ########################
{launch}: Changing cwd to /scratch/pegasus.{i}

##############[Pegasus Lite] Staging in input data and executables ##############

#####################[Pegasus Lite] Executing the user task #####################
{tail}{finish}: PegasusLite: runtime {runtime}
PegasusLite: exitcode {code}
"""


def _iso(epoch: float) -> str:
    """A record's time: the worker's local time and its offset, as kickstart writes it."""
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


def _stamp(epoch: float) -> str:
    """The worker's log time stamp (local time, to the second), as lite/log.py writes it."""
    return dt.datetime.fromtimestamp(int(epoch)).strftime("%Y-%m-%d %H:%M:%S")


def synthetic_run(root: Path, n: int, slots: int = 250) -> Path:
    """A finished submit dir of ``n`` compute jobs on ``slots`` slots and one stage-out job:
    every 97th job fails its first try (exit 1) and succeeds on the retry, every 2503rd
    fails both tries; each try has a record, a stage-in (https) and, on success, a stage-out (s3)
    report, and a PegasusLite log, all on the submit side's clock."""
    root.mkdir(parents=True)
    dag, events = ["# synthetic"], []
    free = [T0 + 5.0] * slots
    for i in range(n):
        name, leaf = "work_ID%07d" % i, "%02x/%02x" % (i // 256 // 256, i // 256 % 256)
        (root / leaf).mkdir(parents=True, exist_ok=True)
        xform = ("align", "sort", "merge")[i % 3]
        (root / leaf / (name + ".sub")).write_text(
            SUB.format(root=root, leaf=leaf, name=name, job_class=1, xform=xform, dax="ID%07d" % i)
        )
        dag += [
            "JOB %s %s/%s.sub" % (name, leaf, name),
            "SCRIPT POST %s %s/pegasus-lite.pyz exitcode -r $RETURN .//%s/%s.out"
            % (name, root, leaf, name),
            "RETRY %s 1" % name,
        ]
        tries = 2 if i % 97 == 0 or i % 2503 == 0 else 1
        end = 0.0
        for number in range(tries):
            code = 1 if (i % 97 == 0 and number == 0) or (i % 2503 == 0) else 0
            submit = max(heapq.heappop(free), end + 1.0)  # a retry follows its try
            execute = submit + 0.5 + (i % 7) * 0.1
            in_secs, task = 0.4 + (i % 5) * 0.3, 20.0 + (i * 37 % 100)
            out_secs = 0.0 if code else 0.3 + (i % 4) * 0.2
            launch = execute + 0.2
            task_start = launch + 0.3 + in_secs
            finish = task_start + task + out_secs + 0.2
            end = finish + 0.3
            heapq.heappush(free, end + 0.5)
            in_size, out_size = 1000000 + i * 13, 0 if code else 500000 + i * 7
            stage_out = (
                ""
                if code
                else STAGE_OUT.format(
                    i=i, out_start=task_start + task + 0.1, out_secs=out_secs, out_size=out_size
                )
            )
            record = RECORD.format(
                start=_iso(task_start),
                duration=task,
                xform=xform,
                dax="ID%07d" % i,
                host=i % 50,
                utime=task * 0.9,
                raw=code << 8,
                code=code,
                i=i,
                in_size=in_size,
                out_size=out_size,
                stderr="failed to open in_%d.dat" % i if code else "",
                in_start=launch + 0.3,
                in_secs=in_secs,
                stage_out=stage_out,
            )
            tail = "%s: The task failed with exit code 1\n" % _stamp(finish) if code else ""
            err = ERR.format(
                launch=_stamp(launch),
                i=i,
                tail=tail,
                finish=_stamp(finish),
                runtime=round(finish - launch),
                code=code,
            )
            suffix = ".%03d" % number
            (root / leaf / (name + ".out" + suffix)).write_text(record)
            (root / leaf / (name + ".err" + suffix)).write_text(err)
            post = "SUCCESS" if code == 0 else "FAILURE"
            for when, event, info in (
                (submit, "SUBMIT", "%d.0" % (1000 + i)),
                (execute, "EXECUTE", "-"),
                (end, "JOB_TERMINATED", "-"),
                (end, "JOB_SUCCESS" if code == 0 else "JOB_FAILURE", str(code)),
                (end + 0.1, "POST_SCRIPT_STARTED", "-"),
                (end + 0.3, "POST_SCRIPT_TERMINATED", "-"),
                (end + 0.3, "POST_SCRIPT_" + post, str(code)),
            ):
                events.append(
                    (when, "%.3f %s %s %s condorpool - %d" % (when, name, event, info, number + 1))
                )
    last = max(free)
    aux = "stage_out_local_staging_0_0"
    (root / "00" / "00" / (aux + ".sub")).write_text(
        SUB.format(
            root=root, leaf="00/00", name=aux, job_class=3, xform="pegasus::transfer", dax=""
        )
    )
    (root / "00" / "00" / (aux + ".in")).write_text(
        json.dumps(
            [
                {
                    "type": "transfer",
                    "lfn": "final.dat",
                    "linkage": "output",
                    "src_urls": [{"site_label": "local", "url": "file:///scratch/final.dat"}],
                    "dest_urls": [{"site_label": "output", "url": "file:///storage/final.dat"}],
                }
            ]
        )
    )
    (root / "00" / "00" / (aux + ".out.000")).write_text("")
    (root / "00" / "00" / (aux + ".err.000")).write_text(
        "%s,000    INFO:  Stats: Total 1 transfers, 3.0 MB transferred in 2 seconds. "
        "Rate: 1.5 MB/s (12.0 Mb/s)\n" % _stamp(last + 1.0)
    )
    dag += ["JOB %s 00/00/%s.sub" % (aux, aux), "RETRY %s 1" % aux]
    for when, event, info in (
        (last, "SUBMIT", "99999.0"),
        (last + 0.5, "EXECUTE", "-"),
        (last + 3.0, "JOB_TERMINATED", "-"),
        (last + 3.0, "JOB_SUCCESS", "0"),
    ):
        events.append((when, "%.3f %s %s %s local - 1" % (when, aux, event, info)))
    events.sort(key=lambda e: e[0])
    lines = [
        "%.3f INTERNAL *** DAGMAN_STARTED 0 ***" % T0,
        *(line for _, line in events),
        "%.3f INTERNAL *** DAGMAN_FINISHED 1 ***" % (last + 4.0),
    ]
    (root / "jobstate.log").write_text("\n".join(lines) + "\n")
    (root / "synthetic-0.dag").write_text("\n".join(dag) + "\n")
    (root / "braindump.yml").write_text(
        'wf_uuid: "s-10k"\ndax_label: "synthetic"\ndag: "synthetic-0.dag"\n'
        'jsd: "jobstate.log"\nsubmit_dir: "%s"\n' % root
    )
    return root


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def diamond(tmp_path_factory, reference: Path) -> Path:
    return build_diamond(tmp_path_factory.mktemp("report") / "run0001", reference)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """30,000 small files: on a tmpfs (/dev/shm) when there is one, which writes them in a
    second where a slow disk takes half a minute."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        top = Path(tempfile.mkdtemp(prefix="report10k-", dir=shm))
    else:
        top = tmp_path_factory.mktemp("report10k")
    try:
        yield synthetic_run(top / "run0001", 10000)
    finally:
        if top.parent == shm:
            shutil.rmtree(top, ignore_errors=True)


def write_page(submit: Path, out: Path) -> Path:
    """The page, written through the command line (with the statistics files beside it)."""
    page = out / "report.html"
    code = statistics.main([str(submit), "--html", str(page), "-q", "-o", str(out / "stats")])
    assert code == 0
    return page


@pytest.fixture(scope="module")
def diamond_page(tmp_path_factory, diamond: Path) -> Path:
    return write_page(diamond, tmp_path_factory.mktemp("diamond-page"))


@pytest.fixture(scope="module")
def big_page(tmp_path_factory, big: Path) -> Path:
    return write_page(big, tmp_path_factory.mktemp("big-page"))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    named = os.environ.get("PEGASUS_LITE_ARTIFACTS")
    path = Path(named) / "report" if named else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = "Chromium not found (apt-get install chromium, or set PEGASUS_LITE_CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        import websocket  # noqa: F401
    except ImportError:
        message = "websocket-client is not installed (pip install websocket-client)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser(chromium: str):
    with Browser(chromium) as b:
        yield b


# ---------------------------------------------------------------- reading a page


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text)
    assert found, "no report-data block"
    return json.loads(found.group(1))


def stat(text: str, key: str) -> str:
    found = re.search(r'data-stat="%s"[^>]*>([^<]*)<' % re.escape(key), text)
    assert found, key
    return found.group(1)


def seconds(text: str, key: str) -> str:
    found = re.search(r'data-stat="time-%s" data-seconds="([^"]*)"' % re.escape(key), text)
    assert found, key
    return found.group(1)


def table_rows(text: str, key: str) -> list[list[str]]:
    found = re.search(r'<table[^>]*data-table="%s"[^>]*>.*?<tbody>(.*?)</tbody>' % key, text, re.S)
    assert found, key
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [[_unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def _unescape(cell: str) -> str:
    import html

    return html.unescape(cell)


def assert_matches_statistics(text: str, submit: Path) -> statistics.Summary:
    """Every number of the summary table and the time lines, as statistics.compute has them."""
    summary = statistics.compute(records.load(str(submit), keep_output=False))
    for key, counts in (
        ("tasks", summary.tasks),
        ("jobs", summary.jobs),
        ("subworkflows", summary.subworkflows),
    ):
        assert [
            int(stat(text, "%s-%s" % (key, name)))
            for name in ("succeeded", "failed", "incomplete", "total", "retries", "tries")
        ] == list(counts.row("")[1:])
    for key, value in (
        ("wall", summary.wall_time),
        ("job-wall", summary.job_wall_time),
        ("submit-wall", summary.submit_wall_time),
        ("badput", summary.job_badput),
        ("submit-badput", summary.submit_badput),
    ):
        assert seconds(text, key) == ("-" if value is None else "%.3f" % float(value)), key
        assert stat(text, "time-" + key) == statistics.format_seconds(value)
    return summary


# ---------------------------------------------------------------- the pages' content


def test_diamond_page_has_the_statistics_numbers(diamond_page, diamond):
    text = diamond_page.read_text()
    summary = assert_matches_statistics(text, diamond)
    assert summary.jobs.row("")[1:] == (5, 1, 1, 7, 2, 8)
    data = page_data(text)
    assert data["workflow"] == "diamond" and data["wf_uuid"] == "u-1"
    assert data["attempts"] == 8 and data["failed_attempts"] == 3
    assert data["status"] == "failure"
    # plotly.js once, inline: nothing fetched from the network
    assert text.count("Plotly.newPlot(") == data["figures"] == 5
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="http', text)


def test_diamond_page_shows_the_failure_with_its_stderr(diamond_page):
    text = diamond_page.read_text()
    failure = re.search(
        r'<details class="failure" data-job="analyze_ID0000007".*?</details>', text, re.S
    )
    assert failure, "the failed job is not shown"
    block = failure.group(0)
    assert "exit code 3" in block
    # the task's stderr (from the record) ends with the last line it printed
    task = re.search(r"Task stderr.*?<pre>(.*?)</pre>", block, re.S).group(1).splitlines()
    assert task[-1] == "oops" and task[0] == "line12" and len(task) == report.TAIL
    # the job's stderr: the PegasusLite log of the second try, its last lines
    job = re.search(r"Job stderr (\S+) .*?<pre>(.*?)</pre>", block, re.S)
    assert job.group(1).endswith("analyze_ID0000007.err.001")
    assert job.group(2).splitlines()[-1] == "PegasusLite: exitcode 3"


def test_diamond_page_tables(diamond_page):
    text = diamond_page.read_text()
    slowest = table_rows(text, "slowest")
    assert [row[:2] for row in slowest[:2]] == [
        ["analyze_ID0000007", "2"],
        ["merge_findrange_PID1_ID1", "1"],
    ]
    assert slowest[0][5] == "250.7"  # EXECUTE 150.2 to JOB_TERMINATED 400.9
    # a try with only a kickstart record: its staging is not known, and the page says so
    findrange = next(row for row in slowest if row[0] == "findrange_ID0000003")
    assert findrange[7] == findrange[9] == "not known"
    # the Pegasus 5.1 record's transfer blocks: two files in, one out
    assert table_rows(text, "protocols")[0][:5] == ["file", "in", "2", "0", "292 B"]
    files = {row[0]: row for row in table_rows(text, "files")}
    assert files["keg"][2] == "281" and files["keg"][3] == "stage-in (file)"
    assert files["f.b"][3] == "stage-out (file)"
    assert "not known" in text and "worker clock" in text


def test_big_page_aggregates(big_page, big):
    text = big_page.read_text()
    summary = assert_matches_statistics(text, big)
    failed_final = len(range(0, 10000, 2503))
    retried = len({*range(0, 10000, 97), *range(0, 10000, 2503)})
    assert summary.jobs.row("")[1:] == (
        10001 - failed_final,
        failed_final,
        0,
        10001,
        retried,
        10001 + retried,
    )
    data = page_data(text)
    assert data["attempts"] == 10001 + retried
    assert data["transfers"] == 10000 + retried + (10000 - failed_final) + 1
    # one bar per try would not render: the slowest only, and the page says so
    assert "only the %d slowest are drawn" % report.BAR_SLOWEST in text
    assert "Failed jobs (%d)" % failed_final in text
    # the page stays small: plotly.js plus aggregated figures and top-N tables
    assert len(text) - PLOTLY_JS < 1_500_000
    protocols = {(row[0], row[1]): row for row in table_rows(text, "protocols")}
    assert set(protocols) == {("https", "in"), ("s3", "out"), ("file", "aux")}
    assert protocols[("https", "in")][2] == str(10000 + retried)
    files = table_rows(text, "files")
    assert files[0][:2] == ["in_9999.dat", report.fmt_bytes(1000000 + 9999 * 13)]
    # every try's phases are on the submit side's clock: none needed lining up
    assert "worker clock" not in text


def test_phases_of_a_synthetic_try(tmp_path):
    """A job's try: stage-in from the lite log's first stamp (to the second) to the task,
    the task from the record, stage-out to the last stamp."""
    submit = synthetic_run(tmp_path / "run0001", 3)
    data = report.collect(records.load(str(submit), keep_output=False))
    view = next(a for a in data.attempts if a.job == "work_ID0000001")
    assert view.phases_known and not view.shifted
    # submitted at 5.0, started 5.6, lite launched 5.8 (logged as 5: clipped to the start),
    # stage-in 0.3 + 0.7 s, task 57 s, stage-out to the last of: the log's stamp (64) and
    # the stage-out report's start (64, rounded) + 0.5 s; JOB_TERMINATED at 64.8
    phases = {p: (round(a, 3), round(b, 3)) for p, a, b in view.segments}
    assert phases == {
        "queued": (5.0, 5.6),
        "running": (5.6, 64.8),
        "stage_in": (5.6, 6.8),
        "task": (6.8, 63.8),
        "stage_out": (63.8, 64.5),
        "post": (64.9, 65.1),
    }
    ins = [t for t in data.transfers if t.job == "work_ID0000001 #1"]
    assert [(t.direction, t.protocol, t.lfn) for t in ins] == [
        ("in", "https", "in_1.dat"),
        ("out", "s3", "out_1.dat"),
    ]


def test_aggregates_stay_bounded_for_100k_tries():
    """100,000 tries (no files needed): the figures hold at most MAX_BINS points per series
    and BAR_SLOWEST bars, so the page does not grow with the run."""
    data = report.ReportData()
    data.summary = statistics.Summary()
    for i in range(100000):
        view = report.AttemptView("job%06d" % i, 1)
        view.submit, view.start, view.end = i * 0.5, i * 0.5 + 1, i * 0.5 + 30 + i % 50
        view.segments = [
            ("queued", view.submit, view.start),
            ("running", view.start, view.end),
            ("task", view.start + 2, view.end - 1),
        ]
        view.failed = i % 1000 == 0
        data.attempts.append(view)
        t = report.TransferView()
        t.start, t.seconds, t.bytes, t.protocol = view.start, 1.0, 1 << 20, "https"
        data.transfers.append(t)
    data.span = max(a.end for a in data.attempts)
    width, series, failed = report.concurrency(data)
    assert len(failed) <= report.MAX_BINS + 1
    assert sum(failed) == 100
    # time-weighted: the bins hold every try's running seconds
    total = sum(a.end - a.start for a in data.attempts)
    assert sum(sum(series[p]) for p in ("running", "task")) * width == pytest.approx(total)
    width, rates = report.throughput(data)
    assert sum(rates["https"]) * width == pytest.approx(100000 * (1 << 20))
    figures = report_plots.Figures(data)
    html = figures.concurrency() + figures.timeline() + figures.throughput()
    assert figures.count == 3
    assert len(set(re.findall(r"job\d{6}", html))) == report.BAR_SLOWEST
    assert len(html) < 600_000


def test_bin_width_is_round_and_bounded():
    assert report.bin_width(0.09) == 0.001  # a test run: still a curve
    assert report.bin_width(10) == 0.02
    assert report.bin_width(600) == 1
    assert report.bin_width(601) == 2
    assert report.bin_width(3600 * 24) == 300
    assert report.bin_width(86400 * 1000) / 86400 >= 1
    assert 86400 * 1000 / report.bin_width(86400 * 1000) <= report.MAX_BINS


def test_record_files_reads_the_files_section(reference):
    text = (reference / "plite_keg_success.out").read_text()
    assert report.record_files(text) == [("f.a", 11, False), ("keg", 281, False), ("f.b", 21, True)]


# ---------------------------------------------------------------- the command line


def test_missing_submit_dir_is_one_line(tmp_path, capsys):
    code = statistics.main([str(tmp_path / "nope"), "--html", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code != 0
    assert err == "pegasus-statistics: %s: no such directory\n" % (tmp_path / "nope")
    assert not (tmp_path / "r.html").exists()


def test_unwritable_report_is_one_line(diamond, tmp_path, capsys):
    target = tmp_path / "missing" / "r.html"
    code = statistics.main([str(diamond), "-q", "-o", str(tmp_path / "s"), "--html", str(target)])
    err = capsys.readouterr().err
    assert code != 0
    assert err == "pegasus-statistics: cannot write %s.tmp: No such file or directory\n" % target


def test_html_path_is_printed(diamond, tmp_path, capsys):
    target = tmp_path / "r.html"
    code = statistics.main([str(diamond), "-o", str(tmp_path / "s"), "--html", str(target)])
    out = capsys.readouterr().out
    assert code == 0
    assert "%-30s: %s\n" % ("HTML report", target) in out
    assert target.read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- in a real browser

PLOTS_RENDERED = """(() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const drawn = plots.filter(d => {
    const svg = d.querySelector('.main-svg');
    if (!svg) return false;
    const box = svg.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && d.querySelectorAll('.trace').length > 0;
  });
  return drawn.length === plots.length ? drawn.length : 0;
})()"""


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def check_in_browser(browser: Browser, page: Path, artifacts: Path, name: str) -> None:
    tab = browser.new_page()
    tab.goto(page.as_uri())
    expected = page_data(page.read_text())["figures"]
    drawn = tab.wait_for(PLOTS_RENDERED, timeout=90)
    assert drawn == expected
    assert tab.evaluate("document.querySelectorAll('#summary td[data-stat]').length") == 23
    shot = tab.screenshot(artifacts / (name + ".png"))
    shutil.copyfile(page, artifacts / (name + ".html"))
    print("screenshot: %s" % shot)
    width, height = _png_size(shot)
    assert width >= 1000 and height > 1500
    assert tab.errors == [], tab.console


@pytest.mark.parametrize("page", ["diamond_page", "big_page"])
def test_page_renders_in_chromium(page, request, browser, artifacts):
    check_in_browser(browser, request.getfixturevalue(page), artifacts, page[:-5])


# ---------------------------------------------------------------- a real run


def test_split_example_report(tmp_path, browser, artifacts):
    """The README's example, planned and run on the local engine, then reported on."""
    from tests.conftest import console_script

    subprocess.run(
        [sys.executable, str(REPO / "examples" / "split" / "workflow.py"), "--dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )

    def run(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*console_script(name), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    plan = run(
        "pegasus-plan", "--sites", "local", "--output-sites", "local", "--submit", "workflow.yml"
    )
    assert plan.returncode == 0, plan.stderr
    submit = next(
        Path(line.split(": ", 1)[1])
        for line in plan.stdout.splitlines()
        if line.startswith("Submit directory: ")
    )
    page = tmp_path / "split.html"
    stats = run("pegasus-statistics", str(submit), "--html", str(page))
    assert stats.returncode == 0, stats.stderr
    text = page.read_text()
    summary = assert_matches_statistics(text, submit)
    assert summary.tasks.row("")[1:] == (5, 0, 0, 5, 0, 5)
    data = page_data(text)
    assert data["status"] == "success" and data["failed_attempts"] == 0
    assert "No job failed" in text
    check_in_browser(browser, page, artifacts, "split")


def test_a_run_that_never_started(tmp_path, capsys):
    """Planned, never run: the page says so instead of drawing empty figures."""
    from tests.planner.test_statistics import RunBuilder

    b = RunBuilder(tmp_path / "run0001")
    b.job("a_ID1", xform="a", dax_id="ID1")
    b.job("b_ID2", xform="b", dax_id="ID2", parents=["a_ID1"])
    submit = b.finish(dagman=())
    page = tmp_path / "r.html"
    assert statistics.main([str(submit), "-q", "--html", str(page)]) == 0
    text = page.read_text()
    assert page_data(text)["figures"] == 0
    assert "No job was submitted." in text and "No job failed." in text
    assert stat(text, "jobs-incomplete") == "2" and stat(text, "jobs-total") == "2"


def test_lanes_never_overlap_and_are_as_few_as_the_peak():
    views = []
    for i in range(3000):
        view = report.AttemptView("j%d" % i, 1)
        view.start = float((i * 7919) % 5000)
        view.end = view.start + 10 + (i * 31) % 200
        view.segments = [("running", view.start, view.end), ("post", view.end, view.end + 1)]
        views.append(view)
    lanes = report.lanes(views)
    assert len(lanes) == len(views)
    held: dict[int, list[tuple[float, float]]] = {}
    for view in views:
        held.setdefault(lanes[view.label], []).append((view.start, view.end + 1))
    for spans in held.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    edges = sorted([(v.start, 1) for v in views] + [(v.end + 1, -1) for v in views])
    peak = running = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert len(held) == peak


def test_without_plotly_the_report_is_one_line(tmp_path, monkeypatch, capsys):
    submit = synthetic_run(tmp_path / "run0001", 2)
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly now fails
    target = tmp_path / "r.html"
    code = statistics.main([str(submit), "-q", "--html", str(target)])
    assert code != 0
    assert capsys.readouterr().err == (
        "pegasus-statistics: the HTML report needs plotly: pip install 'plotly>=5' "
        "(or pegasus-lite[report])\n"
    )
    assert not target.exists()
