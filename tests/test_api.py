"""The Python API (issue 16, item 6): rdsla.analyze / rdsla.read for notebooks, scripts and the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

import rdsla
from rdsla.api import ArgumentError, Reading, Result
from rdsla.core.errors import UsageError
from rdsla.core.frames import SCHEMAS

BUNDLES = Path(__file__).resolve().parents[1] / "sample_data" / "bundles"
ZIPPED = BUNDLES / "cal-type-mismatch.zip"
FOLDER = BUNDLES / "cals-exhausted"
AS_OF = "2024-11-05T10:15:00Z"


def expected(bundle: Path) -> dict:
    if bundle.is_file():
        with zipfile.ZipFile(bundle) as zf:
            return json.loads(zf.read("expected.json"))
    return json.loads((bundle / "expected.json").read_text())


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    return {ZIPPED.name: rdsla.analyze(ZIPPED), FOLDER.name: rdsla.analyze(str(FOLDER), jobs=0)}


def test_import_rdsla_loads_neither_pandas_nor_the_api():
    code = ("import sys, rdsla\n"
            "assert 'pandas' not in sys.modules and 'rdsla.api' not in sys.modules, 'eager'\n"
            "from rdsla import analyze, read\n"
            "assert 'rdsla.api' in sys.modules and 'pandas' not in sys.modules, 'api import is heavy'\n"
            "assert {'analyze', 'read'} <= set(dir(rdsla))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rdsla.nope  # noqa: B018


@pytest.mark.parametrize("bundle", [ZIPPED, FOLDER], ids=lambda p: p.name)
def test_analyze_names_the_expected_root_cause(results, bundle):
    result, want = results[bundle.name], expected(bundle)
    assert result.root_causes, "no root cause found"
    top = result.root_causes[0]
    assert top.rule_id in want["root_causes"]
    assert top.host == want["host"]
    assert f"top cause {top.rule_id} on {top.host}" in repr(result)
    assert {h.name for h in result.hosts} >= {want["host"]}
    assert any(f.rule_id == top.rule_id and f.state == "detected" for f in result.detected)
    assert result.as_of.tzinfo is not None and result.as_of_origin


def test_frames_have_the_schema_columns(results):
    for result in results.values():
        assert set(result.frames) == set(SCHEMAS) == {"events", "registry", "keypacks", "issued", "artifacts"}
        for name, frame in result.frames.items():
            assert list(frame.columns) == list(SCHEMAS[name]), name
        assert len(result.frames["events"]) and len(result.frames["registry"]) and len(result.artifacts)


def test_to_json_is_what_the_cli_writes(tmp_path, capsys):
    from rdsla.analyzer.cli import main
    cli_out = tmp_path / "cli" / "findings.json"
    assert main(["analyze", str(ZIPPED), "--json", str(cli_out), "--as-of", AS_OF, "--quiet"]) == 1
    result = rdsla.analyze(ZIPPED, as_of=AS_OF, jobs=0)
    written = result.to_json(tmp_path / "api" / "findings.json")    # missing parent folders are made
    assert written == tmp_path / "api" / "findings.json"
    assert written.read_text(encoding="utf-8") == cli_out.read_text(encoding="utf-8")
    assert result.to_json() == cli_out.read_text(encoding="utf-8")          # no path: the text
    doc = json.loads(result.to_json())
    assert doc["as_of"].startswith("2024-11-05T10:15:00") and doc["as_of_origin"] == "--as-of"


def test_outputs_go_into_a_folder_and_never_into_an_input_folder(results, tmp_path):
    result = results[FOLDER.name]
    out = tmp_path / "case-12345"
    out.mkdir()
    assert result.to_html(out) == out / "report.html"
    assert result.to_markdown(out) == out / "summary.md"
    assert result.to_json(f"{tmp_path / 'new'}/") == tmp_path / "new" / "findings.json"    # made, as a folder
    assert (out / "report.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    before = sorted(p.relative_to(FOLDER) for p in FOLDER.rglob("*"))
    for target in (FOLDER / "report.html", FOLDER, FOLDER / "MSRD-Results-LS01" / "x.json"):
        for write in (result.to_html, result.to_json, result.to_markdown):
            with pytest.raises(ArgumentError, match="refusing to write inside the input folder") as exc:
                write(target)
            assert isinstance(exc.value, ValueError) and isinstance(exc.value, UsageError)
    assert sorted(p.relative_to(FOLDER) for p in FOLDER.rglob("*")) == before


def test_read_gives_frames_and_runs_no_rules(monkeypatch):
    import rdsla.rules.engine

    def no_rules(*args, **kwargs):
        raise AssertionError("read must not run the rules")
    monkeypatch.setattr(rdsla.rules.engine, "run_rules", no_rules)
    reading = rdsla.read([FOLDER], jobs=0)
    assert isinstance(reading, Reading) and not hasattr(reading, "findings")
    assert {name: list(f.columns) for name, f in reading.frames.items()} == {n: list(c) for n, c in SCHEMAS.items()}
    assert set(reading.host_aliases) == {"LS01", "RDSH01", "RDSH02"}
    assert reading.artifacts is reading.frames["artifacts"] and (reading.artifacts["status"] == "ok").any()
    assert reading.inputs == [str(FOLDER)] and reading.messages == []
    assert "3 hosts" in repr(reading)
    monkeypatch.undo()
    result = reading.analyze(as_of=datetime(2024, 11, 5, 10, 15))               # naive = UTC
    assert result.as_of == datetime(2024, 11, 5, 10, 15, tzinfo=timezone.utc)
    assert result.root_causes[0].rule_id in expected(FOLDER)["root_causes"]


def test_unknown_and_bad_options():
    with pytest.raises(TypeError, match="unknown option 'fail_on'"):
        rdsla.analyze(FOLDER, fail_on="error")
    with pytest.raises(TypeError, match="'allevents', 'backend'"):
        rdsla.read(FOLDER, allevents=True, backend="rust")
    with pytest.raises(TypeError, match="limits: unknown field 'max_file_size'"):
        rdsla.read(FOLDER, limits={"max_file_size": 1})
    with pytest.raises(ValueError, match="evtx_backend"):
        rdsla.read(FOLDER, evtx_backend="c")
    with pytest.raises(ValueError, match="jobs"):
        rdsla.read(FOLDER, jobs=-1)
    with pytest.raises(ValueError, match="not an ISO time"):
        rdsla.analyze(FOLDER, as_of="last tuesday")
    with pytest.raises(TypeError, match="paths"):
        rdsla.read(42)


def test_not_one_path_opened_names_each_reason(tmp_path):
    with pytest.raises(ArgumentError, match="not one PATH could be opened") as exc:
        rdsla.read([tmp_path / "missing", tmp_path / "also-missing"])
    assert len(exc.value.messages) == 2 and all("cannot open" in m for m in exc.value.messages)


def test_limits_reach_the_intake(tmp_path):
    """A limit given as a mapping is applied: a 1-byte artifact limit refuses every file."""
    reading = rdsla.read(ZIPPED, jobs=0, limits={"max_file_bytes": 1})
    art = reading.artifacts
    assert len(art) and not (art["status"] == "ok").any()
    assert len(reading.frames["events"]) == 0


def test_the_cli_goes_through_the_api(monkeypatch, tmp_path, capsys):
    from rdsla import api
    from rdsla.analyzer.cli import main
    calls = []
    real = api.read

    def spy(paths, **options):
        calls.append(options)
        return real(paths, **options)
    monkeypatch.setattr(api, "read", spy)
    for argv in (["analyze", str(FOLDER), "--quiet", "--jobs", "0", "--as-of", AS_OF],
                 ["hosts", str(FOLDER), "--json", "--jobs", "0"],
                 ["inventory", str(FOLDER), "--json", "--jobs", "0"],
                 ["export", str(FOLDER), "--frame", "keypacks", "--jobs", "0"]):
        assert main(argv) in (0, 1), argv
    assert len(calls) == 4 and all(c["jobs"] == 0 and c["evtx_backend"] == "rust" for c in calls)
