"""catalogs: sites, transformations (with containers), replicas (YAML and text formats)."""

from __future__ import annotations

import textwrap

import pytest

from planner import catalogs as c
from planner.errors import ParseError
from planner.yamlload import load_yaml, loads_yaml

ENV = {"TOPDIR": "/top", "PEGASUS_BIN_DIR": "/opt/pegasus/bin", "TEST_NAME": "t043"}


def doc(text: str) -> object:
    return loads_yaml(textwrap.dedent(text), "catalog.yml")


def error_of(parse, text: str, env=None) -> str:
    with pytest.raises(ParseError) as caught:
        parse(doc(text), "catalog.yml", env)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ sites


def test_site_catalog_with_every_pegasuslite_field(fixtures):
    path = str(fixtures / "minimal-examples/sites.yml")
    catalog = c.parse_sites(load_yaml(path), path)
    assert list(catalog.sites) == ["local", "staging", "condorpool"]
    local = catalog.sites["local"]
    assert (local.arch, local.os_type) == ("x86_64", "linux")
    scratch = local.directory("sharedScratch")
    assert (scratch.path, scratch.shared_fs, scratch.url("put")) == (
        "/srv/wf/scratch", False, "file:///srv/wf/scratch",
    )  # fmt: skip
    staging = catalog.sites["staging"].directory("sharedScratch")
    assert staging.url("get") == "https://data.example.org/scratch"
    assert staging.url("put") == "scp://user@data.example.org/data/scratch"
    pool = catalog.sites["condorpool"]
    assert pool.directory("localScratch").path == "/tmp/pegasus"
    assert pool.profiles == {
        "condor": {"universe": "vanilla"},
        "pegasus": {"style": "condor", "data.configuration": "nonsharedfs"},
    }


def test_site_catalog_variables_and_grids(fixtures):
    path = str(fixtures / "pegasus-core-043-integrity-nonsharedfs/conf/sites.yml")
    catalog = c.parse_sites(load_yaml(path), path, ENV)
    local = catalog.sites["local"]
    assert local.directory("sharedScratch").path == "/top/LOCAL/shared-scratch"
    assert local.profiles["env"] == {"PEGASUS_HOME": "/opt/pegasus/bin/.."}
    assert catalog.sites["cartman-data"].directory("sharedScratch").url() == (
        "scp://bamboo@bamboo.isi.edu//top/staging-site/scratch/t043"
    )
    path = str(fixtures / "pegasus-core-022-data-reuse-full-a/sites.yml")
    grids = c.parse_sites(load_yaml(path), path, ENV).sites["isi-condorc"].grids
    assert grids == [
        {"type": "condor", "contact": "ccg-testing1.isi.edu", "scheduler": "condor",
         "jobtype": "auxillary"},
        {"type": "condor", "contact": "ccg-testing1.isi.edu", "scheduler": "condor",
         "jobtype": "compute"},
    ]  # fmt: skip


def test_an_unset_variable_names_the_path_and_the_variable(fixtures):
    path = str(fixtures / "pegasus-core-043-integrity-condorio/conf/sites.yml")
    with pytest.raises(ParseError) as caught:
        c.parse_sites(load_yaml(path), path, {"TOPDIR": "/top"})
    assert str(caught.value) == (
        "%s: sites[0].profiles.env.PEGASUS_HOME: ${PEGASUS_BIN_DIR} is not set in the environment"
        % path
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("sites: []\n", "missing required key 'pegasus' (the format version, 5.0)"),
        ("pegasus: '5.0'\nsites: [{arch: x86_64}]\n", "sites[0]: missing required key 'name'"),
        (
            "pegasus: '5.0'\nsites: [{name: a, arch: sparc}]\n",
            "sites[0].arch: 'sparc' is not one of x86, x86_64, ppc, ppc_64, ppc64le, ia64,"
            " sparcv7, sparcv9, amd64, aarch64",
        ),
        (
            "pegasus: '5.0'\nsites: [{name: a}, {name: a}]\n",
            "sites[1].name: duplicate site 'a' (also sites[0])",
        ),
        (
            "pegasus: '5.0'\nsites:\n- name: a\n  directories:\n  - {type: sharedScratch}\n",
            "sites[0].directories[0]: missing required key 'fileServers'",
        ),
        (
            "pegasus: '5.0'\nsites:\n- name: a\n  directories:\n  - type: sharedScratch\n"
            "    fileServers: [{url: 'file:///s', operation: read}]\n",
            "sites[0].directories[0].fileServers[0].operation: 'read' is not one of all, get, put",
        ),
        (
            "pegasus: '5.0'\nsites: [{name: a, grids: [{type: condor, contact: x}]}]\n",
            "sites[0].grids[0]: missing required key 'scheduler'",
        ),
        (
            "pegasus: '5.0'\nsites: [{name: a, profile: {}}]\n",
            "sites[0]: unknown key 'profile' (did you mean 'profiles'?)",
        ),
    ],
)
def test_site_catalog_mistakes(text, expected):
    assert error_of(c.parse_sites, text) == "catalog.yml: " + expected


