"""dax: DAX 3.x XML workflows read into the same model as the YAML ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from planner.dax import parse_dax
from planner.errors import ParseError

DATA = Path(__file__).parent / "data"
NS = 'xmlns="http://pegasus.isi.edu/schema/DAX"'


def dax(tmp_path: Path, body: str, version: str = "3.6", name: str = "workflow.dax") -> str:
    path = tmp_path / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<adag %s version="%s" name="t">\n%s</adag>\n'
        % (NS, version, textwrap.dedent(body))
    )
    return str(path)


def error_of(tmp_path: Path, body: str, env=None) -> str:
    with pytest.raises(ParseError) as caught:
        parse_dax(dax(tmp_path, body), env)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(tmp_path) + "/", "")


def test_the_black_diamond_in_dax_3_6():
    workflow = parse_dax(str(DATA / "blackdiamond-3.6.dax"), {"TOPDIR": "/top"})
    assert (workflow.name, workflow.pegasus_version) == ("diamond", "3.6")
    assert list(workflow.jobs) == ["ID0000001", "ID0000002", "ID0000003", "ID0000004"]
    first = workflow.jobs["ID0000001"]
    assert first.transformation == "diamond::preprocess:4.0"
    assert first.node_label == "pre"
    assert first.arguments == ["-a", "preprocess", "-T60", "-i", "f.a", "-o", "f.b1", "f.b2"]
    assert first.profiles == {"pegasus": {"cores": "2"}}  # the stat namespace is dropped
    assert [(u.lfn, u.type, u.stage_out, u.register) for u in first.uses] == [
        ("f.a", "input", True, True),
        ("f.b1", "output", False, False),
        ("f.b2", "output", False, False),
    ]
    second = workflow.jobs["ID0000002"].uses[1]
    assert (second.lfn, second.stage_out, second.size) == ("f.c1", True, 1024)  # transfer=optional
    last = workflow.jobs["ID0000004"]
    assert last.stdout == "analyze.out"
    assert last.metadata == {"time": "60"}
    assert last.hooks == {"shell": [{"_on": "error", "cmd": "/bin/echo failed"}]}
    assert workflow.children == {
        "ID0000001": ["ID0000002", "ID0000003"],
        "ID0000002": ["ID0000004"],
        "ID0000003": ["ID0000004"],
    }
    assert workflow.metadata == {"creator": "pegasus-lite tests"}
    assert workflow.hooks == {"shell": [{"_on": "end", "cmd": "/bin/echo done"}]}


def test_inline_replicas_and_executables():
    workflow = parse_dax(str(DATA / "blackdiamond-3.6.dax"), {"TOPDIR": "/top"})
    entry = workflow.replica_catalog.entries["f.a"]
    assert [(r.pfn, r.site) for r in entry.pfns] == [
        ("file:///top/f.a", "local"),
        ("https://example.org/data/f.a", "remote"),
    ]
    assert entry.sha256 == "ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"
    catalog = workflow.transformation_catalog
    preprocess = catalog.find("preprocess", "diamond", "4.0")
    assert preprocess.profiles == {"env": {"KEG_HOME": "/opt/keg"}}
    [site] = preprocess.sites
    assert (site.site, site.pfn, site.type, site.arch, site.os_type) == (
        "local", "file:///usr/bin/pegasus-keg", "stageable", "x86_64", "linux",
    )  # fmt: skip
    assert site.profiles == {"pegasus": {"clusters.size": "3"}}
    assert catalog.find("findrange", "diamond", "4.0").sites[0].os_type == "linux"  # LINUX
    assert catalog.find("analyze", "diamond", "4.0").sites[0].type == "installed"


def test_dax_3_3_without_a_namespace_and_with_file_attributes(tmp_path):
    path = tmp_path / "old.dax"
    path.write_text(
        textwrap.dedent(
            """\
            <adag version="3.3" name="old">
              <job id="A" name="split">
                <argument>-n 2 -i<file name="in.txt"/> --out=<file file="part"/></argument>
                <stdin file="in.txt" link="input"/>
                <uses file="in.txt" link="input" transfer="true"/>
                <uses file="part" link="output" register="false"/>
                <uses name="split" namespace="tools" version="2" link="input" executable="true"/>
              </job>
              <dax id="B" file="inner.dax">
                <argument>--sites pool</argument>
              </dax>
              <dag id="C" file="inner.dag"/>
              <child ref="B"><parent ref="A"/></child>
              <child ref="C"><parent ref="A"/><parent ref="B"/></child>
            </adag>
            """
        )
    )
    workflow = parse_dax(str(path))
    job = workflow.jobs["A"]
    assert job.arguments == ["-n", "2", "-iin.txt", "--out=part"]
    assert job.stdin == "in.txt"
    assert [(u.lfn, u.type, u.register, u.executable) for u in job.uses] == [
        ("in.txt", "input", True, False),
        ("part", "output", False, False),
        ("tools::split:2", "input", True, True),
    ]
    sub = workflow.jobs["B"]
    assert (sub.kind, sub.file, sub.arguments) == (
        "pegasusWorkflow",
        "inner.dax",
        ["--sites", "pool"],
    )
    assert workflow.jobs["C"].kind == "condorWorkflow"
    assert workflow.children == {"A": ["B", "C"], "B": ["C"]}
    assert workflow.replica_catalog is None and workflow.transformation_catalog is None


@pytest.mark.parametrize(
    "body,expected",
    [
        (
            '<job id="ID0000001" name="a"/>\n<job id="ID0000003" name="b">\n'
            '  <uses name="x" link="input"/><uses name="y" link="output"/>'
            '<uses name="z" link="sideways"/>\n</job>\n',
            "workflow.dax: job 'ID0000003' uses[2]: link 'sideways' is not one of input, output,"
            " inout, checkpoint, none",
        ),
        (
            '<job id="A" name="a"/>\n<job id="A" name="b"/>\n',
            "workflow.dax: job 'A': duplicate id 'A'",
        ),
        ('<job id="A"/>\n', "workflow.dax: job 'A': missing attribute 'name'"),
        ('<job name="a"/>\n', "workflow.dax: job[0]: missing attribute 'id'"),
        (
            '<job id="A" name="a"><uses name="f" link="input" transfer="maybe"/></job>\n',
            "workflow.dax: job 'A' uses[0]: transfer 'maybe' is not one of true, false, optional",
        ),
        (
            '<job id="A" name="a"><uses name="f" link="input" register="yes"/></job>\n',
            "workflow.dax: job 'A' uses[0]: register 'yes' is not true or false",
        ),
        (
            '<job id="A" name="a"><profile namespace="pegsus" key="k">v</profile></job>\n',
            "workflow.dax: job 'A' profile: namespace 'pegsus' is not one of env, condor, globus,"
            " dagman, pegasus, hints, selector",
        ),
        (
            '<job id="A" name="a"/>\n<child ref="A"><parent ref="B"/></child>\n',
            "workflow.dax: child 'A' parent[0]: unknown job 'B'",
        ),
        (
            '<job id="A" name="a"/>\n<child ref="Z"><parent ref="A"/></child>\n',
            "workflow.dax: child 'Z': unknown job 'Z'",
        ),
        ('<job id="A" name="a"><color/></job>\n', "workflow.dax: job 'A': unknown element <color>"),
        (
            '<job id="A" name="a">\n<argument>x</job>\n',
            "workflow.dax: not valid XML: mismatched tag at line 4 column 14",
        ),
        ("", "workflow.dax: adag: no jobs: a workflow needs at least one"),
        (
            '<file name="f"><metadata key="checksum.value">abc</metadata></file>\n',
            "workflow.dax: file 'f': checksum.value 'abc' is not a sha256 (64 hex digits)",
        ),
        (
            '<job id="A" name="${NOPE}"/>\n',
            "workflow.dax: job 'A' name: ${NOPE} is not set in the environment",
        ),
    ],
)  # fmt: skip
def test_mistakes_name_the_element(tmp_path, body, expected):
    assert error_of(tmp_path, body, {}) == expected


def test_only_dax_3(tmp_path):
    with pytest.raises(ParseError) as caught:
        parse_dax(dax(tmp_path, '<job id="A" name="a"/>\n', version="2.1"))
    assert str(caught.value).endswith(
        "workflow.dax: adag: DAX version '2.1' is not supported (3.x)"
    )
    other = tmp_path / "other.xml"
    other.write_text("<sitecatalog/>\n")
    with pytest.raises(ParseError) as caught:
        parse_dax(str(other))
    assert str(caught.value).endswith(
        "other.xml: not a DAX: the root element is <sitecatalog>, not <adag>"
    )


def test_a_large_dax_reads_job_by_job(tmp_path):
    jobs = "".join(
        '<job id="ID%07d" name="keg"><argument>-i <file name="f.%d"/></argument>'
        '<uses name="f.%d" link="input"/><uses name="f.%d" link="output"/></job>\n'
        % (i, i, i, i + 1)
        for i in range(5000)
    )
    edges = "".join(
        '<child ref="ID%07d"><parent ref="ID%07d"/></child>\n' % (i, i - 1) for i in range(1, 5000)
    )
    workflow = parse_dax(dax(tmp_path, jobs + edges))
    assert len(workflow.jobs) == 5000
    assert sum(len(c) for c in workflow.children.values()) == 4999
    assert workflow.jobs["ID0004999"].arguments == ["-i", "f.4999"]
    # the same LFN read by one job and written by another is one string
    assert workflow.jobs["ID0000001"].uses[0].lfn is workflow.jobs["ID0000000"].uses[1].lfn
