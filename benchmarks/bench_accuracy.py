"""Diagnostic accuracy over every sample bundle: top-1 accuracy on the fault bundles, false
error-level causes on the healthy ones, and the share right per confidence band.

A fault bundle is right when its top root cause is one of ``expected.json``'s ``root_causes`` on
its ``host`` or one of its ``alt_hosts``; a healthy bundle (``root_causes: []``) is right when no
cause of severity error or critical is detected. The confidence bands show whether a stated
confidence means what it says: each band's share of right top causes should be at least its
lower bound (a top cause on a healthy bundle counts as wrong).

    .venv/bin/python benchmarks/bench_accuracy.py [--bundles sample_data/bundles] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BANDS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 1.01))


def expected_of(path: Path) -> dict:
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("expected.json"))
    return json.loads((path / "expected.json").read_text(encoding="utf-8"))


def bundles(root: Path) -> list[Path]:
    out = []
    for p in sorted(root.iterdir()):
        if (p.is_dir() and (p / "expected.json").exists()) or (p.suffix == ".zip" and p.is_file()):
            out.append(p)
    return out


def evaluate(root: Path) -> dict:
    from rdsla.analyzer.pipeline import analyze
    from rdsla.parsers.base import ParseOptions
    rows, bands = [], {b: [0, 0] for b in BANDS}
    for path in bundles(root):
        exp = expected_of(path)
        a = analyze([str(path)], ParseOptions(), jobs=0)
        hosts = [exp["host"], *exp["alt_hosts"]]
        top = a.root_causes[0] if a.root_causes else None
        errors = [f for f in a.findings if f.state == "detected" and f.kind == "cause"
                  and f.severity in ("error", "critical")]
        if exp["root_causes"]:
            right = bool(top and top.rule_id in exp["root_causes"] and top.host in hosts)
        else:
            right = not errors
        for rc in a.root_causes[:1]:          # the verdict's claim: its top cause
            ok = rc.rule_id in exp["root_causes"] and rc.host in hosts
            band = next(b for b in BANDS if b[0] <= rc.confidence < b[1])
            bands[band][0] += ok
            bands[band][1] += 1
        rows.append({"bundle": path.name, "expected": exp["root_causes"], "host": exp["host"],
                     "got": [top.rule_id, top.host, top.confidence] if top else None,
                     "verdict": (a.verdict or {}).get("state"), "right": right,
                     "false_error_causes": [] if exp["root_causes"] else [(f.rule_id, f.host) for f in errors]})
    faults = [r for r in rows if r["expected"]]
    healthy = [r for r in rows if not r["expected"]]
    return {"rows": rows,
            "top1_accuracy": sum(r["right"] for r in faults) / len(faults) if faults else None,
            "faults": len(faults), "healthy": len(healthy),
            "false_error_causes_on_healthy": sum(len(r["false_error_causes"]) for r in healthy),
            "bands": [{"band": f"{lo:.2f}-{min(hi, 1.0):.2f}", "right": n_ok, "causes": n,
                       "share_right": (n_ok / n) if n else None} for (lo, hi), (n_ok, n) in bands.items()]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundles", type=Path, default=Path(__file__).resolve().parents[1] / "sample_data" / "bundles")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = evaluate(args.bundles)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for r in result["rows"]:
        got = f"{r['got'][0]} on {r['got'][1]} ({r['got'][2]:.0%})" if r["got"] else "no cause"
        want = f"{'/'.join(r['expected'])} on {r['host']}" if r["expected"] else "no error-level cause"
        print(f"{'ok ' if r['right'] else 'BAD'}  {r['bundle']:<45} want {want:<32} got {got:<32} verdict {r['verdict']}")
    acc = result["top1_accuracy"]
    print(f"\ntop-1 accuracy on {result['faults']} fault bundles: {acc:.0%}" if acc is not None else "no fault bundle")
    print(f"false error-level causes on {result['healthy']} healthy bundles: {result['false_error_causes_on_healthy']}")
    print("share right per confidence band (top causes):")
    for b in result["bands"]:
        share = f"{b['share_right']:.0%}" if b["share_right"] is not None else "-"
        print(f"  {b['band']}: {b['right']}/{b['causes']} right ({share})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
