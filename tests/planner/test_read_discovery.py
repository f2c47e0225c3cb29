"""discovery: properties and catalogs found the way pegasus-plan finds them."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from planner.discovery import load_all, load_properties
from planner.errors import ParseError, PlanError
from planner.yamlload import load_yaml

DATA = Path(__file__).parent / "data"


def environment(topdir) -> dict:
    """What the Pegasus test scripts export; HOME points where there is no ~/.pegasusrc."""
    return {
        "TOPDIR": str(topdir),
        "HOME": "/nonexistent-home",
        "PEGASUS_BIN_DIR": "/opt/pegasus/bin",
        "TEST_NAME": "reader-tests",
        "USER": "tester",
    }


def plan_args(directory: Path) -> tuple:
    """(--conf, -D overrides) from the fixture's plan_args.json / pegasusrc."""
    conf = "pegasusrc" if (directory / "pegasusrc").exists() else None
    overrides = None
    args = directory / "plan_args.json"
    if args.exists():
        kwargs = json.loads(args.read_text())[0]["kwargs"]
        conf = kwargs.get("conf", conf)
        overrides = {
            k: v.replace("${TOPDIR}", str(directory))
            for k, v in kwargs.items()
            if k.startswith("pegasus.")
        }
    return conf, overrides


# fixture -> (jobs, sites, transformations, containers, replica LFNs, regex entries)
EXPECTED = {
    "1000genome-i250": (2660, ["condorpool", "local"], 5, 0, 28, 0),
    "access-03-Tutorial-Software": (2, ["condorpool", "local"], 2, 1, 1, 0),
    "minimal-examples": (2, ["condorpool", "local", "staging"], 2, 1, 2, 1),
    "pegasus-core-008-black-diamond-pegasuslite-condorio": (4, ["condorpool", "local"], 3, 0, 1, 0),
    "pegasus-core-009-black-diamond-pegasuslite-pegasustransfer": (
        4, ["cartman-data", "condorpool", "local"], 3, 0, 1, 0,
    ),
    "pegasus-core-022-data-reuse-full-a": (4, ["condorpool", "isi-condorc", "local"], 3, 0, 2, 0),
    "pegasus-core-022-data-reuse-full-b": (4, ["condorpool", "isi-condorc", "local"], 3, 0, 2, 0),
    "pegasus-core-036-condorio-no-outputs": (1, ["condorpool", "local"], 1, 0, 0, 0),
    "pegasus-core-043-integrity-condorio": (4, ["condorpool", "local"], 3, 0, 0, 0),
    "pegasus-core-043-integrity-nonsharedfs": (
        4, ["cartman-data", "condorpool", "local"], 3, 0, 0, 0,
    ),
    "pegasus-core-044-singularity": (4, ["condorpool", "local", "workflow-webdav"], 3, 1, 1, 0),
    "wfcommons-montage-chameleon-dss-15d-001": (2122, ["condorpool", "local"], 8, 0, 122, 0),
}  # fmt: skip


def test_the_expectations_cover_every_fixture(fixtures):
    found = sorted(p.parent.name for p in fixtures.glob("*/workflow.yml"))
    assert found == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_loads_with_its_own_catalogs_and_properties(fixtures, name):
    directory = fixtures / name
    conf, overrides = plan_args(directory)
    inputs = load_all("workflow.yml", conf, str(directory), environment(directory), overrides)
    jobs, sites, transformations, containers, replicas, regex = EXPECTED[name]
    assert len(inputs.workflow.jobs) == jobs
    assert sorted(inputs.sites.sites) == sites
    assert len(inputs.transformations.transformations) == transformations
    assert len(inputs.transformations.containers) == containers
    assert len(inputs.replicas.entries) == replicas
    assert len(inputs.replicas.regex_entries) == regex
    assert inputs.sources["workflow"] == str(directory / "workflow.yml")
    for path in (directory / "replicas.yml", directory / "transformations.yml"):
        if path.exists() and name != "pegasus-core-044-singularity" and "043" not in name:
            raw = load_yaml(str(path))
            key = "replicas" if "replicas" in path.name else "transformations"
            assert len({e.get("lfn", e.get("name")) for e in raw[key]}) == {
                "replicas": replicas + regex, "transformations": transformations,
            }[key]  # fmt: skip


