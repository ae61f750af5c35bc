"""Every limit flag changes what is read (issue 10, item 5; README "Limits"): the same bundle
is inventoried with and without the flag, and exceeding the limit is a ledger warning naming
the flag, never a crash; the rest of the bundle is still read."""
from __future__ import annotations

import pytest

from tests.hostile.conftest import inventory, keypacks_csv, make_zip, one, reg_text, run, warned

PAD = "\r\n".encode("utf-16-le")          # blank lines: 4 bytes each


def test_max_file_size(tmp_path, capsys):
    b = tmp_path / "b"
    b.mkdir()
    (b / "RDSH01_TS.reg").write_bytes(reg_text() + PAD * 1024)
    (b / "LS01_KeyPacks.csv").write_bytes(keypacks_csv())
    z = make_zip(tmp_path / "up.zip", {"RDSH02_TS.reg": reg_text("RDSH02") + PAD * 1024})
    default = inventory(capsys, str(b), str(z))
    assert one(default, "RDSH01_TS.reg")["status"] == "ok" and one(default, "RDSH02_TS.reg")["status"] == "ok"
    small = inventory(capsys, str(b), str(z), "--max-file-size", "2K")
    assert warned(one(small, "RDSH01_TS.reg"), "--max-file-size") and one(small, "RDSH01_TS.reg")["status"] == "skipped"
    assert warned(one(small, "RDSH02_TS.reg"), "--max-file-size") and one(small, "RDSH02_TS.reg")["status"] == "failed"
    assert one(small, "LS01_KeyPacks.csv")["status"] == "ok"


def test_max_members(tmp_path, capsys):
    members = {f"RDSH0{i}_TS.reg": reg_text(f"RDSH0{i}") for i in range(1, 6)}
    z = make_zip(tmp_path / "up.zip", members)
    default = inventory(capsys, str(z))
    assert sum(r["status"] == "ok" for r in default.values()) == 5
    capped = inventory(capsys, str(z), "--max-members", "2")
    assert sum(r["status"] == "ok" for r in capped.values()) == 2
    assert any(warned(r, "5 members", "--max-members") for r in capped.values())


def test_max_ratio(tmp_path, capsys):
    z = make_zip(tmp_path / "up.zip", {"zeros.bin": b"\0" * (17 << 20), "RDSH01_TS.reg": reg_text()})
    refused = inventory(capsys, str(z), "--max-ratio", "50")
    assert warned(one(refused, "zeros.bin"), "compression ratio", "50:1")
    allowed = inventory(capsys, str(z), "--max-ratio", "100000")
    assert not warned(one(allowed, "zeros.bin"), "compression ratio")        # read: just not an artifact
    for rows in (refused, allowed):
        assert one(rows, "RDSH01_TS.reg")["status"] == "ok"


def test_max_total_size(tmp_path, capsys):
    members = {f"RDSH0{i}_TS.reg": reg_text(f"RDSH0{i}") + PAD * (25 << 10) for i in range(1, 5)}
    z = make_zip(tmp_path / "up.zip", members)
    default = inventory(capsys, str(z))
    assert sum(r["status"] == "ok" for r in default.values()) == 4
    capped = inventory(capsys, str(z), "--max-total-size", "250K")
    assert sum(r["status"] == "ok" for r in capped.values()) == 2
    assert sum(warned(r, "--max-total-size") for r in capped.values()) == 2


def test_max_files(tmp_path, capsys):
    b = tmp_path / "b"
    b.mkdir()
    for i in range(1, 6):
        (b / f"RDSH0{i}_TS.reg").write_bytes(reg_text(f"RDSH0{i}"))
    default = inventory(capsys, str(b))
    assert sum(r["status"] == "ok" for r in default.values()) == 5
    capped = inventory(capsys, str(b), "--max-files", "3")
    assert sum(r["status"] == "ok" for r in capped.values()) == 3
    assert any(warned(r, "more than 3 files", "--max-files") for r in capped.values())


@pytest.mark.parametrize("flag,value", [("--max-file-size", "lots"), ("--max-members", "x"), ("--max-ratio", "1.5"),
                                        ("--max-total-size", "12Q"), ("--max-files", "")])
def test_bad_limit_value_is_a_usage_error(tmp_path, capsys, flag, value):
    (tmp_path / "RDSH01_TS.reg").write_bytes(reg_text())
    with pytest.raises(SystemExit) as exc:
        run(capsys, "inventory", str(tmp_path), flag, value)
    assert exc.value.code == 2


def test_limits_flags_on_analyze(tmp_path, capsys):
    b = tmp_path / "b"
    b.mkdir()
    (b / "RDSH01_TS.reg").write_bytes(reg_text())
    (b / "RDSH02_TS.reg").write_bytes(reg_text("RDSH02"))
    code, out, err = run(capsys, "analyze", str(b), "--max-files", "1", "--jobs", "1", "--json", str(tmp_path / "f.json"),
                         "--quiet")
    assert code in (0, 1), err
    assert "--max-files" in (tmp_path / "f.json").read_text(encoding="utf-8")


def test_artifact_timeout_is_a_ledger_entry_and_the_rest_is_read(tmp_path, monkeypatch, capsys):
    """--artifact-timeout: a parser that hangs becomes a failed ledger row naming the limit."""
    import json
    import time

    monkeypatch.setenv("RDSLA_START_METHOD", "fork")   # the patched parser reaches the workers by fork

    import rdsla.parsers.licensing as licensing
    from rdsla.analyzer.cli import main
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "LS01_KeyPacks.csv").write_text("KeyPackId,TotalLicenses,IssuedLicenses,ProductVersionID\n4,20,1,6\n")
    (bundle / "RDSH01_TS.reg").write_bytes(b"\xff\xfe" + "Windows Registry Editor Version 5.00\r\n\r\n"
                                           "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n".encode("utf-16-le"))

    def hang(source, options):
        time.sleep(30)
    monkeypatch.setattr(licensing, "parse", hang)
    started = time.monotonic()
    assert main(["inventory", str(bundle), "--json", "--jobs", "1", "--artifact-timeout", "1"]) == 0
    assert time.monotonic() - started < 20
    rows = {a["path"]: a for a in json.loads(capsys.readouterr().out)["artifacts"]}
    slow = rows["b/LS01_KeyPacks.csv"]
    assert slow["status"] == "failed" and "--artifact-timeout" in slow["warnings"][0]
    assert rows["b/RDSH01_TS.reg"]["status"] == "ok"
