"""pegasus-transfer on local files: copies, links, moves, mkdir/remove, retries, bad input."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.transfer.conftest import transfer


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def part_files(directory) -> list[str]:
    """Temporary names a failed transfer might have left behind."""
    return [p.name for p in directory.iterdir() if ".part-" in p.name]


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / ("f%d" % i)).write_bytes(os.urandom(1000 + i))
    return src


def test_many_files_copied_exactly(pegasus_transfer, files, tmp_path):
    entries = [
        transfer("file://%s/f%d" % (files, i), "file://%s/out/f%d" % (tmp_path, i), "f%d" % i)
        for i in range(5)
    ]
    run = pegasus_transfer(entries)
    assert run.rc == 0, run.stderr
    for i in range(5):
        assert sha(tmp_path / "out" / ("f%d" % i)) == sha(files / ("f%d" % i))
    assert "All transfers completed successfully." in run.stderr
    assert "Stats: Total 5 transfers, 4.9 KB transferred in 0 seconds." in run.stderr
    assert "Between sites src->dst : 5 transfers" in run.stderr
    assert run.stdout == ""
    assert [a["success"] for a in run.report["attempts"]] == [True] * 5


def test_executable_bit_survives_the_copy(pegasus_transfer, files, tmp_path):
    (files / "f0").chmod(0o755)
    run = pegasus_transfer([transfer("file://%s/f0" % files, "file://%s/bin/tool" % tmp_path)])
    assert run.rc == 0
    assert (tmp_path / "bin" / "tool").stat().st_mode & 0o777 == 0o755


def test_dollar_pwd_and_plain_paths(pegasus_transfer, files, tmp_path):
    run = pegasus_transfer([transfer(str(files / "f1"), "file://$PWD/here/f1")], cwd=tmp_path)
    assert run.rc == 0, run.stderr
    assert sha(tmp_path / "here" / "f1") == sha(files / "f1")
    assert run.report["attempts"][0]["destination"] == "file://%s/here/f1" % tmp_path


def test_expected_checksum(pegasus_transfer, files, tmp_path):
    good = transfer(
        "file://%s/f1" % files, "file://%s/out/good" % tmp_path, checksum=sha(files / "f1")
    )
    bad = transfer("file://%s/f2" % files, "file://%s/out/bad" % tmp_path, "bad", checksum="0" * 64)
    run = pegasus_transfer([good, bad])
    assert run.rc == 1
    assert (tmp_path / "out" / "good").exists()
    assert not (tmp_path / "out" / "bad").exists()
    assert part_files(tmp_path / "out") == []
    assert "checksum mismatch" in run.stderr
    bad_attempts = [a for a in run.report["attempts"] if a["lfn"] == "bad"]
    assert len(bad_attempts) == 2  # the first fetch and exactly one re-fetch
    good_attempt = next(a for a in run.report["attempts"] if a["lfn"] == "f")
    assert good_attempt["sha256"] == sha(files / "f1")


def test_checksum_from_meta_files_in_the_working_directory(pegasus_transfer, files, tmp_path):
    meta = [{"_id": "f3", "_type": "file", "_attributes": {"checksum.type": "sha256",
             "checksum.value": "1" * 64}}]  # fmt: skip
    (tmp_path / "job.meta").write_text(json.dumps(meta))
    run = pegasus_transfer([transfer("file://%s/f3" % files, "file://%s/out/f3" % tmp_path, "f3")])
    assert run.rc == 1
    assert not (tmp_path / "out" / "f3").exists()


def test_missing_source_falls_back_to_the_next_url(pegasus_transfer, files, tmp_path):
    entry = transfer("file:///nonexistent/f", "file://%s/out/f" % tmp_path)
    entry["src_urls"].append({"site_label": "backup", "url": "file://%s/f4" % files})
    run = pegasus_transfer([entry])
    assert run.rc == 0, run.stderr
    assert sha(tmp_path / "out" / "f") == sha(files / "f4")
    assert [a["success"] for a in run.report["attempts"]] == [False, True]


def test_missing_source_fails_at_once_without_retries(pegasus_transfer, tmp_path):
    run = pegasus_transfer(
        [transfer("file:///nonexistent/f", "file://%s/out/f" % tmp_path)], "-m", "3"
    )
    assert run.rc == 1
    assert len(run.report["attempts"]) == 1
    assert "does not exist" in run.stderr
    assert not (tmp_path / "out").exists() or part_files(tmp_path / "out") == []


def test_priority_orders_sources(pegasus_transfer, files, tmp_path):
    entry = transfer("file://%s/f0" % files, "file://%s/out/f" % tmp_path)
    entry["src_urls"][0]["priority"] = 10
    entry["src_urls"].append(
        {"site_label": "preferred", "url": "file://%s/f1" % files, "priority": 90}
    )
    assert pegasus_transfer([entry]).rc == 0
    assert sha(tmp_path / "out" / "f") == sha(files / "f1")


def test_symlink_flag_and_scheme(pegasus_transfer, files, tmp_path):
    run = pegasus_transfer([transfer("file://%s/f0" % files, "file://%s/l/f0" % tmp_path)], "-s")
    assert run.rc == 0
    assert os.readlink(tmp_path / "l" / "f0") == str(files / "f0")
    run = pegasus_transfer([transfer("file://%s/f1" % files, "symlink://%s/l/f1" % tmp_path)])
    assert run.rc == 0
    assert os.readlink(tmp_path / "l" / "f1") == str(files / "f1")
    run = pegasus_transfer([transfer("file:///nonexistent", "symlink://%s/l/x" % tmp_path)])
    assert run.rc == 1 and not os.path.lexists(tmp_path / "l" / "x")
    entry = transfer(
        "file:///nonexistent", "symlink://%s/l/y" % tmp_path, verify_symlink_source=False
    )
    assert pegasus_transfer([entry]).rc == 0
    assert os.readlink(tmp_path / "l" / "y") == "/nonexistent"


def test_moveto(pegasus_transfer, files, tmp_path):
    data = (files / "f2").read_bytes()
    run = pegasus_transfer([transfer("file://%s/f2" % files, "moveto://%s/moved/f2" % tmp_path)])
    assert run.rc == 0
    assert not (files / "f2").exists()
    assert (tmp_path / "moved" / "f2").read_bytes() == data
    assert run.stdout.strip() == str(tmp_path / "moved" / "f2")


def test_mkdir_and_remove_entries(pegasus_transfer, tmp_path):
    target = tmp_path / "a" / "b" / "c"
    run = pegasus_transfer(
        [{"type": "mkdir", "target": {"site_label": "l", "url": "file://%s" % target}}]
    )
    assert run.rc == 0 and target.is_dir()
    (target / "x").write_text("x")
    remove = {"type": "remove", "target": {"site_label": "l", "url": "file://%s" % (tmp_path / "a"),
              "recursive": "True"}}  # fmt: skip
    assert pegasus_transfer([remove]).rc == 0
    assert not (tmp_path / "a").exists()
    assert pegasus_transfer([remove]).rc == 0  # already gone is fine, as rm -f
    (tmp_path / "d").mkdir()
    not_recursive = {
        "type": "remove",
        "target": {"site_label": "l", "url": "file://%s/d" % tmp_path},
    }
    assert pegasus_transfer([not_recursive]).rc == 1


def test_mixed_list_runs_mkdir_then_transfers_then_removes(pegasus_transfer, files, tmp_path):
    out = tmp_path / "out"
    entries = [
        {"type": "remove", "target": {"site_label": "l", "url": "file://%s/f0" % files}},
        transfer("file://%s/f0" % files, "file://%s/f0" % out),
        {"type": "mkdir", "target": {"site_label": "l", "url": "file://%s" % out}},
    ]
    run = pegasus_transfer(entries)
    assert run.rc == 0, run.stderr
    assert (out / "f0").exists() and not (files / "f0").exists()


def test_v1_text_format(pegasus_transfer, files, tmp_path):
    text = "# src 1 local\nfile://%s/f0\n# dst 1 remote\nfile://%s/v1/f0\n" % (files, tmp_path)
    run = pegasus_transfer(text)
    assert run.rc == 0, run.stderr
    assert sha(tmp_path / "v1" / "f0") == sha(files / "f0")
    assert run.report["attempts"][0]["dst_label"] == "remote"


def test_unwritable_destination(pegasus_transfer, files, tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "sub").write_text("a file where a directory should be")
    run = pegasus_transfer([transfer("file://%s/f0" % files, "file://%s/ro/sub/f0" % tmp_path)])
    assert run.rc == 1
    assert "cannot create directory" in run.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        ("[{", "not valid JSON"),
        ('[{"type": "copy"}]', "unknown entry type 'copy'"),
        ('[{"type": "transfer", "src_urls": [], "dest_urls": []}]', "needs a non-empty list"),
        ('[{"type": "transfer", "src_urls": [{"url": "nope://h/x"}], '
         '"dest_urls": [{"url": "file:///tmp/x"}]}]', "unknown URL scheme 'nope'"),
        ('[{"type": "mkdir", "target": {"site_label": "x"}}]', 'needs an object with a "url"'),
        ('[{"type": "transfer", "checksum": "abc", "src_urls": [{"url": "/a"}], '
         '"dest_urls": [{"url": "/b"}]}]', "checksum must be a sha256"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(pegasus_transfer, text, message):
    run = pegasus_transfer(text)
    assert run.rc == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pegasus-transfer: ")
    assert message in lines[0]
    assert "Traceback" not in run.stderr


def test_password_in_a_url_never_appears(pegasus_transfer, tmp_path):
    text = json.dumps([transfer("nope://alice:s3cr3tpw@host/x", "file://%s/x" % tmp_path)])
    run = pegasus_transfer(text)
    assert run.rc == 1
    assert "s3cr3tpw" not in run.stderr + run.stdout


def test_early_give_up_when_most_transfers_fail(pegasus_transfer, tmp_path):
    entries = [
        transfer("file:///nonexistent/%d" % i, "file://%s/out/%d" % (tmp_path, i), "f%d" % i)
        for i in range(40)
    ]
    run = pegasus_transfer(entries, "-n", "2")
    assert run.rc == 1
    assert "Too many failures to continue trying - exiting early" in run.stderr
    assert len(run.report["attempts"]) < 40


def test_multipart_block_for_kickstart(pegasus_transfer, files, tmp_path):
    multipart = tmp_path / "mp"
    multipart.mkdir()
    run = pegasus_transfer(
        [transfer("file://%s/f0" % files, "file://%s/out/f0" % tmp_path, "f0")],
        env={"PEGASUS_MULTIPART_DIR": str(multipart)},
    )
    assert run.rc == 0
    (block,) = list(multipart.iterdir())
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(block.read_text())
    attempt = doc[0]["transfer_attempts"][0]
    assert attempt["lfn"] == "f0" and attempt["success"] is True
    assert attempt["bytes"] == (files / "f0").stat().st_size


def test_generate_checksum_feeds_kickstart(pegasus_transfer, files, tmp_path):
    data_file = tmp_path / "ks.integrity"
    run = pegasus_transfer(
        [
            transfer(
                "file://%s/f1" % files, "file://%s/out/f1" % tmp_path, "f1", generate_checksum=True
            )
        ],
        env={"KICKSTART_INTEGRITY_DATA": str(data_file)},
    )
    assert run.rc == 0
    yaml = pytest.importorskip("yaml")
    block = yaml.safe_load("files:\n" + data_file.read_text())["files"]["f1"]
    assert block["sha256"] == sha(files / "f1")
    assert block["size"] == (files / "f1").stat().st_size


def test_large_file_with_and_without_hashing(pegasus_transfer, tmp_path):
    big = tmp_path / "big"
    big.write_bytes(os.urandom(40 << 20))
    digest = sha(big)
    run = pegasus_transfer([
        transfer("file://%s" % big, "file://%s/out/hashed" % tmp_path, "a", checksum=digest),
        transfer("file://%s" % big, "file://%s/out/plain" % tmp_path, "b"),
    ])  # fmt: skip
    assert run.rc == 0, run.stderr
    assert sha(tmp_path / "out" / "hashed") == digest
    assert sha(tmp_path / "out" / "plain") == digest


def test_progress_display_on_a_terminal(files, tmp_path):
    import pty
    import subprocess

    from tests.conftest import console_script

    entries = [
        transfer("file://%s/f%d" % (files, i), "file://%s/p/f%d" % (tmp_path, i), "f%d" % i)
        for i in range(3)
    ]
    main, secondary = pty.openpty()
    proc = subprocess.run(
        console_script("pegasus-transfer"),
        input=json.dumps(entries).encode(),
        stdout=subprocess.PIPE,
        stderr=secondary,
        check=False,
        timeout=60,
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert proc.returncode == 0
    assert b"3/3 files" in shown
