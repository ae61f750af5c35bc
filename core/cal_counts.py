"""CAL counts of key packs: the one owner of total / issued / available.

Why: a null count in the ``keypacks`` frame used to mean both "unlimited" and "the export had
no such column", so the rules counted an unlimited pack as 0 and the report showed a pack
without counts as unlimited (bug 3). A count here is one of three distinct things:

- a number (>= 0);
- :data:`UNLIMITED`: the pack reports the sentinel 4294967295 (-1 in some CSV exports) in
  ``TotalLicenses`` or ``AvailableLicenses``: the built-in TS Per Device pack, temporary packs
  (RDS_LICENSING.md §3.1 "Sentinels"; Win32_TSLicenseKeyPack [S14], [S29], [S37]). The frame
  keeps ``total``/``available`` null (DESIGN.md "Contracts": key packs) and ``unlimited`` True;
- :data:`UNKNOWN`: the export gave no value (column missing, empty or unreadable cell): null
  counts and ``unlimited`` NA.

Where ``AvailableLicenses`` is missing but ``TotalLicenses`` and ``IssuedLicenses`` are there,
available is *derived* as total - issued, never below 0 (the key-pack view of RD Licensing
Manager shows that difference; an over-allocated pool has none left, not a negative number).
The parser derives it when it builds the frame (:func:`normalize`); :func:`pack_counts`
applies the same derivation to frames built elsewhere, so both agree.

Sums over a pool (the packs of one type and version, or the packs a rule finds usable), what a
support engineer reads off RD Licensing Manager: **unlimited** if any pack is unlimited (the
license server can always issue from that pack); otherwise **unknown** if any pack's count is
unknown (the sum cannot be stated, though some CALs may be free: see :func:`any_free`);
otherwise the sum. Issued is never unlimited.

Everyone reads counts through here: ``rules.pack.cal_pool``, the report's CAL table
(``reports.view``), the evidence rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Union

if TYPE_CHECKING:
    import pandas as pd

# TotalLicenses / AvailableLicenses of an unlimited pack: 0xFFFFFFFF as WMI's uint32, or the
# same bits read as a signed int (-1) by some exporters (RDS_LICENSING.md §3.1, §6).
UNLIMITED_SENTINELS = frozenset({4294967295, -1})

NUMBER, UNLIMITED_KIND, UNKNOWN_KIND = "number", "unlimited", "unknown"


@dataclass(frozen=True)
class CalCount:
    """A CAL count: ``kind`` number (with ``value``), unlimited or unknown."""

    kind: str = NUMBER
    value: Optional[int] = None

    def __post_init__(self) -> None:
        if self.kind == NUMBER:
            if not isinstance(self.value, int) or isinstance(self.value, bool):
                raise TypeError(f"a CAL count needs an int, not {self.value!r}")
        elif self.kind in (UNLIMITED_KIND, UNKNOWN_KIND):
            if self.value is not None:
                raise ValueError(f"{self.kind} carries no number")
        else:
            raise ValueError(f"kind {self.kind!r}")

    @classmethod
    def of(cls, value: Any) -> "CalCount":
        """A number, or :data:`UNKNOWN` for a missing value (None, NA, NaN)."""
        n = _int(value)
        return UNKNOWN if n is None else cls(NUMBER, n)

    @property
    def is_number(self) -> bool:
        return self.kind == NUMBER

    @property
    def is_unlimited(self) -> bool:
        return self.kind == UNLIMITED_KIND

    @property
    def is_unknown(self) -> bool:
        return self.kind == UNKNOWN_KIND

    def has_free(self) -> Optional[bool]:
        """As an available count: True (some left, or unlimited), False (none), None (unknown)."""
        if self.is_unknown:
            return None
        return self.is_unlimited or self.value > 0

    def __add__(self, other: "CalCount") -> "CalCount":
        if not isinstance(other, CalCount):
            return NotImplemented
        if self.is_unlimited or other.is_unlimited:
            return UNLIMITED
        if self.is_unknown or other.is_unknown:
            return UNKNOWN
        return CalCount(NUMBER, self.value + other.value)

    def __str__(self) -> str:
        return str(self.value) if self.is_number else self.kind

    def to_json(self) -> Union[int, str]:
        """The number, or ``"unlimited"`` / ``"unknown"``."""
        return self.value if self.is_number else self.kind


UNLIMITED = CalCount(UNLIMITED_KIND)
UNKNOWN = CalCount(UNKNOWN_KIND)
ZERO = CalCount(NUMBER, 0)


@dataclass(frozen=True)
class PackCounts:
    """Total, issued and available of one pack or a pool of packs."""

    total: CalCount
    issued: CalCount
    available: CalCount


def is_sentinel(value: Any) -> bool:
    n = _int(value)
    return n is not None and n in UNLIMITED_SENTINELS


def derived_available(total: Optional[int], issued: Optional[int]) -> Optional[int]:
    """total - issued, never below 0; None when either is unknown."""
    if total is None or issued is None:
        return None
    return max(0, total - issued)


def normalize(total: Optional[int], issued: Optional[int], available: Optional[int]) -> dict:
    """The ``keypacks`` frame's count columns from one exported row's TotalLicenses,
    IssuedLicenses and AvailableLicenses (None where the export had no value).

    An unlimited sentinel in total or available makes the pack unlimited: both null,
    ``unlimited`` True. Otherwise a missing available is derived from total and issued, and
    ``unlimited`` is False when total or available is a real number, NA when neither is known.
    """
    if is_sentinel(total) or is_sentinel(available):
        return {"total": None, "issued": issued, "available": None, "unlimited": True}
    if available is None:
        available = derived_available(total, issued)
    known = total is not None or available is not None
    return {"total": total, "issued": issued, "available": available, "unlimited": False if known else None}


def pack_counts(row: Mapping) -> PackCounts:
    """The counts of one ``keypacks`` row (a dict or a pandas row)."""
    flag = row.get("unlimited")
    if (flag is not None and not _is_na(flag) and bool(flag)) \
            or is_sentinel(row.get("total")) or is_sentinel(row.get("available")):
        return PackCounts(UNLIMITED, CalCount.of(row.get("issued")), UNLIMITED)
    total, issued, available = _int(row.get("total")), _int(row.get("issued")), _int(row.get("available"))
    if available is None:
        available = derived_available(total, issued)
    return PackCounts(CalCount.of(total), CalCount.of(issued), CalCount.of(available))


def total_of(counts: Iterable[CalCount]) -> CalCount:
    """Sum of counts (0 for none): unlimited if any is, else unknown if any is, else the sum."""
    out = ZERO
    for c in counts:
        out = out + c
    return out


def pool_counts(rows: Union[pd.DataFrame, Iterable[Mapping]]) -> PackCounts:
    """Summed counts of several ``keypacks`` rows (see the module docstring for the rule)."""
    packs = [pack_counts(r) for r in _rows(rows)]
    return PackCounts(total_of(p.total for p in packs), total_of(p.issued for p in packs),
                      total_of(p.available for p in packs))


def any_free(rows: Union[pd.DataFrame, Iterable[Mapping]]) -> Optional[bool]:
    """Is any CAL left in these packs? True when one pack is unlimited or has some available
    (whatever the others say), False when every pack has a known 0, None otherwise (unknown).
    False for no packs at all."""
    seen_unknown = False
    for r in _rows(rows):
        free = pack_counts(r).available.has_free()
        if free:
            return True
        seen_unknown = seen_unknown or free is None
    return None if seen_unknown else False


def permanent(kp: pd.DataFrame) -> pd.DataFrame:
    """Purchased packs: not built-in, not temporary (those two carry the unlimited sentinels,
    RDS_LICENSING.md 3.1, and never satisfy a session host for good). ``kp`` itself when every
    pack is purchased (no row is copied); a missing flag counts as not set."""
    if not len(kp):
        return kp
    keep = [i for i, (builtin, temporary) in enumerate(zip(kp["builtin"].tolist(), kp["temporary"].tolist()))
            if not _flag(builtin) and not _flag(temporary)]
    return kp if len(keep) == len(kp) else kp.iloc[keep]


def _flag(value: Any) -> bool:
    return value is not None and not _is_na(value) and bool(value)


def _rows(rows: Union[pd.DataFrame, Iterable[Mapping]]) -> Iterable[Mapping]:
    import pandas as pd
    if isinstance(rows, pd.DataFrame):
        from rdsla.core.evidence import rows as frame_rows
        return frame_rows(rows)
    return rows


def _is_na(value: Any) -> bool:
    import pandas as pd
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _int(value: Any) -> Optional[int]:
    import numpy as np
    if value is None or isinstance(value, (bool, np.bool_)) or _is_na(value):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else None
