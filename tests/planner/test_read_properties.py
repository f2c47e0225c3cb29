"""properties: the Java properties format, profiles given as properties, pegasus.mode."""

from __future__ import annotations

import pytest

from planner.errors import ParseError, PlanError
from planner.properties import Properties, parse_properties, properties_from_environment

JAVA_SYNTAX = (
    "# comment\n"
    "! also a comment\n"
    "   \n"
    "a = 1\n"
    "b: two\n"
    "c three words\n"
    "d=\n"
    "e\n"
    "  f  =  spaced value  \n"
    "long = first \\\n"
    "       second \\\n"
    "    third\n"
    "escaped\\ key\\=x = tab\\there\\nline \\u00e9\\\\\n"
    "url=jdbc\\:sqlite\\:/tmp/x.db\n"
    "expr = (JobStatus \\=\\= 5)\n"
    "odd = ends in two \\\\\n"
    "next = line\n"
)


def test_the_java_properties_syntax():
    assert parse_properties(JAVA_SYNTAX) == {
        "a": "1",
        "b": "two",
        "c": "three words",
        "d": "",
        "e": "",
        "f": "spaced value  ",
        "long": "first second third",
        "escaped key=x": "tab\there\nline é\\",
        "url": "jdbc:sqlite:/tmp/x.db",
        "expr": "(JobStatus == 5)",
        "odd": "ends in two \\",
        "next": "line",
    }


def test_a_malformed_unicode_escape_names_the_line():
    with pytest.raises(ParseError) as caught:
        parse_properties("a = 1\nb = \\u12\n", "p.properties")
    assert str(caught.value) == "p.properties: line 2: malformed \\uXXXX escape"


def test_golden_properties_files_read_as_pegasus_wrote_them(fixtures):
    paths = sorted(fixtures.glob("golden-pegasus-5.0.5-submitdirs/*/pegasus.*.properties"))
    assert len(paths) == 5
    held = next(p for p in paths if "sample_wf_held" in str(p))
    properties = Properties()
    properties.update_from_file(str(held))
    assert properties.get("condor.periodic_remove") == (
        "(JobStatus == 5) && ((CurrentTime - EnteredCurrentStatus) > 30)"
    )
    assert properties.get("pegasus.catalog.replica.output.db.url").startswith("jdbc:sqlite:/home/")
    assert properties.get("pegasus.mode") == "development"
    assert properties.sources == [str(held)]
    assert properties.profiles() == {
        "dagman": {"maxpre": "1", "RETRY": "0"},
        "condor": {"periodic_remove": properties.get("condor.periodic_remove")},
    }


def test_profiles_given_as_properties():
    properties = Properties(
        {
            "env.PATH": "/bin",
            "condor.request_memory": "2048",
            "dagman.retry": "3",
            "globus.maxwalltime": "10",
            "hints.execution.site": "pool",
            "selector.execution.site": "pool",
            "pegasus.data.configuration": "condorio",  # both a property and a profile
            "pegasus.clusters.size": "5",
            "pegasus.transfer.arguments": "-m 1",
            "pegasus.mode": "development",  # a property only
            "pegasus.catalog.site.file": "sites.yml",  # a property only
            "pegasus.catalog.site.sites.pool.profiles.env.FOO": "bar",
            "pegasus.catalog.site.sites.pool.profiles.condor.universe": "vanilla",
            "pegasus.catalog.site.sites.other.profiles.pegasus.style": "condor",
            "envy": "not a profile",
            "unknown.key": "x",
        }
    )
    assert properties.profiles() == {
        "env": {"PATH": "/bin"},
        "condor": {"request_memory": "2048"},
        "dagman": {"retry": "3"},
        "globus": {"maxwalltime": "10"},
        "hints": {"execution.site": "pool"},
        "selector": {"execution.site": "pool"},
        "pegasus": {
            "data.configuration": "condorio",
            "clusters.size": "5",
            "transfer.arguments": "-m 1",
        },
    }
    assert properties.site_profiles("pool") == {
        "env": {"FOO": "bar"},
        "condor": {"universe": "vanilla"},
    }
    assert properties.site_profiles("other") == {"pegasus": {"style": "condor"}}
    assert properties.site_profiles("absent") == {}
    assert properties.profile_sites() == ["pool", "other"]


