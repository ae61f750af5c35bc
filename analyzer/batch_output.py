"""What ``rdsla batch`` writes and reads back: summary.jsonl / summary.csv rows as they come,
index.html, and the completion check that ``--resume`` uses.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterator, Optional

from rdsla.analyzer.batch_inputs import Bundle
from rdsla.analyzer.batch_task import COLUMNS, MARKER, atomic_write
from rdsla.analyzer.spreadsheet import safe_cell


class SummaryWriter:
    """summary.jsonl + summary.csv, appended and flushed row by row."""

    def __init__(self, out_dir: Path, initial: list[dict]):
        self.jsonl_path, self.csv_path = out_dir / "summary.jsonl", out_dir / "summary.csv"
        atomic_write(self.jsonl_path, "".join(self._json(r) for r in initial))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([safe_cell(r.get(c)) for c in COLUMNS] for r in initial)
        atomic_write(self.csv_path, buf.getvalue())
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
        self._csv_fh = open(self.csv_path, "a", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_fh, lineterminator="\n")

    @staticmethod
    def _json(row: dict) -> str:
        return json.dumps({c: row.get(c) for c in COLUMNS}, ensure_ascii=False) + "\n"

    def write(self, row: dict) -> None:
        self._jsonl.write(self._json(row))
        self._jsonl.flush()
        self._csv.writerow([safe_cell(row.get(c)) for c in COLUMNS])
        self._csv_fh.flush()

    def close(self) -> None:
        self._jsonl.close()
        self._csv_fh.close()


def read_summary(out_dir: Path) -> Iterator[dict]:
    path = out_dir / "summary.jsonl"
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue        # a line cut by a crash


def write_index(out_dir: Path, links: dict) -> None:
    from rdsla.reports.batch_index import render
    atomic_write(out_dir / "index.html", render(read_summary(out_dir), links))


def completed(out_dir: Path, bundle: Bundle) -> Optional[dict]:
    """The marker of a complete, still valid result of ``bundle``, or None."""
    folder = out_dir / bundle.dir_name
    try:
        meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (meta.get("key") != bundle.key or meta.get("fingerprint") != bundle.fingerprint
            or (meta.get("row") or {}).get("status") != "ok"):
        return None
    if not ((folder / "report.html").is_file() and (folder / "findings.json").is_file()):
        return None
    return meta
