"""The real .in files pegasus-plan 5.0.5 wrote, run by our pegasus-transfer.

Every absolute path in them is moved under a temporary root and the one http URL (the
worker package download) is pointed at nginx on loopback; what the list asks for must
then happen: files copied byte for byte, directories made, trees removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.servers import unavailable

SHARED = Path(__file__).resolve().parents[3] / "shared"
GOLDEN = SHARED / "fixtures/pegasus/golden-pegasus-5.0.5-submitdirs"


def golden_lists() -> list[Path]:
    if not GOLDEN.is_dir():
        return []
    return sorted(p for p in GOLDEN.rglob("*.in") if not p.name.startswith("register_"))


def local_path(url: str, root: Path) -> Path:
    path = re.sub(r"^file:/*", "/", url)
    return root / path.lstrip("/")


@pytest.mark.server
@pytest.mark.parametrize(
    "listing", golden_lists(), ids=lambda p: str(p.relative_to(GOLDEN)) if GOLDEN.is_dir() else ""
)
def test_golden_transfer_list(listing, tmp_path, pegasus_transfer, nginx_server):
    root = tmp_path / "root"
    entries = json.loads(listing.read_text())
    expectations = []
    for entry in entries:
        if entry["type"] == "transfer":
            for src in entry["src_urls"]:
                if src["url"].startswith("http"):
                    name = "%s-%s" % (listing.stem, src["url"].rsplit("/", 1)[-1])
                    data = ("worker package for %s" % listing).encode()
                    (nginx_server.root / name).write_bytes(data)
                    src["url"] = "%s/%s" % (nginx_server.url, name)
                else:
                    path = local_path(src["url"], root)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    data = ("%s from %s" % (entry.get("lfn"), listing)).encode()
                    path.write_bytes(data)
                    src["url"] = "file://%s" % path
            for dst in entry["dest_urls"]:
                dest = local_path(dst["url"], root)
                dst["url"] = "file://%s" % dest
                expectations.append(("file", dest, data))
        else:
            target = local_path(entry["target"]["url"], root)
            entry["target"]["url"] = "file://%s" % target
            if entry["type"] == "mkdir":
                expectations.append(("dir", target, None))
            else:
                if str(entry["target"].get("recursive")).lower() == "true":
                    (target / "sub").mkdir(parents=True)
                    (target / "sub" / "leftover.txt").write_text("x")
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text("an intermediate file")
                expectations.append(("gone", target, None))
    run = pegasus_transfer(entries, cwd=tmp_path)
    assert run.rc == 0, run.stderr
    for kind, path, data in expectations:
        if kind == "file":
            assert path.read_bytes() == data
        elif kind == "dir":
            assert path.is_dir()
        else:
            assert not path.exists()


def test_the_golden_lists_were_found():
    if not GOLDEN.is_dir():
        unavailable("shared/fixtures is not beside this checkout")  # fails in CI
    assert len(golden_lists()) >= 30
