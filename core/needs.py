"""Declared needs: which events and registry keys a piece of reasoning reads.

Rules (``RuleMeta.events``) and the host-profile builder (``rdsla.analyzer.hosts.NEEDS``)
declare what they read as event catalog keys (``core/data/event_catalog.csv``: provider or
classic source name, id, channel, data condition) and registry key patterns. The pipeline
joins the declarations into the parsers' keep-filter, so an event is kept because someone reads
it, never because a list says so; reading an event nobody declared raises
:class:`UndeclaredNeed` (a programming error, caught by the test suite).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


class UndeclaredNeed(LookupError):
    """Code read an event or registry key it did not declare: the parsers would not keep it."""


@dataclass(frozen=True)
class Needs:
    events: frozenset[str] = frozenset()      # event catalog keys
    registry: frozenset[str] = frozenset()    # registry key patterns (HIVE\path, fnmatch * ? and **)

    @staticmethod
    def of(events: Iterable[str] = (), registry: Iterable[str] = ()) -> "Needs":
        return Needs(frozenset(events), frozenset(registry))

    def __or__(self, other: "Needs") -> "Needs":
        return Needs(self.events | other.events, self.registry | other.registry)


def union(needs: Iterable[Needs]) -> Needs:
    out = Needs()
    for n in needs:
        out = out | n
    return out
