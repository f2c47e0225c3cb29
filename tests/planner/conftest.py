"""Planner tests read the real Pegasus fixtures in ../shared/fixtures/pegasus (beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PEGASUS_LITE_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "pegasus"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The fixture tree; in CI its absence is a failure, elsewhere a skip that says why."""
    if not FIXTURES.is_dir():
        message = "Pegasus fixtures not found at %s (set PEGASUS_LITE_SHARED)" % FIXTURES
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return FIXTURES


@pytest.fixture(scope="session")
def reference(fixtures: Path) -> Path:
    """Real PegasusLite job outputs (records and logs) from Pegasus 5.1, in ../shared."""
    path = fixtures.parents[1] / "reference" / "pegasus-5.1-worker-output"
    if not path.is_dir():
        message = "Pegasus reference records not found at %s" % path
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
