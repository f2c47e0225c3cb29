"""workflow_yaml: Pegasus 5 YAML workflows into the model; mistakes named by their path."""

from __future__ import annotations

import textwrap

import pytest

from planner import yamlload
from planner.errors import ParseError
from planner.workflow_yaml import parse_workflow
from planner.yamlload import load_yaml, loads_yaml


def read(text: str, env=None):
    source = "workflow.yml"
    return parse_workflow(loads_yaml(textwrap.dedent(text), source), source, env)


def error_of(text: str, env=None) -> str:
    with pytest.raises(ParseError) as caught:
        read(text, env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def counted(path) -> tuple:
    """(jobs, edges, distinct LFNs) of a workflow file, counted in the raw document."""
    raw = load_yaml(str(path))
    edges = {(d["id"], c) for d in raw.get("jobDependencies") or [] for c in d.get("children", [])}
    lfns = {u["lfn"] for j in raw["jobs"] for u in j.get("uses", [])}
    return len(raw["jobs"]), len(edges), lfns


def fixture_workflows(fixtures) -> list:
    return sorted(fixtures.rglob("workflow.yml"))


def test_every_fixture_and_golden_workflow_parses_with_the_counts_of_the_file(fixtures):
    paths = fixture_workflows(fixtures)
    assert len(paths) == 17
    for path in paths:
        workflow = parse_workflow(load_yaml(str(path)), str(path), {"TOPDIR": "/top"})
        jobs, edges, lfns = counted(path)
        assert len(workflow.jobs) == jobs, path
        assert sum(len(c) for c in workflow.children.values()) == edges, path
        assert {u.lfn for j in workflow.jobs.values() for u in j.uses} == lfns, path


def test_real_science_workflows_have_their_known_shape(fixtures):
    genome = parse_workflow(load_yaml(str(fixtures / "1000genome-i250/workflow.yml")), "g")
    assert len(genome.jobs) == 2660  # 10 * (250 + 2) + 140
    montage_path = fixtures / "wfcommons-montage-chameleon-dss-15d-001/workflow.yml"
    montage = parse_workflow(load_yaml(str(montage_path)), "m")
    assert len(montage.jobs) == 2122
    assert sum(len(c) for c in montage.children.values()) == 6114
    written = {u.lfn for j in montage.jobs.values() for u in j.uses if u.writes}
    read_only = {u.lfn for j in montage.jobs.values() for u in j.uses if u.reads} - written
    assert len(read_only) == 122  # the raw inputs
    sizes = [u.size for j in montage.jobs.values() for u in j.uses]
    assert all(type(s) is int for s in sizes)  # written as integers, against the schema


def test_a_big_workflow_read_in_chunks_is_the_same_workflow(fixtures, monkeypatch):
    path = str(fixtures / "wfcommons-montage-chameleon-dss-15d-001/workflow.yml")
    whole = parse_workflow(load_yaml(path), path)
    monkeypatch.setattr(yamlload, "LAZY_MIN_BYTES", 0)
    monkeypatch.setattr(yamlload, "CHUNK_BYTES", 64 << 10)
    document = load_yaml(path, lazy=("jobs", "jobDependencies"))
    assert isinstance(document["jobs"], yamlload.LazySequence)
    chunked = parse_workflow(document, path)
    assert list(chunked.jobs) == list(whole.jobs)
    assert chunked.children == whole.children
    for job_id, job in whole.jobs.items():
        other = chunked.jobs[job_id]
        assert (other.transformation, other.arguments) == (job.transformation, job.arguments)
        assert [(u.lfn, u.type, u.size) for u in other.uses] == [
            (u.lfn, u.type, u.size) for u in job.uses
        ]


def test_the_black_diamond_in_detail(fixtures):
    path = fixtures / "pegasus-core-008-black-diamond-pegasuslite-condorio/workflow.yml"
    workflow = parse_workflow(load_yaml(str(path)), str(path))
    assert workflow.name == "diamond"
    assert workflow.pegasus_version == "5.0.4"
    assert list(workflow.jobs) == ["ID0000001", "ID0000002", "ID0000003", "ID0000004"]
    first = workflow.jobs["ID0000001"]
    assert first.transformation == "diamond::preprocess:4.0"
    assert first.arguments == ["-a", "preprocess", "-T10", "-i", "f.a", "-o", "f.b1", "f.b2"]
    assert [(u.lfn, u.type, u.stage_out, u.register) for u in first.uses] == [
        ("f.b1", "output", True, True),
        ("f.a", "input", True, True),
        ("f.b2", "output", True, True),
    ]
    assert workflow.children == {
        "ID0000001": ["ID0000003", "ID0000002"],
        "ID0000002": ["ID0000004"],
        "ID0000003": ["ID0000004"],
    }


def test_hierarchical_workflow_jobs(fixtures):
    path = fixtures / "golden-pegasus-5.0.5-submitdirs/hierarchical_wf_success/workflow.yml"
    workflow = parse_workflow(load_yaml(str(path)), str(path))
    sub = workflow.jobs["diamond_subworkflow"]
    assert sub.kind == "pegasusWorkflow"
    assert sub.file == "inner_diamond_workflow.yml"
    assert sub.name == "pegasus-plan"
    assert sub.arguments[:2] == ["--conf", "inner_diamond_workflow.pegasus.properties"]
    planning = [u.lfn for u in sub.uses if u.for_planning]
    assert planning == [
        "sites.yml",
        "inner_diamond_workflow.pegasus.properties",
        "inner_diamond_workflow_tc.yml",
    ]
    assert workflow.jobs["ID0000002"].stdout == "count.txt"


def test_inline_catalogs_without_pegasus_key_as_the_api_writes_them(fixtures):
    path = fixtures / "pegasus-core-036-condorio-no-outputs/workflow.yml"
    workflow = parse_workflow(load_yaml(str(path)), str(path), {"TOPDIR": "/top"})
    assert workflow.replica_catalog is not None and not workflow.replica_catalog.entries
    [transformation] = workflow.transformation_catalog.transformations
    assert transformation.sites[0].pfn == "file:///top/test.sh"
    assert workflow.jobs["ID0000001"].arguments == [] and workflow.jobs["ID0000001"].uses == []


def test_everything_a_job_can_carry():
    workflow = read(
        """
        pegasus: '5.0'
        name: all-fields
        profiles: {env: {A: b}}
        metadata: {creator: me}
        hooks: {shell: [{_on: end, cmd: /bin/date}]}
        siteCatalog:
          sites: [{name: cluster, directories: []}]
        jobs:
        - type: job
          namespace: ns
          name: tool
          version: 1.0
          id: j-1
          nodeLabel: first
          arguments: [-n, 5, 0.5, true, '-x y']
          stdin: in.txt
          stdout: out.txt
          stderr: err.txt
          profiles: {pegasus: {cores: 2, memory: 1024.5}, condor: {request_disk: '10'}}
          metadata: {size: 12}
          hooks: {shell: [{_on: error, cmd: /bin/false}]}
          uses:
          - {lfn: in.txt, type: input, size: '2048', metadata: {kind: raw}}
          - {lfn: out.txt, type: output, stageOut: yes, registerReplica: off}
          - {lfn: ckpt, type: checkpoint, optional: true, bypass: true}
          - {lfn: tool, type: input, executable: true, namespace: ns, version: '1.0'}
          - {lfn: notes, type: none}
          - {lfn: both, type: inout}
        - {type: condorWorkflow, id: dag1, file: inner.dag, arguments: [], uses: []}
        jobDependencies:
        - {id: j-1, children: [dag1, dag1]}
        """
    )
    assert workflow.profiles == {"env": {"A": "b"}}
    assert workflow.metadata == {"creator": "me"}
    assert workflow.hooks == {"shell": [{"_on": "end", "cmd": "/bin/date"}]}
    assert list(workflow.site_catalog.sites) == ["cluster"]
    job = workflow.jobs["j-1"]
    assert job.transformation == "ns::tool:1.0"
    assert job.node_label == "first"
    assert job.arguments == ["-n", "5", "0.5", "true", "-x y"]
    assert (job.stdin, job.stdout, job.stderr) == ("in.txt", "out.txt", "err.txt")
    assert job.profiles == {
        "pegasus": {"cores": "2", "memory": "1024.5"},
        "condor": {"request_disk": "10"},
    }
    assert job.metadata == {"size": "12"}
    assert job.hooks == {"shell": [{"_on": "error", "cmd": "/bin/false"}]}
    uses = {u.lfn: u for u in job.uses}
    assert uses["in.txt"].size == 2048 and uses["in.txt"].metadata == {"kind": "raw"}
    assert (uses["out.txt"].stage_out, uses["out.txt"].register) == (True, False)
    assert uses["ckpt"].type == "checkpoint" and uses["ckpt"].optional and uses["ckpt"].bypass
    assert uses["tool"].executable
    assert uses["both"].reads and uses["both"].writes
    assert not uses["notes"].reads and not uses["notes"].writes
    dag = workflow.jobs["dag1"]
    assert (dag.kind, dag.file, dag.name) == ("condorWorkflow", "inner.dag", "condor_dagman")
    assert workflow.children == {"j-1": ["dag1"]}  # the repeated edge counted once


def test_jobs_with_the_same_profiles_share_one_dict_and_lfns_are_interned():
    workflow = read(
        """
        pegasus: '5.0'
        name: w
        jobs:
        - {type: job, name: a, id: A, arguments: [], uses: [{lfn: data.txt, type: output}],
           profiles: {pegasus: {memory: 2048}}}
        - {type: job, name: b, id: B, arguments: [], uses: [{lfn: data.txt, type: input}],
           profiles: {pegasus: {memory: 2048}}}
        - {type: job, name: c, id: C, profiles: {pegasus: {memory: '2048'}}}
        - {type: job, name: d, id: D, profiles: {pegasus: {nosymlink: true}}}
        - {type: job, name: e, id: E, profiles: {pegasus: {nosymlink: 1}}}
        """
    )
    jobs = workflow.jobs
    assert jobs["A"].profiles is jobs["B"].profiles
    assert jobs["C"].profiles == {"pegasus": {"memory": "2048"}}
    assert jobs["D"].profiles == {"pegasus": {"nosymlink": "true"}}
    assert jobs["E"].profiles == {"pegasus": {"nosymlink": "1"}}  # not mixed up with true
    assert jobs["A"].uses[0].lfn is jobs["B"].uses[0].lfn


def test_variables_are_expanded_when_an_environment_is_given():
    text = """
        pegasus: '5.0'
        name: w
        jobs:
        - {type: job, name: a, id: A, arguments: ['${HOME}/x', '\\${KEEP}'], uses: [],
           profiles: {env: {DATA: '${topdir}/data'}}}
        """
    workflow = read(text, {"HOME": "/home/me", "TOPDIR": "/top"})
    job = workflow.jobs["A"]
    assert job.arguments == ["/home/me/x", "${KEEP}"]
    assert job.profiles == {"env": {"DATA": "/top/data"}}  # case-insensitive, as Pegasus
    assert read(text).jobs["A"].arguments == ["${HOME}/x", "\\${KEEP}"]  # no env: untouched
    assert (
        error_of(text, {"TOPDIR": "/top"})
        == "workflow.yml: jobs[0].arguments[0]: ${HOME} is not set in the environment"
    )


HEADER = "pegasus: '5.0'\nname: w\n"
JOB = "{type: job, name: a, id: %s, arguments: [], uses: []}"


@pytest.mark.parametrize(
    "body,expected",
    [
        (
            "jobs:\n- {type: job, name: a, id: A, arguments: [],"
            " uses: [{lfn: f, type: inptu}]}\n",
            "jobs[0].uses[0].type: 'inptu' is not one of input, output, inout, checkpoint, none",
        ),
        (
            "jobs:\n- %s\n- %s\n- %s\n" % (JOB % "ID0000001", JOB % "ID0000002", JOB % "ID0000002"),
            "jobs[2].id: duplicate id 'ID0000002' (also jobs[1])",
        ),
        (
            "jobs:\n- %s\n- %s\njobDependencies:\n- {id: A, children: [B]}\n"
            "- {id: B, children: []}\n- {id: A, children: [ID9]}\n" % (JOB % "A", JOB % "B"),
            "jobDependencies[2].children[0]: unknown job 'ID9'",
        ),
        (
            "jobs:\n- %s\njobDependencies:\n- {id: Z, children: [A]}\n" % (JOB % "A"),
            "jobDependencies[0].id: unknown job 'Z'",
        ),
        (
            "jobs:\n- %s\njobDependencies:\n- {id: A, children: [A]}\n" % (JOB % "A"),
            "jobDependencies[0].children[0]: job 'A' cannot be its own child",
        ),
        ("jobs:\n- {type: job, name: a}\n", "jobs[0]: missing required key 'id'"),
        ("jobs:\n- {type: job, id: A}\n", "jobs[0]: missing required key 'name'"),
        ("jobs:\n- {name: a, id: A}\n", "jobs[0]: missing required key 'type'"),
        (
            "jobs:\n- {type: jb, name: a, id: A}\n",
            "jobs[0].type: 'jb' is not one of job, pegasusWorkflow, condorWorkflow",
        ),
        ("jobs:\n- {type: pegasusWorkflow, id: A}\n", "jobs[0]: missing required key 'file'"),
        (
            "jobs:\n- {type: job, name: a, id: 'A B', arguments: []}\n",
            "jobs[0].id: 'A B' is not a valid job id (letters, digits, _ and - only)",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, arguments: x}\n",
            "jobs[0].arguments: expected a list, got a string",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, arguments: [[1]]}\n",
            "jobs[0].arguments[0]: expected a string, got a list",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A,"
            " uses: [{lfn: f, type: input, stageOut: maybe}]}\n",
            "jobs[0].uses[0].stageOut: expected true or false, got 'maybe'",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, uses: [{lfn: f, type: input, size: 2 GB}]}\n",
            "jobs[0].uses[0].size: '2 GB' is not a size in bytes",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, uses: [{type: input}]}\n",
            "jobs[0].uses[0]: missing required key 'lfn'",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, uses: [{lfn: f, tpye: input}]}\n",
            "jobs[0].uses[0]: unknown key 'tpye' (did you mean 'type'?)",
        ),
        (
            "jobs:\n- {type: job, nmae: a, id: A}\n",
            "jobs[0]: unknown key 'nmae' (did you mean 'name'?)",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, profiles: {pegsus: {cores: 1}}}\n",
            "jobs[0].profiles: unknown profile namespace 'pegsus' (one of env, condor, globus,"
            " dagman, pegasus, hints, selector)",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, profiles: {env: {X: [1]}}}\n",
            "jobs[0].profiles.env.X: expected a string or number, got a list",
        ),
        (
            "jobs:\n- {type: job, name: a, id: A, hooks: {shell: [{_on: later, cmd: x}]}}\n",
            "jobs[0].hooks.shell[0]._on: 'later' is not one of never, start, error, success,"
            " end, all",
        ),
        ("jobs: []\n", "jobs: no jobs: a workflow needs at least one"),
        ("jobs: {a: 1}\n", "jobs: expected a list, got a mapping"),
        ("jobs:\n- 5\n", "jobs[0]: expected a mapping, got a number"),
        ("jobs:\n- %s\nextra: 1\n" % (JOB % "A"), ": unknown key 'extra'"),
        (
            "jobs:\n- %s\nsiteCatalog: {sites: [{name: s, directories: [{type: scratch}]}]}\n"
            % (JOB % "A"),
            "siteCatalog.sites[0].directories[0].type: 'scratch' is not one of sharedScratch,"
            " sharedStorage, localScratch, localStorage",
        ),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_naming_the_path(body, expected):
    message = error_of(HEADER + body)
    if expected.startswith(": "):
        assert message == "workflow.yml" + expected
    else:
        assert message == "workflow.yml: " + expected


def test_top_level_mistakes():
    assert error_of("name: w\njobs: []\n") == (
        "workflow.yml: missing required key 'pegasus' (the format version, 5.0)"
    )
    assert error_of("pegasus: '4.0'\nname: w\njobs: []\n") == (
        "workflow.yml: pegasus: version '4.0' is not supported (5.x)"
    )
    assert error_of("pegasus: '5.0'\nname: a/b\njobs: []\n") == (
        "workflow.yml: name: 'a/b' is not a valid workflow name (letters, digits, _ - .)"
    )
    assert error_of("pegasus: '5.0'\njobs: []\n") == "workflow.yml: missing required key 'name'"
    assert error_of("- a\n- b\n") == "workflow.yml: expected a mapping, got a list"
