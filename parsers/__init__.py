"""Parsers: one module per format family, each ``parse(source, options) -> ParseResult``.

This package owns the registry of formats (issue 16, item 4): :data:`FORMATS` names every
:class:`~parsers.formats.Format` intake asks, :func:`recognize` picks the answer for a file's
first bytes, :func:`parser_for` the parser of a kind. A new export format is one module that
declares its ``Format`` (its sniff and its parse entry) plus its tests, and one line below.

Nothing is imported here: ``import rdsla.parsers`` (and ``rdsla --version``) stays cheap. The
modules named in :data:`FORMATS` are imported the first time a file is recognized, so they
hold only recognition (standard library, :mod:`parsers.formats`, :mod:`parsers.text`); the
parse modules are imported when a file of their kind is parsed.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Optional, Sequence

if TYPE_CHECKING:
    from rdsla.parsers.formats import Format, Sniff

# Every format intake recognizes, "module:attribute" of its Format. The order breaks ties:
# of equally confident answers the one listed first wins.
FORMATS: tuple[str, ...] = (
    "rdsla.parsers.evtx_sniff:FORMAT",
    "rdsla.parsers.registry_sniff:HIVE",
    "rdsla.parsers.registry_sniff:REG_EXPORT",
    "rdsla.parsers.registry_sniff:REG_QUERY",
    "rdsla.parsers.text:JSON_DOCUMENT",          # kind unknown: JSON notes are no report
    "rdsla.parsers.licensing_sniff:FORMAT",
    "rdsla.parsers.systeminfo_sniff:FORMAT",
)


def _resolve(ref: str):
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


@lru_cache(maxsize=None)
def registered_formats() -> tuple["Format", ...]:
    """The :data:`FORMATS`, imported."""
    return tuple(_resolve(ref) for ref in FORMATS)


def recognize(head: bytes, candidates: Optional[Sequence["Format"]] = None) -> "Sniff":
    """The kind of a file from its first bytes (:data:`parsers.formats.HEAD_BYTES` of them).

    Every format is asked; the most confident answer wins, ties go to the format listed first,
    and a signature (:data:`~parsers.formats.CERTAIN`) ends the asking. An answer below
    :data:`~parsers.formats.THRESHOLD`, or none, gives kind ``unknown`` with the reason.
    A sniff that raises is a bug in it: the file is then judged by the other formats, and
    the error is in the reason if none of them recognizes it. Zip containers are intake's
    (:mod:`analyzer.bundle`), not a format here.
    """
    from rdsla.parsers.formats import CERTAIN, THRESHOLD, Sniff
    from rdsla.parsers.text import decode_head

    if not head:
        return Sniff("unknown", 0.0, "empty file")
    best: Optional[Sniff] = None
    errors: list[str] = []
    for fmt in registered_formats() if candidates is None else candidates:
        try:
            found = fmt.sniff(head)
        except Exception as exc:  # noqa: BLE001 - one broken sniff must not stop intake
            errors.append(f"{fmt.sniff.__module__}.{fmt.sniff.__qualname__} raised {type(exc).__name__}: {exc}")
            continue
        if found is not None and (best is None or found.confidence > best.confidence):
            best = found
            if best.confidence >= CERTAIN:
                break
    if best is not None and best.confidence >= THRESHOLD:
        return best
    if decode_head(head) is None:
        reason = f"binary content, signature {head[:8].hex()}: not a format rdsla reads"
    else:
        reason = "text without registry or RD Licensing content"
    if best is not None:
        reason += f" (a weak sign of {best.kind}, {best.confidence:.2f}: {best.reason})"
    if errors:
        reason += "; " + "; ".join(errors)
    return Sniff("unknown", best.confidence if best else 0.0, reason)


def parser_for(kind: str) -> Callable:
    """The parse function of a kind, imported on first use; KeyError for a kind no format parses."""
    for fmt in registered_formats():
        if kind in fmt.kinds and fmt.parse:
            return _resolve(fmt.parse)
    raise KeyError(kind)