# ------------------------------------------------------------------ transformations


def test_transformations_with_a_container(fixtures):
    path = str(fixtures / "minimal-examples/transformations.yml")
    catalog = c.parse_transformations(load_yaml(path), path)
    keg = catalog.find("keg", "diamond", "4.0")
    assert keg is not None and keg.sha256.startswith("c3be63a3")
    assert keg.profiles == {
        "env": {"FOO": "bar"},
        "pegasus": {"cores": "2", "memory": "2048", "runtime": "600", "clusters.size": "5"},
    }
    [site] = keg.sites
    assert (site.site, site.pfn, site.type, site.container) == (
        "local", "/usr/bin/pegasus-keg", "stageable", "centos-base",
    )  # fmt: skip
    container = catalog.containers["centos-base"]
    assert (container.type, container.image, container.image_site) == (
        "singularity", "https://example.org/images/centos7.sif", "local",
    )  # fmt: skip
    assert container.mounts == ["/lizard:/lizard:ro"]
    assert container.sha256.startswith("dd78aaa8")
    assert container.profiles == {"pegasus": {"container.arguments": "--nv"}}
    assert catalog.find("sort").sites[0].type == "installed"


def test_every_fixture_catalog_parses(fixtures):
    parsers = {
        "sites.yml": c.parse_sites,
        "transformations.yml": c.parse_transformations,
        "replicas.yml": c.parse_replicas,
    }
    seen = 0
    for name, parse in parsers.items():
        for path in sorted(fixtures.rglob(name)):
            parse(load_yaml(str(path)), str(path), ENV)
            seen += 1
    assert seen == 44


def test_duplicate_transformations_merge_their_sites():
    catalog = c.parse_transformations(
        doc(
            """
            pegasus: '5.0'
            transformations:
            - name: keg
              profiles: {env: {A: '1'}}
              sites: [{name: local, pfn: /a, type: installed}]
            - name: keg
              profiles: {env: {B: '2'}}
              sites: [{name: pool, pfn: /b, type: stageable}]
            """
        ),
        "catalog.yml",
    )
    [keg] = catalog.transformations
    assert [(s.site, s.pfn) for s in keg.sites] == [("local", "/a"), ("pool", "/b")]
    assert keg.profiles == {"env": {"A": "1"}}
    assert keg.sites[1].profiles == {"env": {"B": "2"}}  # the second entry's own profiles


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "pegasus: '5.0'\ntransformations:\n"
            "- {name: a, sites: [{name: l, pfn: /x, type: copied}]}\n",
            "transformations[0].sites[0].type: 'copied' is not one of stageable, installed",
        ),
        (
            "pegasus: '5.0'\ntransformations: [{name: a, sites: [{name: l, pfn: /x,"
            " type: installed, container: nope}]}]\n",
            "transformations[0].sites[0].container: unknown container 'nope' (not in containers)",
        ),
        (
            "pegasus: '5.0'\ntransformations: [{name: a, sites: []}]\n",
            "transformations[0].sites: at least one site is needed",
        ),
        (
            "pegasus: '5.0'\ntransformations: [{name: a, checksum: {md5: x},"
            " sites: [{name: l, pfn: /x, type: installed}]}]\n",
            "transformations[0].checksum.md5: unsupported checksum type (only sha256)",
        ),
        (
            "pegasus: '5.0'\ntransformations: []\n"
            "containers: [{name: c, type: podman, image: x}]\n",
            "containers[0].type: 'podman' is not one of docker, singularity, shifter",
        ),
        (
            "pegasus: '5.0'\ntransformations: []\ncontainers: [{name: c, type: docker, image: x,"
            " mounts: [/only]}]\n",
            "containers[0].mounts[0]: '/only' is not source:destination[:options]",
        ),
        (
            "pegasus: '5.0'\ntransformations: []\ncontainers: [{name: c, type: docker, image: x,"
            " checksum: {sha256: abc}}]\n",
            "containers[0].checksum.sha256: 'abc' is not a sha256 (64 hex digits)",
        ),
    ],
)
def test_transformation_catalog_mistakes(text, expected):
    assert error_of(c.parse_transformations, text) == "catalog.yml: " + expected


