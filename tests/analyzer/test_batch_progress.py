"""Progress: a redrawn bar on a terminal, plain lines elsewhere."""
from __future__ import annotations

import io

from rdsla.analyzer.batch_progress import Progress


def test_terminal_bar_has_counts_and_eta():
    out = io.StringIO()
    p = Progress(4, stream=out, tty=True)
    for status in ("ok", "failed", "ok"):
        p.update(status)
    p.close()
    text = out.getvalue()
    assert text.count("\r") >= 3 and "\n" not in text
    assert "3/4" in text and "ok 2" in text and "failed 1" in text and "ETA" in text


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(3, stream=out, tty=False, interval=0.0)
    for _ in range(3):
        p.update("ok")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 3 and lines[-1].startswith("rdsla batch: 3/3 ok 3")


def test_plain_lines_are_periodic_not_per_bundle():
    out = io.StringIO()
    p = Progress(100, stream=out, tty=False, interval=3600.0)
    for _ in range(100):
        p.update("ok")
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]   # only the final line


def test_quiet_prints_nothing():
    out = io.StringIO()
    p = Progress(1, stream=out, quiet=True, tty=True)
    p.update("timeout")
    p.close()
    assert out.getvalue() == "" and p.counts["timeout"] == 1