def test_typed_access():
    properties = Properties({"t": "Yes", "f": "off", "n": " 12 ", "bad": "maybe", "nan": "x"})
    properties.origin["bad"] = "pegasus.properties"
    assert properties.get_bool("t") is True and properties.get_bool("f") is False
    assert properties.get_bool("absent", True) is True
    assert properties.get_int("n") == 12 and properties.get_int("absent", 7) == 7
    with pytest.raises(PlanError) as caught:
        properties.get_bool("bad")
    assert str(caught.value) == "pegasus.properties: bad = 'maybe' is not true or false"
    with pytest.raises(PlanError) as caught:
        properties.get_int("nan")
    assert str(caught.value) == "properties: nan = 'x' is not a whole number"


def test_layers_and_references(tmp_path):
    first = tmp_path / "first.properties"
    first.write_text("base = /data\nwho = ${user.name}\nkept = 1\n")
    second = tmp_path / "second.properties"
    second.write_text("dir = ${base}/in\nkept = 2\nhome = ${HOME}/x\nnothing = ${absent}\n")
    properties = Properties()
    environ = {"USER": "alice", "HOME": "/home/alice"}
    properties.update_from_file(str(first), environ)
    properties.update_from_file(str(second), environ)
    assert properties.get("who") == "alice"
    assert properties.get("dir") == "/data/in"
    assert properties.get("kept") == "2"
    assert properties.get("home") == "/home/alice/x"
    assert properties.get("nothing") == ""  # Pegasus leaves an unknown reference empty
    assert properties.sources == [str(first), str(second)]
    assert properties.origin["kept"] == str(second)


PERIODIC_REMOVE = "(JobStatus == 5) && ((CurrentTime - EnteredCurrentStatus) > 30)"


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("production", {}),
        (
            "development",
            {
                "dagman.retry": "0",
                "pegasus.integrity.checking": "none",
                "condor.periodic_remove": PERIODIC_REMOVE,
            },
        ),
        ("tutorial", {"dagman.retry": "1", "pegasus.transfer.arguments": "-m 1"}),
        (
            "debug",
            {"pegasus.transfer.arguments": "--debug -m 1", "pegasus.monitord.arguments": "-vvv"},
        ),
    ],
)  # fmt: skip
def test_pegasus_mode_defaults(mode, expected):
    properties = Properties({"pegasus.mode": mode})
    assert properties.apply_mode() == mode
    for key, value in expected.items():
        assert properties.get(key) == value
    if mode == "production":
        assert properties.as_dict() == {"pegasus.mode": "production"}


def test_pegasus_mode_leaves_what_the_user_set():
    properties = Properties(
        {"pegasus.mode": "development", "dagman.RETRY": "2", "pegasus.integrity.checking": "full"}
    )
    properties.apply_mode()
    assert properties.get("pegasus.integrity.checking") == "full"
    assert "dagman.retry" not in properties  # dagman.RETRY is the same profile
    assert properties.get("condor.periodic_remove").startswith("(JobStatus == 5)")


def test_an_unknown_mode_is_one_line():
    properties = Properties()
    properties.update({"pegasus.mode": "fast"}, "pegasus.properties")
    with pytest.raises(PlanError) as caught:
        properties.apply_mode()
    assert str(caught.value) == (
        "pegasus.properties: pegasus.mode = 'fast' is not one of production, development, debug,"
        " tutorial"
    )


def test_properties_from_the_environment():
    assert properties_from_environment(
        {"_PEGASUS__DATA__CONFIGURATION": "nonsharedfs", "PEGASUS_HOME": "/x", "PATH": "/bin"}
    ) == {"pegasus.data.configuration": "nonsharedfs"}