TC_TEXT = """\
# a text transformation catalog
tr example::keg:1.0 {
    profile env "APP_HOME" "/tmp/myscratch"
    site isi {
        profile env "HELLO" "WORLD"
        pfn "${TOPDIR}/bin/keg"
        arch "x86_64"
        os "LINUX"
        type "STAGEABLE"
        container "centos-pegasus"
    }
    site pool { pfn "/usr/bin/keg" type "INSTALLED" }
}
tr plain {
    site local { pfn "/bin/true" }
}
cont centos-pegasus {
    type "docker"
    image "docker:///rynge/montage:latest"
    image_site "optional-site"
    mount "/Volumes/Work/lfs1:/shared-data/:ro"
    profile env "JAVA_HOME" "/opt/java/1.6"
}
"""


def test_text_transformation_catalog():
    catalog = c.parse_transformations_text(TC_TEXT, "tc.txt", {"TOPDIR": "/top"})
    keg = catalog.find("keg", "example", "1.0")
    assert keg.profiles == {"env": {"APP_HOME": "/tmp/myscratch"}}
    isi, pool = keg.sites
    assert (isi.site, isi.pfn, isi.type, isi.arch, isi.os_type, isi.container) == (
        "isi", "/top/bin/keg", "stageable", "x86_64", "linux", "centos-pegasus",
    )  # fmt: skip
    assert isi.profiles == {"env": {"HELLO": "WORLD"}}
    assert (pool.pfn, pool.type) == ("/usr/bin/keg", "installed")
    plain = catalog.find("plain")
    assert (plain.namespace, plain.version, plain.sites[0].type) == (None, None, "installed")
    container = catalog.containers["centos-pegasus"]
    assert (container.type, container.image, container.image_site) == (
        "docker", "docker:///rynge/montage:latest", "optional-site",
    )  # fmt: skip
    assert container.mounts == ["/Volumes/Work/lfs1:/shared-data/:ro"]


def test_text_transformation_catalog_mistakes():
    with pytest.raises(ParseError) as caught:
        c.parse_transformations_text(
            'tr a {\n  site l {\n    pfn "/x"\n    color "red"\n', "tc.txt"
        )
    assert str(caught.value) == "tc.txt: line 4: unexpected 'color' in site l"
    with pytest.raises(ParseError) as caught:
        c.parse_transformations_text('tr a {\n  site l { pfn "/x" }\n', "tc.txt")
    assert str(caught.value) == "tc.txt: line 2: unexpected end of file"


# ------------------------------------------------------------------ replicas


def test_replicas_with_checksums_regex_and_metadata(fixtures):
    path = str(fixtures / "minimal-examples/replicas.yml")
    catalog = c.parse_replicas(load_yaml(path), path)
    assert sorted(catalog.entries) == ["f.a", "f.b"]
    assert len(catalog.regex_entries) == 1
    assert catalog.entries["f.a"].sha256.startswith("ca8ed598")
    found = catalog.lookup("chunk.42.dat")
    assert [(r.pfn, r.site) for r in found.pfns] == [
        ("file:///srv/data/chunks/42/chunk.42.dat", "local")
    ]
    path = str(fixtures / "pegasus-core-044-singularity/host/nonsharedfs/replicas.yml")
    entry = c.parse_replicas(load_yaml(path), path, ENV).entries["f.a"]
    assert entry.metadata == {"㐦": "㒦"}
    assert entry.pfns[0].pfn == "/top/host/nonsharedfs/f.a"


