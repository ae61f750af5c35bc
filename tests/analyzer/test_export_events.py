"""export --frame events for Timeline Explorer and spreadsheets (issue 23 item 9): time first,
sorted by time, level names, the catalog's meaning, and a stderr line with kept / read."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from rdsla.analyzer.cli import main
from rdsla.analyzer.export_events import events_for_export, kept_line
from rdsla.core.frames import make_frame

BUNDLE = Path(__file__).resolve().parents[2] / "sample_data" / "bundles" / "cals-exhausted"


def _run(capsys, *argv):
    code = main(["export", str(BUNDLE), "--frame", "events", "--jobs", "0", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _read_total(capsys) -> int:
    assert main(["inventory", str(BUNDLE), "--json", "--jobs", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    return sum(a["records_read"] or 0 for a in doc["artifacts"] if a["kind"] == "evtx")


def test_csv_is_time_first_sorted_with_level_names_and_meanings(capsys):
    code, out, err = _run(capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[:6] == ["time", "level_name", "host", "event_id", "meaning", "catalog_key"]
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(rows) > 50
    names = {"1": "Critical", "2": "Error", "3": "Warning", "4": "Information", "0": "Information", "5": "Verbose"}
    assert all(r["level_name"] == names[r["level"]] for r in rows if r["level"])
    assert all(r["meaning"] and r["catalog_key"] for r in rows)       # catalog events only, each with its meaning
    m = re.search(r"kept ([\d,]+) of ([\d,]+) records read", err)
    assert m and int(m.group(1).replace(",", "")) == len(rows)
    assert int(m.group(2).replace(",", "")) == _read_total(capsys) > len(rows)
    assert "--all-events" in err


def test_all_events_keeps_every_record_read_and_says_so(capsys):
    code, out, err = _run(capsys, "--all-events", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and list(rows[0])[:2] == ["time", "level_name"]
    m = re.search(r"kept ([\d,]+) of ([\d,]+) records read", err)
    assert int(m.group(1).replace(",", "")) == len(rows) == int(m.group(2).replace(",", ""))
    unknown = [r for r in rows if r["meaning"] is None]
    assert unknown and all(r["catalog_key"] is None for r in unknown)     # noise: nothing to rdsla


def test_quiet_prints_no_count(capsys):
    code, _, err = _run(capsys, "--quiet")
    assert code == 0 and err == ""


def test_rows_without_time_go_last_and_unknown_levels_stay_empty():
    t = lambda h: datetime(2024, 11, 1, h, tzinfo=timezone.utc)  # noqa: E731
    frame = make_frame("events", [
        {"host": "B", "provider": "Service Control Manager", "event_id": 7036, "level": 4, "time": t(9), "record_id": 2,
         "data": {"param1": "Remote Desktop Licensing", "param2": "running"}},
        {"host": "A", "provider": "Some-Other-Provider", "event_id": 1, "level": 9, "time": None, "record_id": 1},
        {"host": "A", "provider": "Microsoft-Windows-TerminalServices-Licensing", "event_id": 4, "level": 4,
         "time": t(8), "record_id": 5},
        {"host": "C", "provider": "Service Control Manager", "event_id": 7036, "level": 4, "time": t(10),
         "record_id": 3, "data": {"param1": "Print Spooler", "param2": "running"}},
    ])
    out = events_for_export(frame)
    assert list(out["host"]) == ["A", "B", "C", "A"] and pd.isna(out["time"].iloc[-1])
    assert out["level_name"].iloc[3] is pd.NA and out["meaning"].iloc[3] is pd.NA
    assert out["catalog_key"].iloc[0] == "ls_activated"
    # SCM 7036 means something to rdsla only for the licensing service: the record's data decides
    assert out["catalog_key"].iloc[1] == "ls_service_state" and out["catalog_key"].iloc[2] is pd.NA


def test_the_line_counts_the_logs_of_the_ledger():
    art = make_frame("artifacts", [{"path": "a.evtx", "kind": "evtx", "records_read": 4000},
                                   {"path": "b.evtx", "kind": "evtx", "records_read": 438},
                                   {"path": "x.hiv", "kind": "hive", "records_read": 900}])
    line = kept_line(make_frame("events", [{"event_id": 1}] * 169), art, False)
    assert line.startswith("events: kept 169 of 4,438 records read from 2 log(s)")
