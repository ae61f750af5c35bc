"""Render time and size of the HTML report and the Markdown summary for a large synthetic analysis.

Prints medians and the ratio to a baseline measured in the same run (serializing the same
analysis to findings.json), against the targets: HTML < 1 s and < 5 MB.

``--samples``: the sample bundles instead (issue 20 item 4, "rendering scales with the
findings"): per bundle, the milliseconds of findings.json, report.html and summary.md rendered
from one analysis as the CLI does (a new analysis object each run, so nothing is shared between
runs), their ratio to the bundle's reasoning time, and the first render in a fresh process
(imports, jinja2 environment, templates from the bytecode cache), medians of ``--repeat`` runs.

    .venv/bin/python benchmarks/bench_report.py [--events 200000] [--hosts 12] [--findings 120]
    .venv/bin/python benchmarks/bench_report.py --samples [--repeat 3]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
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
    p.add_argument("--samples", action="store_true", help="the sample bundles, and the first render in a fresh process")
    args = p.parse_args()
    if args.samples:
        return samples(args.repeat)
    analysis = big_analysis(args.events, args.hosts, args.findings)
    html.render(copy.copy(analysis))  # warm up: template compilation, static assets
    # each render of a new analysis object: the view data shared per analysis (reports.view_shared) is built anew
    t_html, page = median_time(lambda: html.render(copy.copy(analysis)), args.repeat)
    t_md, summary = median_time(lambda: markdown.render(copy.copy(analysis)), args.repeat)
    t_json, doc = median_time(lambda: findings_json.render(copy.copy(analysis)), args.repeat)
    size = len(page.encode("utf-8"))
    print(f"analysis: {args.events:,} events, {len(analysis.hosts)} hosts, {len(analysis.findings)} findings")
    print(f"html     : {t_html:6.3f} s  {size / 1e6:6.2f} MB  (x{t_html / t_json:.1f} findings.json)"
          f"  target < 1 s: {'ok' if t_html < 1 else 'MISSED'}, < 5 MB: {'ok' if size < 5e6 else 'MISSED'}")
    print(f"markdown : {t_md:6.3f} s  {len(summary.encode()) / 1e3:6.1f} kB")
    print(f"json     : {t_json:6.3f} s  {len(doc.encode()) / 1e6:6.2f} MB  (baseline)")
    return 0


REPO = Path(__file__).resolve().parents[1]
FIRST_RENDER = """
import sys, time
from rdsla.analyzer import pipeline
bundle = sys.argv[1]
analysis = pipeline.reason(pipeline.ingest([bundle], jobs=0), [bundle])
t0 = time.perf_counter()
from rdsla.reports import html
html.render(analysis)
t1 = time.perf_counter()
from rdsla.reports import findings_json
findings_json.render(analysis)
t2 = time.perf_counter()
from rdsla.reports import markdown
markdown.render(analysis)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""                       # the CLI's order: report.html, findings.json, summary.md


def samples(repeat: int) -> int:
    from rdsla.analyzer import pipeline
    bundles = sorted(str(b) for b in (REPO / "sample_data" / "bundles").iterdir() if not b.name.startswith("."))
    ingested = {b: pipeline.ingest([b], jobs=0) for b in bundles}
    analyses = {b: pipeline.reason(ingested[b], [b]) for b in bundles}
    for a in analyses.values():            # warm: imports, templates, catalog caches
        findings_json.render(a), html.render(a), markdown.render(a)
    runs: dict[str, list[float]] = {"reason": [], "json": [], "html": [], "md": []}
    for _ in range(repeat):
        total = dict.fromkeys(runs, 0.0)
        for b in bundles:
            start = time.perf_counter()
            pipeline.reason(ingested[b], [b])
            total["reason"] += time.perf_counter() - start
            a = copy.copy(analyses[b])      # a new analysis object: the three renders share only among themselves
            for name, render in (("json", findings_json.render), ("html", html.render), ("md", markdown.render)):
                start = time.perf_counter()
                render(a)
                total[name] += time.perf_counter() - start
        for name, seconds in total.items():
            runs[name].append(seconds / len(bundles) * 1000)
    ms = {name: statistics.median(v) for name, v in runs.items()}
    render_ms = ms["json"] + ms["html"] + ms["md"]
    print(f"{len(bundles)} sample bundles, median of {repeat} runs, ms per bundle:")
    print(f"render   : {render_ms:6.1f} ms  (json {ms['json']:.1f}, html {ms['html']:.1f}, md {ms['md']:.1f})"
          f"  x{render_ms / ms['reason']:.2f} of reasoning ({ms['reason']:.1f} ms)")
    first = []
    bundle = str(REPO / "sample_data" / "bundles" / "cals-exhausted")
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", FIRST_RENDER, bundle], capture_output=True, text=True, check=True)
        first.append([float(x) * 1000 for x in out.stdout.split()])
    h, j, m = (statistics.median(col) for col in zip(*first))
    print(f"first render in a fresh process (cals-exhausted): {h + j + m:6.1f} ms  (html {h:.1f}, json {j:.1f}, "
          f"md {m:.1f}); x{(h + j + m) / render_ms:.1f} of a warm render (compiled modules: run it twice without "
          "PYTHONDONTWRITEBYTECODE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
