"""Every real Pegasus fixture planned and written; HTCondor's own bindings read the result.

Each ``.sub`` must parse with ``htcondor2.Submit`` and each DAG must pass ``from_dag``
(which needs a condor_dagman path, any executable) and our lint, which checks what the
bindings do not (nodes, edges, cycles, numbers).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from planner import condor, daglint
from tests.planner.test_plan_fixtures import plan_fixture

htcondor2 = pytest.importorskip("htcondor2")

FIXTURES = [
    "minimal-examples",
    "pegasus-core-008-black-diamond-pegasuslite-condorio",
    "pegasus-core-009-black-diamond-pegasuslite-pegasustransfer",
    "pegasus-core-022-data-reuse-full-a",
    "pegasus-core-022-data-reuse-full-b",
    "pegasus-core-036-condorio-no-outputs",
    "pegasus-core-043-integrity-condorio",
    "pegasus-core-043-integrity-nonsharedfs",
    "pegasus-core-044-singularity",
    "access-03-Tutorial-Software",
    "1000genome-i250",
    "wfcommons-montage-chameleon-dss-15d-001",
]


# where a fixture's own plan arguments need what is not in the fixture: minimal-examples'
# compute site has no scratch file servers (it names a staging site); access-03's site
# catalog is ACCESS's own, outside the notebook: a one-site catalog for "web" stands in
OVERRIDES = {
    "minimal-examples": {"staging_sites": {"condorpool": "staging"}},
    "access-03-Tutorial-Software": {"sites": ["web"]},
}
WEB_SITE = """pegasus: '5.0'
sites:
- name: web
  profiles: {condor: {universe: vanilla}, pegasus: {style: condor}}
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> str:
    return condor.cached_bundle()


def test_fixture_list_is_complete(fixtures):
    found = sorted(
        p.name for p in fixtures.iterdir() if p.is_dir() and (p / "workflow.yml").exists()
    )
    assert found == sorted(FIXTURES)


def plan_named(name: str, fixtures: Path, tmp_path: Path, **extra):
    """The fixture planned with what it needs besides itself (OVERRIDES, WEB_SITE)."""
    top = fixtures / name
    if name.startswith("access-03"):
        top = tmp_path / name
        if not top.exists():
            shutil.copytree(fixtures / name, top)
        (top / "sites.yml").write_text(WEB_SITE)
    return plan_fixture(top, tmp_path, **OVERRIDES.get(name, {}), **extra)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_plans_into_files_htcondor_accepts(name, fixtures, tmp_path, bundle):
    result = plan_named(name, fixtures, tmp_path)
    condor.write(result, bundle=bundle)
    submit = Path(result.submit_dir)
    subs = sorted(submit.rglob("*.sub"))
    assert len(subs) == len(result.jobs)
    for path in subs:
        text = path.read_text()
        parsed = htcondor2.Submit(text)
        assert parsed["executable"] == str(submit / "pegasus-lite.pyz")
        assert parsed["universe"] in ("vanilla", "local")
    dag = submit / ("%s.dag" % result.dag_name)
    assert daglint.lint(str(dag)) == []
    jobs = [line for line in dag.read_text().splitlines() if line.startswith("JOB ")]
    assert len(jobs) == len(result.jobs)
    # from_dag writes <dag>.condor.sub beside the DAG: work on a copy
    copy = tmp_path / "dagcheck"
    shutil.copytree(submit, copy, ignore=shutil.ignore_patterns("*.json", "*.in"))
    checked = htcondor2.Submit.from_dag(
        str(copy / dag.name), {"DagmanPath": shutil.which("true") or "/bin/true"}
    )
    assert checked is not None
    assert os.path.exists(copy / (dag.name + ".condor.sub"))


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o777)
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.parametrize("name", FIXTURES)
def test_streamed_jobs_give_the_same_submit_dir(name, fixtures, tmp_path, bundle):
    """pegasus-plan writes each compute job while planning (condor.Streamer) to keep a
    million-job plan small: every file, byte and mode must be what plan-then-write gives."""
    whole = plan_named(name, fixtures, tmp_path)
    condor.write(whole, bundle=bundle)
    submit = Path(whole.submit_dir)
    expected = _files(submit)
    shutil.rmtree(submit)
    streamer = condor.Streamer()
    streamed = plan_named(name, fixtures, tmp_path, on_job=streamer)
    written = [job for job in streamed.jobs if job.written]
    assert len(written) == sum(job.job_class == 1 for job in whole.jobs)
    assert all(job.spec == "" and job.input_files == () for job in written)
    condor.write(streamed, bundle=bundle)
    assert _files(submit) == expected
