"""rdsla batch: rows, statuses, files written, isolation, resume and exit codes.

Bundles are built here (a few .reg text files); the registry parser is someone else's, so
these tests assert batch behaviour, never parsed content."""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import time
import zipfile
from pathlib import Path

import pytest

from rdsla.analyzer import batch_task
from rdsla.analyzer.batch import run_batch
from rdsla.analyzer.batch_task import COLUMNS, run_task
from rdsla.analyzer.cli import main

REG = ('Windows Registry Editor Version 5.00\r\n\r\n'
       '[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n'
       '"ComputerName"="{host}"\r\n')
HOSTILE = "<script>alert(1)</script>"
HOSTILE_NAME = "..<img src=x onerror=alert(1)>"                    # no "/" possible in a file name


def reg(host: str) -> str:
    return REG.format(host=host)


def make_inputs(root: Path) -> Path:
    """A folder of bundles: 2 folders, a zip, a corrupt zip, unreadable junk, hostile names."""
    inp = root / "in"
    for name, host in (("case-A", "RDSH01"), ("case-B", "LS01")):
        (inp / name).mkdir(parents=True)
        (inp / name / "system.reg").write_text(reg(host), encoding="utf-8")
    with zipfile.ZipFile(inp / "case-C.zip", "w") as z:
        z.writestr("RDSH02/system.reg", reg("RDSH02"))
    (inp / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (inp / "junk").mkdir()
    (inp / "junk" / "blob.bin").write_bytes(bytes(range(256)) * 8)
    hostile = inp / HOSTILE_NAME
    hostile.mkdir()
    (hostile / "<script>.reg").write_text(reg(HOSTILE), encoding="utf-8")
    with zipfile.ZipFile(inp / "..\\..\\evil=cmd.zip", "w") as z:
        z.writestr("../../escape.reg", reg("ESCAPE"))
        z.writestr("ok/system.reg", reg("RDSH09"))
    return inp


def rows_of(out: Path) -> dict[str, dict]:
    lines = (out / "summary.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(tuple(r) == COLUMNS for r in rows)
    return {Path(r["bundle"]).name: r for r in rows}


def all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def inputs(tmp_path) -> Path:
    return make_inputs(tmp_path)


def test_batch_rows_statuses_and_files(tmp_path, inputs):
    before = all_files(inputs)
    out = tmp_path / "out"
    rc = main(["batch", str(inputs), "-o", str(out), "--jobs", "2", "--quiet"])
    assert rc == 3                                            # failed bundles win over causes
    rows = rows_of(out)
    assert set(rows) == {"case-A", "case-B", "case-C.zip", "corrupt.zip", "junk", HOSTILE_NAME, "..\\..\\evil=cmd.zip"}
    for name in ("case-A", "case-B", "case-C.zip", HOSTILE_NAME, "..\\..\\evil=cmd.zip"):
        assert rows[name]["status"] == "ok", rows[name]
    for name in ("corrupt.zip", "junk"):
        assert rows[name]["status"] == "failed" and rows[name]["error"]
    n_ok = sum(r["status"] == "ok" for r in rows.values())
    # the input is untouched; everything written is inside OUTDIR, in safe folder names
    assert all_files(inputs) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == n_ok
    for f in folders:
        assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{10}", f.name) and not f.name.startswith(".")
        assert sorted(x.name for x in f.iterdir()) == ["batch.json", "findings.json", "report.html"]
        json.loads((f / "findings.json").read_text(encoding="utf-8"))
    # csv: same rows, exact header, formula-looking names neutralized
    with open(out / "summary.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0]) == COLUMNS and len(table) == 8
    # index: grouped, escaped, strict CSP whose hashes match the inline style and script
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<img" not in index and "<script>alert" not in index and "&lt;img src=x onerror=alert(1)&gt;" in index
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', index).group(1)
    assert "default-src 'none'" in csp and "http://" not in index and "https://" not in index
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", index, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    assert index.count('href="') - index.count('href="#') == n_ok          # one link per ok bundle
    assert index.count('data-state="failed"') == 2 and "failed: 2" in index
    # triage columns (issue 23 item 8): the report path of each analyzed bundle, the verdict state
    for name, row in rows.items():
        if row["status"] == "ok":
            assert row["report"].endswith("/report.html") and (out / row["report"]).is_file()
            assert row["verdict"] in ("cause", "healthy", "inconclusive", None)
            assert row["findings_critical"] <= row["findings_error"]
        else:
            assert row["report"] is None


def test_outdir_inside_input_is_refused(tmp_path, inputs):
    rc = main(["batch", str(inputs), "-o", str(inputs / "results"), "--quiet"])
    assert rc == 2 and not (inputs / "results").exists()


def test_no_input_opens_is_usage_error(tmp_path):
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "out"), "--quiet"]) == 2


class _StopAfter(Exception):
    pass


