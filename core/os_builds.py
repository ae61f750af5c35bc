"""Windows build numbers -> product labels, one table for every layer (``core/data/os_builds.csv``).

Server and client releases share builds (7601 is 2008 R2 and Windows 7 SP1), so a label asks
whether the machine is a server. License servers are always servers.

References: https://learn.microsoft.com/en-us/windows/release-health/windows-server-release-info
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

OS_BUILDS_FILE = Path(__file__).with_name("data") / "os_builds.csv"


@lru_cache(maxsize=1)
def os_builds() -> dict[int, tuple[str, str]]:
    with OS_BUILDS_FILE.open(encoding="utf-8") as fh:
        return {int(r["build"]): (r["server"], r["client"]) for r in csv.DictReader(fh)}


def os_label(build: int, server: Optional[bool]) -> Optional[str]:
    """7601 -> "2008R2" on a server, "Windows 7 SP1" on a client (same builds, two products)."""
    known = os_builds().get(build)
    if known is None:
        return None
    srv, cli = known
    if server is False:
        return cli or srv or None
    return srv or cli or None


def server_label_of_version(version: str) -> tuple[Optional[str], Optional[int]]:
    """A version string such as ``10.0.17763`` or ``6.3.9600`` -> ("2019", 17763), read as a server."""
    m = re.search(r"\b\d+\.\d+\.(\d{4,5})\b", version or "")
    if not m:
        return None, None
    build = int(m.group(1))
    known = os_builds().get(build)
    return (known[0] or None) if known else None, build
