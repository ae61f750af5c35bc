"""Host profiles from frames and facts (placeholder: names only; issue 5 builds the rest)."""
from __future__ import annotations

from datetime import datetime

from analyzer.model import HostProfile


def build_profiles(frames, facts, hosts: dict[str, set[str]], as_of: datetime) -> list[HostProfile]:
    return [HostProfile(name=name, aliases=set(aliases)) for name, aliases in sorted(hosts.items())]
