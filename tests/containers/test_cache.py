"""The node image cache on its own: sizes, many processes at once, least-recently-used eviction."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from containers.cache import ImageCache, _hash, cache_root, parse_size


@pytest.mark.parametrize(
    "text, size",
    [(None, None), ("", None), ("1024", 1024), ("10K", 10240), ("1.5G", 3 << 29), ("2G", 2 << 30)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_rejects_nonsense():
    with pytest.raises(ValueError, match="PEGASUS_IMAGE_CACHE_MAX"):
        parse_size("lots")


def test_default_location_is_per_user():
    assert cache_root({}) == "/var/tmp/pegasus-lite-images-%d" % os.getuid()
    assert cache_root({"PEGASUS_IMAGE_CACHE": "/x"}) == "/x"


LOADER = """
import os, sys, time
sys.path.insert(0, %(root)r)
from containers.cache import ImageCache
cache = ImageCache("test", {"PEGASUS_IMAGE_CACHE": %(dir)r})
with cache.acquire("file:sha256:abc") as slot:
    if slot.entry is None:
        time.sleep(0.3)  # a slow load: everyone else must wait for it, not load too
        with open(%(count)r, "a") as fh:
            fh.write("load %%d\\n" %% os.getpid())
        lease = slot.use("sha256:img")
        slot.store(image="sha256:img", size=10, owned=True)
    else:
        lease = slot.use(slot.entry["image"])
        slot.touch()
print(slot.entry["image"])
lease.release()
"""


def test_many_processes_load_once(tmp_path):
    count = tmp_path / "loads"
    code = LOADER % {"root": os.getcwd(), "dir": str(tmp_path / "cache"), "count": str(count)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(30)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 30
    assert outputs == ["sha256:img"] * 30
    assert len(count.read_text().splitlines()) == 1


def _store(cache: ImageCache, key: str, image: str, size: int, owned: bool = True) -> None:
    with cache.acquire(key) as slot:
        slot.store(image=image, size=size, owned=owned)


def test_eviction_is_least_recently_used_and_spares_images_in_use(tmp_path):
    env = {"PEGASUS_IMAGE_CACHE": str(tmp_path), "PEGASUS_IMAGE_CACHE_MAX": "250"}
    cache = ImageCache("test", env)
    for number, key in enumerate(("a", "b", "c", "d")):
        _store(cache, key, "img-" + key, 100)
        os.utime(os.path.join(cache.root, _hash(key) + ".json"), (0, 1000 + number))
    _store(cache, "present", "img-present", 10_000, owned=False)  # never ours to remove
    with cache.acquire("a") as slot:  # a hit makes "a" the most recent
        slot.touch()
    in_use = cache.use("img-b")
    removed: list[str] = []
    try:
        evicted = cache.evict(lambda entry: removed.append(entry["image"]) or True, keep={"img-d"})
    finally:
        in_use.release()
    # over by 150: c (oldest not in use, not kept) goes, then a; b is in use, d is kept
    assert removed == ["img-c", "img-a"]
    assert [e["image"] for e in evicted] == removed
    assert cache.owned_bytes() == 200
    left = sorted(e["image"] for _, _, e in cache.entries())
    assert left == ["img-b", "img-d", "img-present"]


def test_no_bound_no_eviction(tmp_path):
    cache = ImageCache("test", {"PEGASUS_IMAGE_CACHE": str(tmp_path)})
    _store(cache, "a", "img-a", 1 << 40)
    assert cache.evict(lambda entry: True) == []


def test_eviction_keeps_an_image_the_engine_refuses_to_remove(tmp_path):
    env = {"PEGASUS_IMAGE_CACHE": str(tmp_path), "PEGASUS_IMAGE_CACHE_MAX": "0"}
    cache = ImageCache("test", env)
    _store(cache, "a", "img-a", 5)
    assert cache.evict(lambda entry: False) == []
    assert [e["image"] for _, _, e in cache.entries()] == ["img-a"]


def test_a_key_being_loaded_is_not_evicted(tmp_path):
    env = {"PEGASUS_IMAGE_CACHE": str(tmp_path), "PEGASUS_IMAGE_CACHE_MAX": "0"}
    cache = ImageCache("test", env)
    _store(cache, "a", "img-a", 5)
    slot = cache.acquire("a")  # another job holds the key
    try:
        started = time.monotonic()
        assert cache.evict(lambda entry: True) == []
        assert time.monotonic() - started < 1  # and eviction does not wait for it
    finally:
        slot.release()
    assert len(cache.evict(lambda entry: True)) == 1
