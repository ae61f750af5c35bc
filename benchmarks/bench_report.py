"""Render time and size of the HTML report and the Markdown summary for a large synthetic analysis.

Prints medians and the ratio to a baseline measured in the same run (serializing the same
analysis to findings.json), against the targets: HTML < 1 s and < 5 MB.

    /work/venv/bin/python benchmarks/bench_report.py [--events 200000] [--hosts 12] [--findings 120]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdsla.reports import findings_json, html, markdown  # noqa: E402
from tests.reports.test_html_data import big_analysis  # noqa: E402


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--hosts", type=int, default=12)
    p.add_argument("--findings", type=int, default=120)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    analysis = big_analysis(args.events, args.hosts, args.findings)
    html.render(analysis)  # warm up: template compilation, static assets
    t_html, page = median_time(lambda: html.render(analysis), args.repeat)
    t_md, summary = median_time(lambda: markdown.render(analysis), args.repeat)
    t_json, doc = median_time(lambda: findings_json.render(analysis), args.repeat)
    size = len(page.encode("utf-8"))
    print(f"analysis: {args.events:,} events, {len(analysis.hosts)} hosts, {len(analysis.findings)} findings")
    print(f"html     : {t_html:6.3f} s  {size / 1e6:6.2f} MB  (x{t_html / t_json:.1f} findings.json)"
          f"  target < 1 s: {'ok' if t_html < 1 else 'MISSED'}, < 5 MB: {'ok' if size < 5e6 else 'MISSED'}")
    print(f"markdown : {t_md:6.3f} s  {len(summary.encode()) / 1e3:6.1f} kB")
    print(f"json     : {t_json:6.3f} s  {len(doc.encode()) / 1e6:6.2f} MB  (baseline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
