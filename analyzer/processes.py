"""How rdsla starts worker processes: one start method for the parse pool and the batch pool.

Windows has only ``spawn`` and macOS defaults to it; Linux offers ``fork`` and ``forkserver``.
Everything a worker runs must therefore be importable by name and picklable, and nothing at
import time may need a Unix-only module. ``RDSLA_START_METHOD=spawn|fork|forkserver`` forces
one method on any platform, so the tests run both pools under ``spawn`` on Linux.

References: https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from typing import Optional, Sequence

ENV = "RDSLA_START_METHOD"


def start_method(preferred: Optional[str] = None) -> str:
    """The start method to use: ``RDSLA_START_METHOD`` if set, else ``preferred`` where this
    platform has it, else the platform's default."""
    available = mp.get_all_start_methods()
    forced = os.environ.get(ENV, "").strip().lower()
    if forced:
        if forced not in available:
            raise ValueError(f"{ENV}={forced!r}: this platform offers {', '.join(available)}")
        return forced
    if preferred and preferred in available and sys.platform != "win32":
        return preferred
    return mp.get_start_method(allow_none=True) or available[0]


def context(preferred: Optional[str] = None, preload: Sequence[str] = ()):
    """A multiprocessing context for ``start_method(preferred)``; ``preload`` names modules a
    forkserver imports once, so its workers start warm."""
    ctx = mp.get_context(start_method(preferred))
    if ctx.get_start_method() == "forkserver" and preload:
        ctx.set_forkserver_preload(list(preload))
    return ctx
