"""The pieces of the record: YAML scalars, argument rewriting, secret redaction."""

from __future__ import annotations

import random

import pytest
import yaml

from kickstart import environ
from kickstart.argexpand import expand_argument
from kickstart.yamlfmt import block, plain, quoted

NASTY = [
    "",
    " ",
    "plain",
    "a: b",
    "- item",
    "#comment",
    'q"uote',
    "back\\slash",
    "new\nline",
    "\ttab",
    "\x00nul\x07bel\x1besc\x7fdel\x85nel\x9f",
    "\u2028ls\u2029ps\ufeffbom",
    "caf\u00e9 \u2615 \U0001f600",
    "yes",
    "No",
    "null",
    "~",
    "0o755",
    "1:20",
    "3.0",
    ".inf",
    "{a: 1}",
    "[1, 2]",
    "&anchor *alias !tag %dir @at `tick",
    "trailing space ",
    "two  spaces",
    "/abs/path/with-dash_and.dots",
    "---",
    "...",
]


@pytest.mark.parametrize("text", NASTY)
def test_quoted_and_plain_read_back_exactly(text):
    for emit in (quoted, plain):
        assert yaml.safe_load("key: %s\n" % emit(text))["key"] == text


def test_plain_stays_bare_for_ordinary_values():
    assert plain("/usr/bin/true") == "/usr/bin/true"
    assert plain("AuthenticAMD") == "AuthenticAMD"
    assert plain("yes") == '"yes"'
    assert plain("6.1.0") == '"6.1.0"'


def test_raw_bytes_come_back_as_latin1():
    text = b"ok \xff\xfe \xe9".decode("utf-8", "surrogateescape")
    assert yaml.safe_load("k: %s\n" % quoted(text))["k"] == "ok \xff\xfe \xe9"


@pytest.mark.parametrize(
    "text",
    [
        "one line\n",
        "no newline",
        "two\nlines\n",
        "trailing blank lines\n\n\n",
        "\nleading blank line\n",
        "  indented first\n",
        "x\n  indented later\n",
        "tab\tinside\n",
        "ctl \x01 char\n",
        "cr\r\nlf\n",
        "nel\x85 here\n",
        "- invocation: True\n",
        'quote " and back \\ slash\n',
        "\n",
        "",
    ],
)
def test_block_reads_back_exactly(text):
    doc = "outer:\n  data:%s\n  after: 1\n" % block(text, "    ")
    loaded = yaml.safe_load(doc)
    assert loaded["outer"]["data"] == text
    assert loaded["outer"]["after"] == 1


def test_block_uses_a_literal_for_ordinary_text():
    assert block("hello\n", "    ") == " |\n    hello"


def test_fuzzed_strings_round_trip():
    rng = random.Random(20261121)
    alphabet = [chr(c) for c in range(0, 0x250)] + ["\u2028", "\ufeff", "\U0001f600", ": ", "- "]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert yaml.safe_load("k: %s\n" % quoted(text))["k"] == text
        doc = "o:\n  d:%s\n  e: 1\n" % block(text, "    ")
        assert yaml.safe_load(doc)["o"]["d"] == text


ENV = {"HOME": "/home/u", "EMPTY": "", "A": "1"}


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("$HOME", "/home/u"),
        ("${HOME}/x", "/home/u/x"),
        ("$HOME/x", "/home/u/x"),
        ("pre$A.post", "pre1.post"),
        ("$EMPTY", ""),
        ("\\$HOME", "$HOME"),
        ("'$HOME'", "'$HOME'"),
        ('"$HOME"', '"/home/u"'),
        ('"a\\"b"', '"a\\"b"'),
        ("a\\b", "ab"),
        ("$$", "$$"),
        ("$", "$"),
        ("cost $5", "cost $5"),
        ("$NOPE", "$NOPE"),
        ("${NOPE}", "${NOPE}"),
        ("${bad name}", "${bad name}"),
        ("trailing\\", "trailing\\"),
        ("no specials", "no specials"),
    ],
)
def test_argument_rewriting(arg, expected):
    assert expand_argument(arg, ENV) == expected


@pytest.mark.parametrize(
    "name",
    ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN", "db_password", "MY_CREDENTIALS",
     "X509_USER_PROXY", "GOOGLE_APPLICATION_CREDENTIALS", "irods_pass"],
)  # fmt: skip
def test_secret_names_are_redacted(name):
    assert environ.redacted_value(name, "value") == environ.REDACTED


def test_ordinary_values_are_kept_and_url_passwords_removed():
    assert environ.redacted_value("PATH", "/usr/bin:/bin") == "/usr/bin:/bin"
    assert (
        environ.redacted_value("PROXY", "see https://u:pw@h:1/p and ftp://x@y/ and s3://a:b@c")
        == "see https://u:<redacted>@h:1/p and ftp://x@y/ and s3://a:<redacted>@c"
    )
