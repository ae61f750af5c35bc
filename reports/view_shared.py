"""The view data the HTML report, findings.json and the Markdown summary share, built once per
analysis: the cited-event index with the events frame grouped (``view_evidence.EventIndex``,
``view_event_groups.EventGroups``) and the CAL pool groups (``view_calpool.pool_groups``).

The CLI writes all three from one analysis; each used to group the same frames again. An entry
lives as long as its analysis (a weak reference) and is keyed by the objects it was built from
(the frames, the set of cited records), which it keeps alive, so an analysis whose frames or
evidence change gets a new entry rather than a stale one.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

_SHARED: dict[int, tuple[weakref.ref, dict]] = {}


def _slot(analysis) -> dict | None:
    key = id(analysis)
    entry = _SHARED.get(key)
    if entry is not None and entry[0]() is analysis:
        return entry[1]

    def gone(ref, key=key) -> None:
        if _SHARED.get(key, (None,))[0] is ref:
            del _SHARED[key]
    try:
        ref = weakref.ref(analysis, gone)
    except TypeError:                  # an object without weak references: nothing is shared
        return None
    slot: dict = {}
    _SHARED[key] = (ref, slot)
    return slot


def shared(analysis, name: str, inputs: tuple, build: Callable[[], Any]) -> Any:
    """``build()`` once per analysis and ``inputs`` (the objects it reads: compared by identity,
    kept alive with the result)."""
    slot = _slot(analysis)
    if slot is None:
        return build()
    key = (name, tuple(id(x) if _by_identity(x) else x for x in inputs))
    hit = slot.get(key)
    if hit is None:
        hit = slot[key] = (inputs, build())
    return hit[1]


def _by_identity(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return True
    return False


def event_index(analysis):
    """The report's ``EventIndex`` of every finding's evidence (its ``groups()`` built at most once)."""
    from rdsla.reports.view_evidence import EventIndex, cited_records
    events = analysis.frames["events"]
    evidence = [e for f in analysis.findings for e in f.evidence]
    return shared(analysis, "event_index", (events, cited_records(evidence)), lambda: EventIndex(events, evidence))


def pool_groups(analysis) -> list:
    """``view_calpool.pool_groups`` of the analysis's key packs and issued CALs."""
    from rdsla.reports.view_calpool import pool_groups as build
    keypacks, issued = analysis.frames["keypacks"], analysis.frames["issued"]
    return shared(analysis, "pool_groups", (keypacks, issued), lambda: build(keypacks, issued))


def artifacts(analysis) -> list[dict]:
    """``view_ingest.artifacts_view`` of the analysis's artifacts (read, never changed, by both views)."""
    from rdsla.reports.view_ingest import artifacts_view
    frame = analysis.frames["artifacts"]
    return shared(analysis, "artifacts", (frame,), lambda: artifacts_view(frame))