def test_resume_after_interrupt(tmp_path, inputs):
    out = tmp_path / "out"
    seen: list[str] = []

    def interrupt_after_three(row):
        seen.append(row["bundle"])
        if len(seen) == 3:
            raise KeyboardInterrupt          # what Ctrl-C does in the parent

    with pytest.raises(KeyboardInterrupt):
        run_batch([str(inputs)], str(out), jobs=1, quiet=True, on_row=interrupt_after_three)
    assert len(rows_of(out)) == 3 and (out / "index.html").exists()
    done_ok = [b for b in seen if rows_of(out)[Path(b).name]["status"] == "ok"]

    # also lose one finished report, as a crash mid-write would: that bundle is redone
    lost = done_ok[0]
    marker_dirs = [p for p in out.iterdir() if (p / "batch.json").exists()
                   and json.loads((p / "batch.json").read_text())["row"]["bundle"] == lost]
    (marker_dirs[0] / "report.html").unlink()

    again: list[str] = []
    result = run_batch([str(inputs)], str(out), jobs=2, quiet=True, resume=True, on_row=lambda r: again.append(r["bundle"]))
    assert result.skipped == len(done_ok) - 1
    assert set(again).isdisjoint(set(done_ok) - {lost}) and lost in again
    assert len(again) == 7 - result.skipped
    rows = rows_of(out)
    assert len(rows) == 7 and result.exit_code == 3
    not_ok = sorted(name for name, r in rows.items() if r["status"] != "ok")
    assert {"corrupt.zip", "junk"} <= set(not_ok)

    # a third run over a complete OUTDIR analyzes only the failed ones again
    third: list[str] = []
    result = run_batch([str(inputs)], str(out), quiet=True, resume=True, on_row=lambda r: third.append(r["bundle"]))
    assert sorted(Path(b).name for b in third) == not_ok and result.skipped == 7 - len(not_ok)


def hostile_worker(task):
    """Test-only worker: one bundle hangs, one kills its worker process, the rest are real."""
    if "sleeper" in task.name:
        time.sleep(600)
    if "killer" in task.name:
        os._exit(9)
    return run_task(task)


def cause_worker(task):
    """Test-only worker: every readable bundle has a critical cause (the rules are not ours)."""
    row = run_task(task)
    if row["status"] == "ok":
        row["_causes"] = ["critical"]
        marker = Path(task.out_dir) / task.dir_name / "batch.json"
        meta = json.loads(marker.read_text(encoding="utf-8"))
        marker.write_text(json.dumps(dict(meta, causes=["critical"])), encoding="utf-8")
    return row


def _small_set(root: Path, names) -> Path:
    inp = root / "in"
    for name in names:
        (inp / name).mkdir(parents=True)
        (inp / name / "system.reg").write_text(reg("RDSH01"), encoding="utf-8")
    return inp


def test_timeout_and_killed_worker_are_rows_and_the_batch_goes_on(tmp_path):
    inp = _small_set(tmp_path, ["good-1", "sleeper", "killer", "good-2"])
    out = tmp_path / "out"
    result = run_batch([str(inp)], str(out), jobs=2, timeout=3.0, quiet=True, worker=hostile_worker)
    rows = rows_of(out)
    assert rows["sleeper"]["status"] == "timeout" and "--timeout" in rows["sleeper"]["error"]
    assert rows["killer"]["status"] == "failed" and "worker died" in rows["killer"]["error"]
    assert rows["good-1"]["status"] == rows["good-2"]["status"] == "ok"
    assert result.exit_code == 3 and result.counts == {"ok": 2, "failed": 1, "timeout": 1}


def test_exit_code_one_for_causes_and_fail_on(tmp_path):
    inp = _small_set(tmp_path, ["a", "b"])
    assert run_batch([str(inp)], str(tmp_path / "o1"), jobs=1, quiet=True, worker=cause_worker).exit_code == 1
    assert run_batch([str(inp)], str(tmp_path / "o2"), jobs=1, quiet=True).exit_code == 0
    # resumed bundles keep their causes for the exit code
    r = run_batch([str(inp)], str(tmp_path / "o1"), jobs=1, quiet=True, resume=True)
    assert r.skipped == 2 and r.exit_code == 1
    r = run_batch([str(inp)], str(tmp_path / "o1"), jobs=1, quiet=True, resume=True, fail_on="critical")
    assert r.exit_code == 1


def test_same_rows_through_dask_local_cluster(tmp_path, inputs):
    pytest.importorskip("distributed")
    pool = run_batch([str(inputs)], str(tmp_path / "pool"), jobs=2, quiet=True)
    dask = run_batch([str(inputs)], str(tmp_path / "dask"), jobs=2, scheduler="local", quiet=True)
    assert rows_of(tmp_path / "pool") == rows_of(tmp_path / "dask")
    assert pool.exit_code == dask.exit_code == 3
    assert sorted(p.name for p in (tmp_path / "pool").iterdir()) == sorted(p.name for p in (tmp_path / "dask").iterdir())


def test_analyze_one_returns_a_compact_row(tmp_path):
    inp = _small_set(tmp_path, ["x"])
    row = batch_task.analyze_one(str(inp / "x"), str(tmp_path / "out"), name="x")
    assert set(row) == set(COLUMNS) | {"_causes"} and row["status"] == "ok"
    assert all(v is None or isinstance(v, (str, int, float)) for k, v in row.items() if k != "_causes")


@pytest.mark.slow          # a LocalCluster of 2 processes, one of which is killed and one restarted
def test_dask_isolates_timeouts_and_killed_workers(tmp_path):
    pytest.importorskip("distributed")
    inp = _small_set(tmp_path, ["good-1", "sleeper", "killer", "good-2"])
    result = run_batch([str(inp)], str(tmp_path / "out"), jobs=2, scheduler="local", timeout=5.0, quiet=True,
                       worker=hostile_worker)
    rows = rows_of(tmp_path / "out")
    assert rows["sleeper"]["status"] == "timeout"
    assert rows["killer"]["status"] == "failed" and "worker died" in rows["killer"]["error"]
    assert rows["good-1"]["status"] == rows["good-2"]["status"] == "ok"
    assert result.exit_code == 3


def test_scheduler_without_dask_writes_nothing(tmp_path, monkeypatch, capsys):
    """--scheduler without the dask extra: exit 2, one line naming the extra, no output folder."""
    import sys

    from rdsla.analyzer.cli import main
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    bundles = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
    assert main(["batch", str(bundles), "-o", str(out), "--scheduler", "local", "--quiet"]) == 2
    assert 'pip install "rdsla[dask]"' in capsys.readouterr().err
    assert not out.exists()
