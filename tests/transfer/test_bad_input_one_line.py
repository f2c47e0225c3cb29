"""A bad transfer list is reported in one line, even when a name in it holds a line break."""

from __future__ import annotations

import pytest

from transfer.errors import BadInput
from transfer.inputs import parse_entries


def test_a_line_break_in_a_name_stays_on_the_error_line():
    entry = {
        "type": "transfer", "linkage": "input", "lfn": "\x1b\rtarget\nx", "id": 1,
        "src_urls": [None], "dest_urls": [{"site_label": "local", "url": "file:///x"}],
    }  # fmt: skip
    with pytest.raises(BadInput) as error:
        parse_entries([entry])
    message = str(error.value)
    assert "\n" not in message and "\r" not in message
    assert "target\\nx" in message
