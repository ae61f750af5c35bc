"""Hostile folder uploads (issue 10, item 2): symbolic links, non-UTF-8 file names, empty,
huge (sparse) and special files, deep nesting. Each gives a ledger entry with its reason and
the good artifact of the same folder is still read."""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.conftest import analyze_ok, inventory, keypacks_csv, one, reg_text, run, warned

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle(tmp_path) -> Path:
    b = tmp_path / "MSRD-Results-RDSH01"
    b.mkdir()
    (b / "RDSH01_TS.reg").write_bytes(reg_text())
    (b / "LS01_KeyPacks.csv").write_bytes(keypacks_csv())
    return b


def _good(rows):
    assert one(rows, "MSRD-Results-RDSH01/RDSH01_TS.reg")["status"] == "ok"
    assert one(rows, "MSRD-Results-RDSH01/LS01_KeyPacks.csv")["status"] == "ok"


def test_symlinks_not_followed(tmp_path, bundle, capsys):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "RDSH09_TS.reg").write_bytes(reg_text("SECRET"))
    os.symlink(secret / "RDSH09_TS.reg", bundle / "RDSH09_link.reg")
    os.symlink(secret, bundle / "linked_folder")
    os.symlink("/etc/passwd", bundle / "passwd.reg")
    os.symlink(bundle / "does-not-exist", bundle / "broken.reg")
    os.symlink(bundle, bundle / "loop")                      # a cycle, were it followed
    rows = inventory(capsys, str(bundle))
    for name in ("RDSH09_link.reg", "passwd.reg", "broken.reg"):
        row = one(rows, "/" + name)
        assert row["status"] == "skipped" and warned(row, "symbolic link", "not followed"), row
    for name in ("linked_folder", "loop"):
        row = one(rows, "/" + name)
        assert warned(row, "symbolic link", "not followed"), row
    assert not any("SECRET" in json.dumps(r) or "RDSH09_TS" in p for p, r in rows.items())
    _good(rows)
    analyze_ok(capsys, tmp_path, str(bundle))


def test_non_utf8_file_names(tmp_path, bundle, capsys):
    """File names with bytes that are not UTF-8 (os.fsencode): listed, read, reported."""
    raw_dir = os.fsencode(bundle)
    for raw in (b"RDSH02_caf\xe9.reg", b"RDSH03_\xff\xfe\x80.reg", b"\xc3(\xa0\xa1_notes.txt"):
        fd = os.open(raw_dir + b"/" + raw, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, reg_text("RDSH02") if raw.endswith(b".reg") else b"hello")
        os.close(fd)
    os.mkdir(raw_dir + b"/folder_\xff")
    fd = os.open(raw_dir + b"/folder_\xff/RDSH04_TS.reg", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, reg_text("RDSH04"))
    os.close(fd)
    rows = inventory(capsys, str(bundle))
    regs = [r for p, r in rows.items() if p.endswith(".reg") and "RDSH01_TS" not in p]
    assert len(regs) == 3 and all(r["status"] == "ok" for r in regs), rows
    _good(rows)
    code, out, err = run(capsys, "analyze", str(bundle), "--jobs", "1")
    assert code in (0, 1), err
    analyze_ok(capsys, tmp_path, str(bundle))
    code, out, err = run(capsys, "inventory", str(bundle), "--jobs", "1")
    assert code == 0, err


def test_empty_and_huge_files(tmp_path, bundle, capsys):
    (bundle / "RDSH01_empty.evtx").write_bytes(b"")
    huge = bundle / "RDSH01_System.evtx"
    with open(huge, "wb") as fh:                     # sparse: 3 GiB on paper, nothing on disk
        fh.write(b"ElfFile\x00")
        fh.truncate(3 << 30)
    big = bundle / "RDSH01_big.reg"
    with open(big, "wb") as fh:
        fh.write(reg_text())
        fh.truncate(5 << 20)
    rows = inventory(capsys, str(bundle))               # default --max-file-size 2 GiB
    empty = one(rows, "RDSH01_empty.evtx")
    assert empty["status"] in ("skipped", "failed") and warned(empty, "empty"), empty
    row = one(rows, "RDSH01_System.evtx")
    assert row["status"] == "skipped" and warned(row, "larger than", "--max-file-size"), row
    _good(rows)
    rows = inventory(capsys, str(bundle), "--max-file-size", "1M")
    row = one(rows, "RDSH01_big.reg")
    assert row["status"] == "skipped" and warned(row, "5,242,880 bytes", "--max-file-size"), row
    _good(rows)
    analyze_ok(capsys, tmp_path, str(bundle), extra=("--max-file-size", "1M"))


def test_fifo_device_socket_not_read(tmp_path, bundle):
    """Special files are listed, never opened (a FIFO would block the run forever): the CLI runs
    in a subprocess with a timeout so a regression fails instead of hanging the suite."""
    os.mkfifo(bundle / "RDSH01_pipe.reg")
    made = ["RDSH01_pipe.reg"]
    try:
        os.mknod(bundle / "RDSH01_null.evtx", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        made.append("RDSH01_null.evtx")
    except (PermissionError, OSError):
        pass                                         # device creation not permitted here
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(bundle / "RDSH01_sock.reg"))
        made.append("RDSH01_sock.reg")
    except OSError:
        pass
    try:
        proc = subprocess.run([sys.executable, "-m", "analyzer", "inventory", str(bundle), "--json", "--jobs", "1"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        sock.close()
    assert proc.returncode == 0, proc.stderr
    rows = {r["path"]: r for r in json.loads(proc.stdout)["artifacts"]}
    for name in made:
        row = one(rows, "/" + name)
        assert row["status"] == "skipped" and warned(row, "not a regular file"), row
    _good(rows)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "analyze", str(bundle), "--format", "json", "--out-dir",
                           str(out), "--quiet", "--jobs", "1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    assert (out / "findings.json").is_file()


def test_folders_nested_past_the_depth_limit(tmp_path, bundle, capsys):
    deep = bundle
    for i in range(40):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "RDSH05_TS.reg").write_bytes(reg_text("RDSH05"))
    rows = inventory(capsys, str(bundle))
    cut = [r for r in rows.values() if warned(r, "nested deeper than")]
    assert len(cut) == 1 and cut[0]["status"] == "skipped", rows
    assert not any("RDSH05" in p for p in rows)
    _good(rows)


def test_unreadable_file(tmp_path, bundle, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    locked = bundle / "RDSH01_locked.reg"
    locked.write_bytes(reg_text())
    locked.chmod(0)
    rows = inventory(capsys, str(bundle))
    row = one(rows, "RDSH01_locked.reg")
    assert row["status"] == "failed" and warned(row, "cannot read"), row
    _good(rows)
