"""``python -m rdsla.sample_data.forge``: regenerate the committed sample bundles byte for byte.

``--large DIR`` writes the benchmark bundle (System.evtx ~20 MB, SOFTWARE hive ~60 MB, several
TerminalServices logs) into DIR; it is never committed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rdsla.sample_data.forge.build import build_all

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdsla.sample_data.forge", description=__doc__)
    parser.add_argument("--out", type=Path, default=BUNDLES, help=f"where bundles go (default {BUNDLES})")
    parser.add_argument("--large", type=Path, metavar="DIR", help="write the large benchmark bundle into DIR instead")
    args = parser.parse_args(argv)
    if args.large:
        from rdsla.sample_data.forge.large import build_large
        for path, size in build_large(args.large):
            print(f"{size / 1e6:8.1f} MB  {path}")
        return 0
    for path in build_all(args.out):
        size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(f"{size / 1e6:8.2f} MB  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
