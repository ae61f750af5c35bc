"""Batch progress: a redrawn bar with counts and ETA on a terminal, plain periodic lines
otherwise (logs and CI capture every byte, so no carriage returns there)."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Optional, TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, stream: Optional[TextIO] = None, quiet: bool = False,
                 tty: Optional[bool] = None, interval: float = 10.0, width: int = 24):
        self.total, self.quiet, self.interval, self.width = total, quiet, interval, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self._last_line = self.started

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        done, elapsed = self.done, time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - done) / rate) if rate > 0 else "?"
        states = " ".join(f"{k} {self.counts[k]}" for k in ("ok", "failed", "timeout") if self.counts[k])
        return f"{done}/{self.total} {states} {rate:.2f}/s ETA {eta}".replace("  ", " ")

    def update(self, status: str) -> None:
        self.counts[status] += 1
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            filled = int(self.width * self.done / max(self.total, 1))
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r\033[K[{bar}] {self.line()}")
            self.stream.flush()
        elif now - self._last_line >= self.interval or self.done == self.total:
            self._last_line = now
            self.stream.write(f"rdsla batch: {self.line()}\n")
            self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