def test_properties_and_catalogs_named_in_plan_args_win(fixtures):
    directory = fixtures / "pegasus-core-044-singularity"
    conf, overrides = plan_args(directory)
    inputs = load_all("workflow.yml", conf, str(directory), environment(directory), overrides)
    nonshared = directory / "host/nonsharedfs"
    assert inputs.sources["sites"] == str(nonshared / "sites.yml")
    assert inputs.sources["transformations"] == str(nonshared / "transformations.yml")
    assert inputs.sources["properties"] == str(nonshared / "pegasusrc")
    assert inputs.properties.get("pegasus.data.configuration") == "nonsharedfs"
    assert inputs.properties.origin["pegasus.catalog.site.file"] == "-D"
    container = inputs.transformations.containers["ospool-rocky-9"]
    assert container.profiles == {
        "env": {"APP_HOME": "/tmp/myscratch", "JAVA_HOME": "/bin/java.1.8"}
    }


def copy_043(fixtures, tmp_path: Path, rc_data: bool) -> Path:
    """043 in a writable directory; its test script writes conf/rc.data before planning."""
    source = fixtures / "pegasus-core-043-integrity-condorio"
    (tmp_path / "conf").mkdir()
    for name in ("workflow.yml", "pegasusrc", "conf/sites.yml"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    (tmp_path / "f.a").write_text("This is sample input to KEG\n")
    if rc_data:
        (tmp_path / "conf/rc.data").write_text(
            'f.a file://${TOPDIR}/f.a site="condorpool" checksum.type="sha256" '
            'checksum.value="ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"\n'
        )
    return tmp_path


def test_a_text_replica_catalog_named_by_properties(fixtures, tmp_path):
    directory = copy_043(fixtures, tmp_path, rc_data=True)
    inputs = load_all("workflow.yml", "pegasusrc", str(directory), environment(directory))
    assert inputs.sources["replicas"] == "%s (inline) + %s" % (
        directory / "workflow.yml", directory / "conf/rc.data",
    )  # fmt: skip
    entry = inputs.replicas.lookup("f.a")
    assert [(r.pfn, r.site) for r in entry.pfns] == [("file://%s/f.a" % directory, "condorpool")]
    assert entry.sha256 == "ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"
    assert inputs.properties.get("pegasus.integrity.checking") == "full"
    assert inputs.warnings == []
    tc = inputs.transformations.find("preprocess", "diamond", "4.0")
    assert tc.sites[0].pfn == "file://%s/bin/pegasus-keg" % directory


def test_a_missing_catalog_file_is_an_empty_catalog_with_a_note(fixtures, tmp_path):
    directory = copy_043(fixtures, tmp_path, rc_data=False)
    inputs = load_all("workflow.yml", "pegasusrc", str(directory), environment(directory))
    assert inputs.replicas.lookup("f.a") is None
    assert inputs.warnings == [
        "replica catalog %s (from pegasus.catalog.replica.file) does not exist: using an"
        " empty catalog" % (directory / "conf/rc.data")
    ]


def test_an_unset_variable_in_a_catalog_is_one_line(fixtures, tmp_path):
    directory = copy_043(fixtures, tmp_path, rc_data=True)
    env = environment(directory)
    del env["PEGASUS_BIN_DIR"]
    with pytest.raises(ParseError) as caught:
        load_all("workflow.yml", "pegasusrc", str(directory), env)
    assert str(caught.value) == (
        "%s: sites[0].profiles.env.PEGASUS_HOME: ${PEGASUS_BIN_DIR} is not set in the environment"
        % (directory / "conf/sites.yml")
    )


def test_env_profiles_in_properties_feed_variable_expansion(fixtures, tmp_path):
    directory = copy_043(fixtures, tmp_path, rc_data=True)
    env = environment(directory)
    del env["PEGASUS_BIN_DIR"]
    inputs = load_all(
        "workflow.yml", "pegasusrc", str(directory), env, {"env.PEGASUS_BIN_DIR": "/from/props"}
    )
    assert inputs.sites.sites["local"].profiles["env"]["PEGASUS_HOME"] == "/from/props/.."


def test_a_site_catalog_that_does_not_exist_leaves_the_default_local_site(fixtures):
    directory = fixtures / "pegasus-core-036-condorio-no-outputs"
    inputs = load_all("workflow.yml", "pegasusrc", str(directory), environment(directory))
    local = inputs.sites.sites["local"]
    scratch = local.directory("sharedScratch")
    assert scratch.path == str(directory / "wf-scratch/LOCAL")
    assert scratch.url("put") == "file://%s" % (directory / "wf-scratch/LOCAL")
    assert local.directory("sharedStorage").path == str(directory / "wf-output")
    assert inputs.sites.sites["condorpool"].profiles == {"pegasus": {"style": "condor"}}
    assert inputs.sources["sites"] == "%s (missing)" % (directory / "sites.yml")
    assert inputs.warnings[0].startswith("site catalog %s (from pegasus.catalog.site.file)" % (
        directory / "sites.yml"))  # fmt: skip


def test_the_default_local_site_goes_beside_the_submit_base(fixtures):
    directory = fixtures / "access-03-Tutorial-Software"
    inputs = load_all(
        "workflow.yml", None, str(directory), environment(directory), submit_dir="/runs/x/submit"
    )
    local = inputs.sites.sites["local"]
    assert local.directory("sharedScratch").path == "/runs/x/wf-scratch/LOCAL"
    assert local.directory("sharedStorage").path == "/runs/x/wf-output"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


INLINE_WORKFLOW = """\
    pegasus: '5.0'
    name: mixed
    siteCatalog:
      sites:
      - name: local
        directories:
        - type: sharedScratch
          path: /inline/scratch
          fileServers: [{url: 'file:///inline/scratch', operation: all}]
    replicaCatalog:
      replicas:
      - {lfn: f.a, pfns: [{site: local, pfn: /inline/f.a}]}
    transformationCatalog:
      transformations:
      - {name: keg, sites: [{name: local, pfn: /inline/keg, type: stageable}]}
    jobs:
    - type: job
      name: keg
      id: ID1
      arguments: [-i, f.a, f.b]
      uses: [{lfn: f.a, type: input}, {lfn: f.b, type: input}]
    """


def test_inline_catalogs_combine_with_catalog_files_as_in_pegasus(tmp_path):
    write(tmp_path, "workflow.yml", INLINE_WORKFLOW)
    write(
        tmp_path,
        "sites.yml",
        """\
        pegasus: '5.0'
        sites:
        - {name: local, directories: [{type: sharedScratch, path: /file/scratch,
            fileServers: [{url: 'file:///file/scratch'}]}]}
        - {name: pool, profiles: {pegasus: {style: condor}}}
        """,
    )
    write(
        tmp_path,
        "replicas.yml",
        """\
        pegasus: '5.0'
        replicas:
        - {lfn: f.a, pfns: [{site: local, pfn: /file/f.a}]}
        - {lfn: f.b, pfns: [{site: local, pfn: /file/f.b}]}
        """,
    )
    write(
        tmp_path,
        "transformations.yml",
        """\
        pegasus: '5.0'
        transformations:
        - {name: keg, sites: [{name: pool, pfn: /file/keg, type: installed}]}
        """,
    )
    inputs = load_all("workflow.yml", None, str(tmp_path), environment(tmp_path))
    # sites: the workflow's entry for a site wins, the file adds the others
    assert inputs.sites.sites["local"].directory("sharedScratch").path == "/inline/scratch"
    assert "pool" in inputs.sites.sites
    # replicas: an LFN in the workflow takes its locations from there only
    assert [r.pfn for r in inputs.replicas.lookup("f.a").pfns] == ["/inline/f.a"]
    assert [r.pfn for r in inputs.replicas.lookup("f.b").pfns] == ["/file/f.b"]
    # transformations: the workflow's entries are added to the file's
    [keg] = inputs.transformations.transformations
    assert [(s.site, s.pfn) for s in keg.sites] == [("pool", "/file/keg"), ("local", "/inline/keg")]
    workflow = str(tmp_path / "workflow.yml")
    assert inputs.sources["sites"] == "%s (inline) + %s" % (workflow, tmp_path / "sites.yml")
    assert inputs.sources["transformations"] == "%s + %s (inline)" % (
        tmp_path / "transformations.yml", workflow,
    )  # fmt: skip
    # the workflow's own catalogs are left as they were written
    assert list(inputs.workflow.replica_catalog.entries) == ["f.a"]


def test_property_layers_from_lowest_to_highest(tmp_path):
    home = tmp_path / "home"
    write(home, ".pegasusrc", "a = home\nb = home\nc = home\nd = home\ne = home\n")
    work = tmp_path / "work"
    write(work, "pegasus.properties", "b = cwd\nc = cwd\nd = cwd\ne = cwd\n")
    write(work, "conf/my.properties", "c = conf\nd = conf\ne = conf\n")
    env = {"HOME": str(home), "_PEGASUS__D": "environment", "_PEGASUS__E": "environment"}
    properties = load_properties("conf/my.properties", str(work), env, {"pegasus.e": "define"})
    # _PEGASUS__D names pegasus.d: environment properties are always pegasus.* keys
    assert properties.get("a") == "home"
    assert properties.get("b") == "cwd"
    assert properties.get("c") == "conf"
    assert properties.get("pegasus.d") == "environment"
    assert properties.get("pegasus.e") == "define"
    assert properties.sources == [
        str(home / ".pegasusrc"),
        str(work / "pegasus.properties"),
        str(work / "conf/my.properties"),
    ]


def test_a_missing_conf_file_is_one_line(tmp_path):
    with pytest.raises(PlanError) as caught:
        load_properties("nope.properties", str(tmp_path), {})
    assert str(caught.value) == "--conf nope.properties: no such properties file"


def test_site_profiles_from_properties_are_added_to_sites(fixtures):
    directory = fixtures / "minimal-examples"
    inputs = load_all(
        "workflow.yml",
        None,
        str(directory),
        environment(directory),
        {
            "pegasus.catalog.site.sites.condorpool.profiles.env.JAVA_HOME": "/opt/java",
            "pegasus.catalog.site.sites.condorpool.profiles.condor.universe": "grid",
        },
    )
    profiles = inputs.sites.sites["condorpool"].profiles
    assert profiles["env"] == {"JAVA_HOME": "/opt/java"}
    assert profiles["condor"] == {"universe": "grid"}  # the property wins, as in Pegasus
    assert inputs.properties.get("dagman.retry") == "3"
    assert inputs.properties.profiles()["dagman"] == {"retry": "3", "stagein.maxjobs": "10"}


def test_catalog_types_from_properties_and_default_text_files(tmp_path):
    write(tmp_path, "workflow.yml", INLINE_WORKFLOW.replace("    replicaCatalog:", "    x-rc:"))
    write(tmp_path, "rc.txt", "f.b /text/f.b site=local\n")
    write(tmp_path, "my-tc", 'tr keg {\n  site pool {\n    pfn "/text/keg"\n  }\n}\n')
    inputs = load_all(
        "workflow.yml",
        None,
        str(tmp_path),
        environment(tmp_path),
        {"pegasus.catalog.transformation": "Text", "pegasus.catalog.transformation.file": "my-tc"},
    )
    assert inputs.sources["replicas"] == str(tmp_path / "rc.txt")
    assert inputs.replicas.lookup("f.b").pfns[0].pfn == "/text/f.b"
    [keg] = inputs.transformations.transformations
    assert [s.pfn for s in keg.sites] == ["/text/keg", "/inline/keg"]


def test_catalog_format_mistakes_are_one_line(tmp_path):
    write(tmp_path, "workflow.yml", INLINE_WORKFLOW)
    write(tmp_path, "sites.xml", "<sitecatalog/>\n")
    with pytest.raises(PlanError) as caught:
        load_all(
            "workflow.yml", None, str(tmp_path), environment(tmp_path),
            {"pegasus.catalog.site.file": "sites.xml"},
        )  # fmt: skip
    assert str(caught.value) == (
        "%s: XML site catalogs are not supported; convert it with pegasus-sc-converter to YAML"
        % (tmp_path / "sites.xml")
    )
    with pytest.raises(PlanError) as caught:
        load_all(
            "workflow.yml", None, str(tmp_path), environment(tmp_path),
            {"pegasus.catalog.replica": "JDBCRC", "pegasus.catalog.replica.file": "x"},
        )  # fmt: skip
    assert str(caught.value) == (
        "pegasus.catalog.replica = JDBCRC: not a supported type (YAML, File, Regex)"
    )


def test_a_dax_workflow_is_recognised_by_its_content(tmp_path):
    dax = tmp_path / "diamond.workflow"
    dax.write_bytes((DATA / "blackdiamond-3.6.dax").read_bytes())
    inputs = load_all(str(dax), None, str(tmp_path), environment(tmp_path))
    assert inputs.workflow.name == "diamond"
    assert len(inputs.workflow.jobs) == 4
    assert inputs.replicas.lookup("f.a").pfns[0].pfn == "file://%s/f.a" % tmp_path
    assert len(inputs.transformations.transformations) == 3


def test_a_missing_workflow_file_is_one_line(tmp_path):
    with pytest.raises(ParseError) as caught:
        load_all("absent.yml", None, str(tmp_path), environment(tmp_path))
    assert str(caught.value) == "%s: cannot read: No such file or directory" % (
        tmp_path / "absent.yml"
    )


def test_no_expansion_pass_when_the_workflow_has_no_variables(tmp_path):
    path = write(tmp_path, "workflow.yml", INLINE_WORKFLOW.replace("-i, f.a", "-i, $HOME/f.a"))
    inputs = load_all(str(path), None, str(tmp_path), {"HOME": "/h"})
    assert inputs.workflow.jobs["ID1"].arguments[1] == "$HOME/f.a"
    assert os.path.isabs(inputs.sources["workflow"])
