"""The report's templates are compiled once per machine, not once per run (issue 20 item 3):
jinja2's bytecode cache in a private folder, keyed by each template's checksum; the report is
the same with the cache, without it, and after a template changes."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

RENDER = r"""
import sys
from rdsla.analyzer import pipeline
from rdsla.reports import html
analysis = pipeline.analyze([sys.argv[1]], jobs=0)
text = html.render(analysis)
cache = html.environment().bytecode_cache
print(type(cache).__name__ if cache is not None else "None")
sys.stdout.write(text.split("<body", 1)[1])
"""


def render(bundle, env):
    out = subprocess.run([sys.executable, "-c", RENDER, str(bundle)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, **env}, check=True)
    kind, _, body = out.stdout.partition("\n")
    return kind, body


def test_the_cache_is_filled_once_and_gives_the_same_report(tmp_path):
    bundle = REPO / "sample_data" / "bundles" / "cals-exhausted"
    folder = tmp_path / "cache"
    kind, plain = render(bundle, {"RDSLA_TEMPLATE_CACHE": "0"})
    assert kind == "None"
    kind, first = render(bundle, {"RDSLA_TEMPLATE_CACHE": str(folder)})
    entries = sorted(p.name for p in folder.iterdir())
    assert kind == "FileSystemBytecodeCache" and entries
    assert oct(folder.stat().st_mode & 0o777) == "0o700" or os.name == "nt"
    _, second = render(bundle, {"RDSLA_TEMPLATE_CACHE": str(folder)})
    assert sorted(p.name for p in folder.iterdir()) == entries         # read, not compiled again
    assert plain == first == second


def test_an_unusable_cache_folder_means_no_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    kind, _ = render(REPO / "sample_data" / "bundles" / "cals-exhausted", {"RDSLA_TEMPLATE_CACHE": str(blocker / "x")})
    assert kind == "None"
