"""The command line: subcommands, exit codes, outputs never inside the input."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from rdsla.analyzer.cli import main

REG = b"\xff\xfe" + ("Windows Registry Editor Version 5.00\r\n\r\n"
                     "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n").encode("utf-16-le")


@pytest.fixture
def bundle(tmp_path):
    b = tmp_path / "bundle"
    b.mkdir()
    (b / "RDSH01_System.reg").write_bytes(REG)
    (b / "notes.txt").write_text("customer says it broke on monday")
    return b


def test_version_module_and_script():
    out = subprocess.run([sys.executable, "-m", "analyzer", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("rdsla ")


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2


def test_unopenable_input_exit_2(tmp_path, capsys):
    assert main(["inventory", str(tmp_path / "missing")]) == 2
    assert "cannot open" in capsys.readouterr().err


def test_bad_option_exit_2(bundle):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(bundle), "--fail-on", "loud"])
    assert exc.value.code == 2


def test_inventory_json_contract(bundle, capsys):
    assert main(["inventory", str(bundle), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"hosts", "artifacts"} <= set(doc)           # the contract's fields; issue 23 added more
    paths = [a["path"] for a in doc["artifacts"]]
    assert sorted(paths) == ["bundle/RDSH01_System.reg", "bundle/notes.txt"]
    for a in doc["artifacts"]:
        assert {"path", "kind", "host", "status", "records_read", "records_lost", "warnings"} <= set(a)
        assert a["relative_path"] == a["path"].split("/", 1)[1]
    notes = next(a for a in doc["artifacts"] if a["path"].endswith("notes.txt"))
    assert (notes["kind"], notes["status"]) == ("unknown", "skipped")


def test_export_empty_frame_has_columns(bundle, capsys):
    from rdsla.core.frames import SCHEMAS
    assert main(["export", str(bundle), "--frame", "keypacks", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.split(",") == list(SCHEMAS["keypacks"])


def test_export_artifacts_jsonl_and_parquet(bundle, tmp_path, capsys):
    assert main(["export", str(bundle), "--frame", "artifacts", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["path"] for r in rows} == {"bundle/RDSH01_System.reg", "bundle/notes.txt"}
    pq = tmp_path / "a.parquet"
    assert main(["export", str(bundle), "--frame", "artifacts", "--format", "parquet", "-o", str(pq)]) == 0
    import pandas as pd
    assert len(pd.read_parquet(pq)) == 2


def test_parquet_without_pyarrow_is_one_line_before_any_reading(bundle, tmp_path, capsys, monkeypatch):
    """Without the parquet extra: exit 2 and one line naming the extra, for every frame (the events
    export's 'kept N of M' line included: nothing was read)."""
    import sys
    monkeypatch.setitem(sys.modules, "pyarrow", None)           # import pyarrow raises ImportError
    for frame in ("events", "artifacts"):
        assert main(["export", str(bundle), "--frame", frame, "--format", "parquet",
                     "-o", str(tmp_path / f"{frame}.parquet")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and 'pip install "rdsla[parquet]"' in err[0], err
        assert not (tmp_path / f"{frame}.parquet").exists()


def test_analyze_writes_outputs_and_refuses_input_folder(bundle, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["analyze", str(bundle), "--format", "html,json,md", "--out-dir", str(out), "--quiet"])
    assert code in (0, 1)
    doc = json.loads((out / "findings.json").read_text())
    assert doc["schema"] == "rdsla.findings/2"
    assert {"as_of", "hosts", "verdict", "root_causes", "compliance", "findings", "artifacts"} <= set(doc)
    assert doc["verdict"]["state"] in ("cause", "healthy", "inconclusive")
    assert all("history" in f for f in doc["findings"])
    assert (out / "report.html").stat().st_size > 0 and (out / "summary.md").stat().st_size > 0
    before = sorted(p.name for p in bundle.iterdir())
    assert main(["analyze", str(bundle), "-o", str(bundle / "report.html")]) == 2
    assert "refusing to write inside the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in bundle.iterdir()) == before


def test_as_of_option_is_used(bundle, tmp_path):
    out = tmp_path / "f.json"
    main(["analyze", str(bundle), "--json", str(out), "--as-of", "2024-05-01T12:00:00Z", "--quiet"])
    doc = json.loads(out.read_text())
    assert doc["as_of"].startswith("2024-05-01T12:00:00") and doc["as_of_origin"] == "--as-of"


def test_hostile_zip_writes_nothing_outside(tmp_path, capsys, monkeypatch):
    z = tmp_path / "in" / "evil.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../escaped.reg", REG)
        zf.writestr("/tmp/abs-escaped.reg", REG)
        zf.writestr("fine.reg", REG)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["inventory", str(z), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    statuses = {a["path"]: a["status"] for a in doc["artifacts"]}
    assert statuses["evil.zip!/fine.reg"] != "failed"
    assert statuses["evil.zip!/../../escaped.reg"] == "failed"
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["in", "evil.zip", "cwd"])


def test_export_into_a_folder_names_the_file_and_a_bad_target_is_a_usage_error(bundle, tmp_path, capsys):
    out = tmp_path / "exports"
    out.mkdir()
    assert main(["export", str(bundle), "--frame", "artifacts", "--format", "csv", "-o", str(out), "--quiet"]) == 0
    assert (out / "artifacts.csv").read_text().startswith("path,kind,")
    assert main(["analyze", str(bundle), "-o", str(out), "--quiet"]) in (0, 1)
    assert (out / "report.html").stat().st_size > 0
    capsys.readouterr()
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    assert main(["export", str(bundle), "--frame", "artifacts", "-o", str(blocked / "x.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{blocked / 'x.csv'}: cannot write" in err and "Traceback" not in err


def test_export_csv_cells_cannot_be_formulas(tmp_path, capsys):
    b = tmp_path / "evil"
    b.mkdir()
    text = ("Windows Registry Editor Version 5.00\r\n\r\n"
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services]\r\n"
            "\"LicenseServers\"=\"=cmd|' /C calc'!A0\"\r\n\"Other\"=\"@SUM(1+1)\"\r\n")
    (b / "RDSH01_SOFTWARE.reg").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    assert main(["export", str(b), "--frame", "registry", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "'=cmd|' /C calc'!A0" in out and "'@SUM(1+1)" in out
    assert ",=cmd" not in out and ",@SUM" not in out
    assert main(["export", str(b), "--frame", "registry", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["value"]: r["data"] for r in rows}["LicenseServers"] == "=cmd|' /C calc'!A0"   # jsonl stays exact
