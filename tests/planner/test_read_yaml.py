"""yamlload: ryaml and PyYAML give the same documents; errors are one line with the line number."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner import yamlload
from planner.errors import ParseError
from planner.yamlload import LazySequence, load_text, load_yaml, loads_yaml

needs_ryaml = pytest.mark.skipif(yamlload._ryaml is None, reason="ryaml is not installed")


@pytest.fixture
def pyyaml_only(monkeypatch):
    """The fallback back end, as on a machine without ryaml."""
    monkeypatch.setattr(yamlload, "_ryaml", None)


def both(text: str, source: str = "t.yml") -> tuple:
    """(ryaml's document, PyYAML's document) for the same text."""
    fast = yamlload._ryaml
    try:
        first = loads_yaml(text, source)
        yamlload._ryaml = None
        second = loads_yaml(text, source)
    finally:
        yamlload._ryaml = fast
    return first, second


def fixture_yamls(root: Path) -> list:
    return sorted(root.rglob("*.yml"))


@needs_ryaml
def test_every_fixture_yaml_reads_the_same_with_both_back_ends(fixtures):
    paths = fixture_yamls(fixtures)
    assert len(paths) > 40  # workflows, catalogs, braindumps of every fixture
    for path in paths:
        text = path.read_text(encoding="utf-8")
        fast, slow = both(text, str(path))
        assert fast == slow, path


# scalars where YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) disagree: both must give the right side
SCALARS = [
    ("yes", "yes"),
    ("on", "on"),
    ("Off", "Off"),
    ("NO", "NO"),
    ("y", "y"),
    ("true", True),
    ("False", False),
    ("TRUE", True),
    ("1e3", 1000.0),
    ("1.5e-3", 0.0015),
    ("0o17", 15),
    ("017", "017"),
    ("0x1F", 31),
    ("0b101", 5),
    ("1:20", "1:20"),
    ("1_000", "1_000"),
    ("2021-01-01", "2021-01-01"),
    ("2021-01-01T10:00:00Z", "2021-01-01T10:00:00Z"),
    ("11-21-26T06:16:24Z", "11-21-26T06:16:24Z"),
    ("5.0.4", "5.0.4"),
    ("5.0", 5.0),
    ("'5.0'", "5.0"),
    ("~", None),
    ("Null", None),
    ("-0", 0),
    (".5", 0.5),
    ("=", "="),
    ("<<", "<<"),
]


@pytest.mark.parametrize("scalar,expected", SCALARS)
def test_scalars_resolve_by_the_yaml_1_2_core_rules(scalar, expected, pyyaml_only):
    assert loads_yaml("a: %s" % scalar, "t.yml") == {"a": expected}


@needs_ryaml
@pytest.mark.parametrize("scalar,expected", SCALARS)
def test_ryaml_resolves_the_same_scalars(scalar, expected):
    document = loads_yaml("a: %s" % scalar, "t.yml")
    assert document == {"a": expected}
    assert type(document["a"]) is type(expected)


def test_infinity_and_nan_literals(pyyaml_only):
    document = loads_yaml("a: .inf\nb: -.Inf\nc: .nan\nd: 1e999", "t.yml")
    assert document["a"] == float("inf") and document["b"] == float("-inf")
    assert document["c"] != document["c"]
    assert document["d"] == "1e999"  # out of range: kept as text, as ryaml does


@pytest.mark.parametrize("backend", ["ryaml", "pyyaml"])
def test_merge_keys_are_applied_by_both(backend, monkeypatch):
    if backend == "pyyaml":
        monkeypatch.setattr(yamlload, "_ryaml", None)
    elif yamlload._ryaml is None:
        pytest.skip("ryaml is not installed")
    text = "base: &b {cores: 1, memory: 2}\nsite:\n  <<: *b\n  memory: 4\n"
    assert loads_yaml(text, "t.yml") == {
        "base": {"cores": 1, "memory": 2},
        "site": {"cores": 1, "memory": 4},
    }


ERRORS = [
    ("a: [1, 2\n", "line 2 column 1"),
    ("a:\n  - b\n c: d\n", "line 3 column 2"),
    ("a: b: c\n", "line 1 column 5"),
    ("jobs: 1\njobs: 2\n", 'duplicate entry with key "jobs"'),
    ("\t- x\n", "line 1"),
]


@pytest.mark.parametrize("backend", ["ryaml", "pyyaml"])
@pytest.mark.parametrize("text,detail", ERRORS)
def test_syntax_errors_are_one_line_naming_the_place(text, detail, backend, monkeypatch):
    if backend == "pyyaml":
        monkeypatch.setattr(yamlload, "_ryaml", None)
    elif yamlload._ryaml is None:
        pytest.skip("ryaml is not installed")
    with pytest.raises(ParseError) as caught:
        loads_yaml(text, "workflow.yml")
    message = str(caught.value)
    assert message.startswith("workflow.yml: not valid YAML: ")
    assert detail in message
    assert "\n" not in message


def test_two_documents_in_one_file_are_refused():
    with pytest.raises(ParseError, match=r"^w\.yml: not valid YAML: "):
        loads_yaml("a: 1\n---\nb: 2\n", "w.yml")


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(ParseError) as caught:
        load_yaml(str(tmp_path / "absent.yml"))
    assert str(caught.value) == "%s: cannot read: No such file or directory" % (
        tmp_path / "absent.yml"
    )
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ParseError) as caught:
        load_yaml(str(latin))
    assert str(caught.value) == "%s: not UTF-8 text (line 2)" % latin


# ------------------------------------------------------------------ lazy sequences


def big_workflow(jobs: int) -> str:
    lines = ["# generated\n", "x-pegasus: {apiLang: python}\n", "pegasus: 5.0.4\n", "name: big\n"]
    lines.append("jobs:\n")
    for i in range(jobs):
        lines.append(
            "- type: job\n  name: keg\n  id: ID%07d\n  arguments:\n  - -i\n  - 'f.%d'\n"
            "  uses:\n  - lfn: f.%d\n    type: input\n  - lfn: |\n      multi\n      line\n"
            "    type: output\n" % (i, i, i)
        )
    lines.append("jobDependencies:\n")
    for i in range(1, jobs):
        lines.append("  - id: ID%07d\n    children:\n    - ID%07d\n" % (i - 1, i))
    lines.append("metadata: {after: jobs}\n")
    return "".join(lines)


def test_lazy_sequences_give_the_items_of_a_full_parse(monkeypatch):
    text = big_workflow(300)
    monkeypatch.setattr(yamlload, "LAZY_MIN_BYTES", 0)
    monkeypatch.setattr(yamlload, "CHUNK_BYTES", 700)  # many small chunks
    lazy = load_text(text, "big.yml", lazy=("jobs", "jobDependencies"))
    full = loads_yaml(text, "big.yml")
    assert isinstance(lazy["jobs"], LazySequence)
    assert isinstance(lazy["jobDependencies"], LazySequence)
    assert list(lazy["jobs"]) == full["jobs"]
    assert list(lazy["jobDependencies"]) == full["jobDependencies"]
    assert {k: v for k, v in lazy.items() if k not in ("jobs", "jobDependencies")} == {
        k: v for k, v in full.items() if k not in ("jobs", "jobDependencies")
    }


def test_a_syntax_error_in_a_lazy_chunk_names_the_line_of_the_file(monkeypatch):
    text = big_workflow(50)
    lines = text.splitlines(keepends=True)
    broken = next(i for i, line in enumerate(lines) if "ID0000040" in line)
    lines[broken] = "  id: [ID0000040\n"
    monkeypatch.setattr(yamlload, "LAZY_MIN_BYTES", 0)
    monkeypatch.setattr(yamlload, "CHUNK_BYTES", 500)
    document = load_text("".join(lines), "big.yml", lazy=("jobs",))
    with pytest.raises(ParseError) as caught:
        list(document["jobs"])
    full = None
    try:
        loads_yaml("".join(lines), "big.yml")
    except ParseError as error:
        full = str(error)
    assert str(caught.value).startswith("big.yml: not valid YAML: ")
    assert "line %d" % (broken + 2) in str(caught.value)  # where the scanner gives up
    assert full is not None and "line %d" % (broken + 2) in full


def test_flow_style_or_odd_layouts_are_parsed_whole(monkeypatch):
    monkeypatch.setattr(yamlload, "LAZY_MIN_BYTES", 0)
    for text in (
        "{pegasus: '5.0', name: w, jobs: [{id: a}]}\n",
        "pegasus: '5.0'\njobs: [{id: a}]\n",
        "---\npegasus: '5.0'\njobs:\n- {id: a}\n",
        "%YAML 1.1\n---\njobs:\n- {id: a}\n",
    ):
        document = load_text(text, "w.yml", lazy=("jobs",))
        assert document["jobs"] == [{"id": "a"}], text


def test_pyyaml_reads_big_documents_the_same(monkeypatch):
    text = big_workflow(40)
    expected = yaml.safe_load(text)
    monkeypatch.setattr(yamlload, "_ryaml", None)
    monkeypatch.setattr(yamlload, "LAZY_MIN_BYTES", 0)
    monkeypatch.setattr(yamlload, "CHUNK_BYTES", 300)
    document = load_text(text, "big.yml", lazy=("jobs", "jobDependencies"))
    assert list(document["jobs"]) == expected["jobs"]
    assert list(document["jobDependencies"]) == expected["jobDependencies"]