def test_several_pfns_for_one_lfn_are_kept_in_order():
    catalog = c.parse_replicas(
        doc(
            """
            pegasus: '5.0'
            replicas:
            - lfn: f.a
              pfns: [{site: local, pfn: /a}, {site: remote, pfn: 'https://x/a'}]
            - lfn: f.a
              pfns: [{site: other, pfn: 'gsiftp://y/a'}, {site: local, pfn: /a}]
            """
        ),
        "catalog.yml",
    )
    assert [(r.site, r.pfn) for r in catalog.entries["f.a"].pfns] == [
        ("local", "/a"), ("remote", "https://x/a"), ("other", "gsiftp://y/a"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text,expected",
    [
        ("pegasus: '5.0'\nreplicas: [{lfn: a}]\n", "replicas[0]: missing required key 'pfns'"),
        (
            "pegasus: '5.0'\nreplicas: [{lfn: a, pfns: [{pfn: /a}]}]\n",
            "replicas[0].pfns[0]: missing required key 'site'",
        ),
        (
            "pegasus: '5.0'\nreplicas: [{lfn: '(a', regex: true, pfns: []}]\n",
            "replicas[0].lfn: '(a' is not a valid regular expression: missing ), unterminated"
            " subpattern at position 0",
        ),
        (
            "pegasus: '5.0'\nreplicas: [{lfn: a, pfns: [], regex: sometimes}]\n",
            "replicas[0].regex: expected true or false, got 'sometimes'",
        ),
    ],
)  # fmt: skip
def test_replica_catalog_mistakes(text, expected):
    assert error_of(c.parse_replicas, text) == "catalog.yml: " + expected


SHA = "CA8ED5988CB4CA0B67C45FD80FD17423ABA2A066CA8A63A4E1C6ADAB067A3E92"
RC_TEXT = (
    """\
# file-based replica catalog
f.a file://$TOPDIR/f.a site="condorpool" checksum.type="sha256" checksum.value="%s"
f.a   https://example.org/f.a   pool="remote"
"with space.txt" "file:///data/with space.txt" site="local" owner="me"
chunk\\.([0-9]+) file:///chunks/[1] site="local" regex="true"
${TOPDIR}.txt /x site=local
"""
    % SHA
)


def test_text_replica_catalog():
    catalog = c.parse_replicas_text(RC_TEXT, "rc.data", {"TOPDIR": "/top"})
    entry = catalog.entries["f.a"]
    assert [(r.pfn, r.site) for r in entry.pfns] == [
        ("file://$TOPDIR/f.a", "condorpool"),  # $TOPDIR without braces is left alone
        ("https://example.org/f.a", "remote"),
    ]
    assert entry.sha256 == "ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"
    spaced = catalog.entries["with space.txt"]
    assert spaced.pfns[0].pfn == "file:///data/with space.txt"
    assert spaced.metadata == {"owner": "me"}
    assert catalog.lookup("chunk.7").pfns[0].pfn == "file:///chunks/7"
    assert catalog.entries["/top.txt"].pfns[0].site == "local"


@pytest.mark.parametrize(
    "line,expected",
    [
        ("onlylfn\n", "rc.data: line 1: expected: lfn pfn [key=\"value\" ...]"),
        ('f /p site="x" checksum.type="md5" checksum.value="abc"\n',
         "rc.data: line 1: checksum.type 'md5' is not supported (only sha256)"),
        ('f /p site="unterminated\n',
         "rc.data: line 1: cannot split 'f /p site=\"unterminated': No closing quotation"),
        ("# ok\nf /p nokey\n", "rc.data: line 2: 'nokey' is not key=\"value\""),
        ("f ${MISSING}/p\n", "rc.data: line 1: ${MISSING} is not set in the environment"),
    ],
)  # fmt: skip
def test_text_replica_catalog_mistakes(line, expected):
    with pytest.raises(ParseError) as caught:
        c.parse_replicas_text(line, "rc.data", {})
    assert str(caught.value) == expected
