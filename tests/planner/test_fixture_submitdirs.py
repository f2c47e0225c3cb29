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


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_plans_into_files_htcondor_accepts(name, fixtures, tmp_path, bundle):
    top = fixtures / name
    if name.startswith("access-03"):
        top = tmp_path / name
        shutil.copytree(fixtures / name, top)
        (top / "sites.yml").write_text(WEB_SITE)
    result = plan_fixture(top, tmp_path, **OVERRIDES.get(name, {}))
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
