"""CAL counts: one owner (core.cal_counts) for total / issued / available, with "unlimited"
and "unknown" as distinct values; the parser, the rules and the report agree (issue 16 item 3,
bug 3)."""
from __future__ import annotations

import pandas as pd
import pytest

from rdsla.core.cal_counts import (UNKNOWN, UNLIMITED, ZERO, CalCount, PackCounts, any_free, normalize, pack_counts,
                                   pool_counts, total_of)
from rdsla.analyzer.verdict import rank
from rdsla.core.frames import empty_frame, make_frame
from rdsla.parsers.licensing import parse_bytes
from rdsla.reports.markdown import render as render_markdown
from rdsla.reports.view_calpool import keypack_rows
from rdsla.reports.view_evidence import EventIndex, evidence_groups
from tests.rules.test_rules import findings, license_server, make_analysis, session_host

HEADER = "KeyPackId,Description,KeyPackType,ProductType,ProductVersion,ProductVersionID,{counts}ExpirationDate\n"


def _export(counts_header: str, counts: str) -> pd.DataFrame:
    """A Win32_TSLicenseKeyPack CSV export with one 2019 Per User pack, on LS01."""
    text = HEADER.format(counts=counts_header) + f"3,C50-10.01-S,2,1,Windows Server 2019,6,{counts}20380119031407.000000-000\n"
    result = parse_bytes(text.encode())
    assert result.status == "ok", result.warnings
    return result.frames["keypacks"].assign(license_server="LS01", source="LS01/keypacks.csv")


def _rule_006(kp: pd.DataFrame):
    a = make_analysis([session_host(mode=4, os="2019"), license_server()], keypacks=kp.to_dict("records"))
    out = findings("RDSLIC-006", a, host="LS01")
    assert len(out) == 1
    return out[0]


def _cal_table(kp: pd.DataFrame) -> dict:
    rows = keypack_rows(kp, empty_frame("issued"))
    assert len(rows) == 1
    return rows[0]


# --- bug 3 regression: NA meant both "unlimited" and "column missing" -----------------------

def test_export_without_available_column_is_exhausted_not_unlimited():
    kp = _export("TotalLicenses,IssuedLicenses,", "50,50,")
    finding = _rule_006(kp)
    assert finding.state == "detected"
    assert "all 50 usable Per User CALs are issued" in finding.summary
    row = _cal_table(kp)
    assert (row["total"], row["issued"], row["available"], row["exhausted"]) == ("50", "50", "0", True)


def test_export_without_total_and_available_is_unknown_never_unlimited_or_zero():
    kp = _export("IssuedLicenses,", "12,")
    finding = _rule_006(kp)
    assert finding.state == "not_checked"                    # no count: exhaustion is not proven
    assert "unknown" in finding.summary and "unlimited" not in finding.summary
    assert " 0 " not in finding.summary
    row = _cal_table(kp)
    assert (row["total"], row["issued"], row["available"], row["exhausted"]) == ("unknown", "12", "unknown", False)


def test_evidence_rows_and_markdown_say_unlimited_and_unknown():
    """The rule's evidence carries the flag; the report's evidence table and the Markdown
    summary read counts as the CAL table does (not a blank for both meanings)."""
    builtin = _export("TotalLicenses,IssuedLicenses,AvailableLicenses,", "4294967295,0,4294967295,").assign(
        keypack_id="2", cal_version=None, builtin=True)
    uncounted = _export("IssuedLicenses,", "12,").assign(keypack_id="9", cal_version="2016")   # not usable by 2019
    kp = pd.concat([builtin, uncounted], ignore_index=True)
    a = make_analysis([session_host(mode=2, os="2019"), license_server()], keypacks=kp.to_dict("records"))
    a.findings = findings("RDSLIC-006", a, host="LS01")
    assert a.findings[0].state == "detected"
    groups = evidence_groups(a.findings[0], a, EventIndex(a.frames["events"], a.findings[0].evidence))
    table = [dict(zip(groups[0]["columns"], r["cells"])) for r in groups[0]["rows"]]
    assert [(r["keypack_id"], r["total"], r["issued"], r["available"]) for r in table] == [("9", "unknown", "12", "unknown")]
    assert "unlimited" not in groups[0]["columns"]
    # Per Device: with Per User the same pool is a compliance finding, not a cause (RDS_LICENSING.md 0a)
    only_builtin = make_analysis([session_host(mode=2, os="2019"), license_server()], keypacks=builtin.to_dict("records"))
    only_builtin.findings = findings("RDSLIC-006", only_builtin, host="LS01")
    only_builtin.root_causes = rank(only_builtin)
    assert only_builtin.findings[0].evidence[0].detail["unlimited"] is True
    assert "total=unlimited, issued=0, available=unlimited" in render_markdown(only_builtin)


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


def test_purchased_packs_leave_out_built_in_and_temporary_ones():
    """core.cal_counts.permanent: built-in and temporary packs are not purchased CALs (a missing
    flag is not set); the frame itself comes back when every pack is purchased."""
    from rdsla.core.cal_counts import permanent
    from rdsla.core.frames import make_frame
    kp = make_frame("keypacks", [{"keypack_id": "1", "builtin": True}, {"keypack_id": "2", "temporary": True},
                                 {"keypack_id": "3", "builtin": False, "temporary": False}, {"keypack_id": "4"}])
    assert permanent(kp)["keypack_id"].tolist() == ["3", "4"]
    assert permanent(kp).index.tolist() == [2, 3]
    bought = kp.iloc[2:]
    assert permanent(bought) is bought and not len(permanent(kp.iloc[0:2]))
