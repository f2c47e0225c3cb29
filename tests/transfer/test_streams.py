"""The hashing, all-or-nothing file objects the handlers write into and read from."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from transfer import streams
from transfer.errors import ChecksumMismatch


def test_absorb_across_windows_and_pieces(tmp_path, monkeypatch):
    """Many mapped windows and pieces, the last of each partial: bytes and hash exact."""
    monkeypatch.setattr(streams, "PIPELINE_MIN", 0)  # and pipeline=True, the default
    monkeypatch.setattr(streams, "WINDOW", 1 << 20)
    monkeypatch.setattr(streams, "PIECE", 300_000)
    data = os.urandom(5 * (1 << 20) + 12345)
    (tmp_path / "src").write_bytes(data)
    sink = streams.AtomicFile(str(tmp_path / "out" / "dst"))
    sink.absorb(str(tmp_path / "src"))
    sink.commit(hashlib.sha256(data).hexdigest())
    assert (tmp_path / "out" / "dst").read_bytes() == data
    assert sink.size == len(data)


def test_mismatch_leaves_nothing(tmp_path):
    sink = streams.AtomicFile(str(tmp_path / "dst"))
    sink.write(b"abc")
    with pytest.raises(ChecksumMismatch):
        sink.commit("0" * 64)
    assert os.listdir(tmp_path) == []


def test_rewind_restarts_the_hash_and_other_seeks_are_refused(tmp_path):
    sink = streams.AtomicFile(str(tmp_path / "dst"))
    sink.write(b"first try, cut short")
    sink.seek(0)
    sink.write(b"second")
    with pytest.raises(io.UnsupportedOperation):
        sink.seek(3)
    sink.commit(hashlib.sha256(b"second").hexdigest())
    assert (tmp_path / "dst").read_bytes() == b"second"


def test_reader_hashes_what_it_hands_out(tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")
    reader = streams.HashingReader(str(tmp_path / "f"))
    assert reader.read(4) == b"0123"
    assert reader.sha256 is None  # not all of it yet
    reader.seek(0)
    assert reader.read() == b"0123456789"
    assert reader.sha256 == hashlib.sha256(b"0123456789").hexdigest()
    reader.seek(5)
    reader.read()
    assert reader.sha256 is None  # read from the middle: no claim about the whole file
    reader.close()
