"""CAL counts: one owner (core.cal_counts) for total / issued / available, with "unlimited"
and "unknown" as distinct values; the parser, the rules and the report agree (issue 16 item 3,
bug 3)."""
from __future__ import annotations

import pandas as pd
import pytest

from rdsla.core.cal_counts import (UNKNOWN, UNLIMITED, ZERO, CalCount, PackCounts, any_free, normalize, pack_counts,
                                   pool_counts, total_of)
from rdsla.core.frames import make_frame


# --- the value and its arithmetic -------------------------------------------------------------

def test_three_distinct_values():
    assert str(CalCount.of(0)) == "0" and str(UNLIMITED) == "unlimited" and str(UNKNOWN) == "unknown"
    assert len({CalCount.of(0), UNLIMITED, UNKNOWN}) == 3
    assert CalCount.of(None) == CalCount.of(pd.NA) == CalCount.of(float("nan")) == UNKNOWN
    assert [c.to_json() for c in (CalCount.of(7), UNLIMITED, UNKNOWN)] == [7, "unlimited", "unknown"]
    assert (CalCount.of(3).has_free(), ZERO.has_free(), UNLIMITED.has_free(), UNKNOWN.has_free()) == \
        (True, False, True, None)
    with pytest.raises(TypeError):
        CalCount("number", None)
    with pytest.raises(ValueError):
        CalCount("unlimited", 5)


def test_sum_unlimited_wins_then_unknown():
    n = CalCount.of(5)
    assert n + CalCount.of(2) == CalCount.of(7)
    assert n + UNLIMITED == UNLIMITED + n == UNLIMITED
    assert n + UNKNOWN == UNKNOWN + n == UNKNOWN
    assert UNKNOWN + UNLIMITED == UNLIMITED + UNKNOWN == UNLIMITED      # any unlimited pack: unlimited
    assert total_of([]) == ZERO


# --- parser side: frame values -----------------------------------------------------------------

@pytest.mark.parametrize("raw, frame", [
    ((50, 12, 38), dict(total=50, issued=12, available=38, unlimited=False)),
    ((50, 50, None), dict(total=50, issued=50, available=0, unlimited=False)),       # derived
    ((20, 25, None), dict(total=20, issued=25, available=0, unlimited=False)),       # never below 0
    ((50, None, None), dict(total=50, issued=None, available=None, unlimited=False)),
    ((None, 12, None), dict(total=None, issued=12, available=None, unlimited=None)),  # unknown
    ((None, 3, 9), dict(total=None, issued=3, available=9, unlimited=False)),
    ((4294967295, 0, 4294967295), dict(total=None, issued=0, available=None, unlimited=True)),
    ((-1, 100, -1), dict(total=None, issued=100, available=None, unlimited=True)),
    ((-1, 100, None), dict(total=None, issued=100, available=None, unlimited=True)),
    ((0, 0, 0), dict(total=0, issued=0, available=0, unlimited=False)),              # §6: a real 0
])
def test_normalize(raw, frame):
    assert normalize(*raw) == frame


# --- reader side: rows and pools -----------------------------------------------------------------

def _row(**kw):
    return {"total": None, "issued": None, "available": None, "unlimited": None, **kw}


def test_pack_counts_reads_the_flag_first_and_derives_like_the_parser():
    assert pack_counts(_row(issued=0, unlimited=True)) == PackCounts(UNLIMITED, ZERO, UNLIMITED)
    assert pack_counts(_row(total=50, issued=50, unlimited=False)) == PackCounts(CalCount.of(50), CalCount.of(50), ZERO)
    assert pack_counts(_row(issued=4)) == PackCounts(UNKNOWN, CalCount.of(4), UNKNOWN)
    assert pack_counts(_row(total=4294967295, issued=1)).available == UNLIMITED     # a frame built elsewhere
    frame = make_frame("keypacks", [_row(total=10, issued=3, unlimited=False), _row(issued=0, unlimited=True), _row()])
    assert [pack_counts(r).available for _, r in frame.iterrows()] == [CalCount.of(7), UNLIMITED, UNKNOWN]


def test_pool_counts_and_any_free():
    exhausted = _row(total=20, issued=20, available=0, unlimited=False)
    free = _row(total=10, issued=3, available=7, unlimited=False)
    unknown = _row(issued=2)
    unlimited = _row(issued=5, unlimited=True)
    assert pool_counts([exhausted, free]) == PackCounts(CalCount.of(30), CalCount.of(23), CalCount.of(7))
    assert pool_counts([free, unknown]) == PackCounts(UNKNOWN, CalCount.of(5), UNKNOWN)
    assert pool_counts([free, unknown, unlimited]) == PackCounts(UNLIMITED, CalCount.of(10), UNLIMITED)
    assert pool_counts([]) == PackCounts(ZERO, ZERO, ZERO)
    assert any_free([exhausted]) is False and any_free([]) is False
    assert any_free([exhausted, unknown]) is None
    assert any_free([unknown, free]) is True and any_free([exhausted, unlimited]) is True
    assert any_free(make_frame("keypacks", [exhausted, unknown])) is None
