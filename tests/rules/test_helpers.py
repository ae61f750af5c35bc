"""rules.helpers.id_list (issue 20): the '1131 x3, 1128 (= 50280) x2' text counted in Python says
what the groupby it replaced said, in the same order (event id, then legacy id, a missing one last)."""
from __future__ import annotations

import pandas as pd

from rdsla.rules.helpers import id_list


def by_groupby(df: pd.DataFrame) -> str:
    parts = []
    for (eid, legacy), grp in df.groupby([df["event_id"].astype("Int64"), df["_legacy"].astype("Int64")],
                                         dropna=False):
        label = str(eid) if pd.isna(legacy) or legacy == eid else f"{eid} (= {legacy})"
        parts.append(f"{label} x{len(grp)}")
    return ", ".join(parts)


def frame(pairs):
    return pd.DataFrame({"event_id": pd.array([e for e, _ in pairs], dtype="Int64"),
                         "_legacy": pd.array([v for _, v in pairs], dtype="Int64")})


def test_id_list_counts_like_the_groupby():
    cases = [
        [(1131, 1131)] * 3 + [(50280, 1128)] * 2 + [(1128, 1128)],
        [(1128, None), (1128, 1128), (1128, None), (44, None)],
        [(50283, 1131), (1131, 1131), (50283, 1131), (7036, 7036), (1, None)],
        [(21, 21)],
    ]
    for pairs in cases:
        df = frame(pairs)
        assert id_list(df) == by_groupby(df)
        assert id_list(df.iloc[::-1]) == by_groupby(df.iloc[::-1])     # order of the rows does not matter
    assert id_list(frame([(50280, 1128), (50280, 1128), (1131, None)])) == "1131 x1, 50280 (= 1128) x2"
    assert id_list(frame([])) == ""
