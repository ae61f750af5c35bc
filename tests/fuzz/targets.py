"""Fuzz targets: name -> seeds (kind, bytes) and a mutator. Shared by the CI harnesses and
``benchmarks/fuzz_long.py``."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from rdsla.parsers import recognize as sniff
from tests.fuzz import mutators as M
from tests.fuzz import seeds as S


@dataclass(frozen=True)
class Target:
    name: str
    seeds: Callable[[], list[tuple[str, bytes]]]     # (parser kind, bytes); kind "zip" = whole bundle
    mutate: Callable[[bytes, random.Random], bytes]


def _licensing() -> list[tuple[str, bytes]]:
    return [(sniff(data[:65536]).kind, data) for _, data in S.licensing_seeds()]


def _mutate_licensing(data: bytes, rng: random.Random) -> bytes:
    return M.mutate_text(data, rng)


TARGETS: dict[str, Target] = {
    "evtx": Target("evtx", lambda: [("evtx", b) for b in S.evtx_seeds()], M.mutate_evtx),
    "hive": Target("hive", lambda: [("hive", b) for b in S.hive_seeds()], M.mutate_hive),
    "reg_export": Target("reg_export", lambda: [("reg_export", b) for b in S.reg_export_seeds()], M.mutate_text),
    "reg_query": Target("reg_query", lambda: [("reg_query", b) for b in S.reg_query_seeds()], M.mutate_text),
    "licensing": Target("licensing", _licensing, _mutate_licensing),
    "system_info": Target("system_info", lambda: [("system_info", b) for b in S.system_info_seeds()], M.mutate_text),
    "zip": Target("zip", lambda: [("zip", S.zip_seed())], M.mutate_zip),
}


def available() -> list[str]:
    """Targets whose parser and seeds exist in this tree right now."""
    out = []
    for name, t in TARGETS.items():
        try:
            seeds = t.seeds()
        except Exception:  # noqa: BLE001 - a writer or parser still being written
            continue
        if seeds:
            out.append(name)
    return out
