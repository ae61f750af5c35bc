"""The CAL compatibility data equals the seed article's two tables cell by cell, and extends
them with the 2022/2025 rows and columns of RDS_LICENSING.md section 4."""
from __future__ import annotations

import re

import pytest

from tests.conftest import SHARED
from rdsla.rules.compat import (cal_labels, compat_document, license_server_accepts, render_tables, server_labels,
                          session_host_accepts)

SEED = SHARED / "domain" / "seed-article.md"
SEED_CALS = ["2008R2", "2012", "2016", "2019"]
SEED_ROWS = ["2008R2", "2012", "2012R2", "2016", "2019"]

# Literal copy of the seed's tables (rows: server; columns: 2008R2, 2012, 2016, 2019 CALs), so the
# test also runs where ../shared is absent.
SEED_SESSION_HOST = {
    "2008R2": "YYYY", "2012": "NYYY", "2012R2": "NYYY", "2016": "NNYY", "2019": "NNNY",
}
SEED_LICENSE_SERVER = {
    "2008R2": "YNNN", "2012": "YYNN", "2012R2": "YYNN", "2016": "YYYN", "2019": "YYYY",
}
# RDS_LICENSING.md section 4 (2016+ matrix), columns 2016, 2019, 2022, 2025.
NEW_SESSION_HOST = {"2016": "YYYY", "2019": "NYYY", "2022": "NNYY", "2025": "NNNY"}
NEW_LICENSE_SERVER = {"2016": "YNNN", "2019": "YYNN", "2022": "YYYN", "2025": "YYYY"}


def _label(text: str) -> str:
    m = re.search(r"(2008|2012|2016|2019)(?:\s*R2)?", text)
    assert m, text
    if m.group(1) == "2008":
        return "2008R2"
    return m.group(1) + ("R2" if "R2" in text[m.start():m.end() + 3] and m.group(1) == "2012" else "")


def parse_seed_tables(markdown: str) -> list[dict]:
    """The two markdown tables of section 'extra2' as {row label: {cal label: bool}}."""
    tables, current = [], None
    for line in markdown.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if "CAL" in line and current is None:
            current = {"cols": [_label(c) for c in cells[1:]], "rows": {}}
            tables.append(current)
        elif set(line) <= set("|- "):
            continue
        elif current is not None:
            row = _label(cells[0].strip("*"))
            current["rows"][row] = {c: v.lower() == "yes" for c, v in zip(current["cols"], cells[1:])}
    return [t["rows"] for t in tables]


def _expand(table: dict, cols) -> dict:
    return {r: {c: v == "Y" for c, v in zip(cols, cells)} for r, cells in table.items()}


def test_labels():
    assert server_labels() == ["2008R2", "2012", "2012R2", "2016", "2019", "2022", "2025"]
    assert cal_labels() == ["2008R2", "2012", "2016", "2019", "2022", "2025"]


def test_literal_seed_cells():
    doc = compat_document()
    for side, table in (("session_host", SEED_SESSION_HOST), ("license_server", SEED_LICENSE_SERVER)):
        for row, cells in _expand(table, SEED_CALS).items():
            for cal, want in cells.items():
                assert doc[side][row][cal] is want, (side, row, cal)


def test_equals_seed_markdown_tables():
    if not SEED.is_file():
        pytest.skip("../shared/domain/seed-article.md is absent")
    sh, ls = parse_seed_tables(SEED.read_text(encoding="utf-8"))
    assert set(sh) == set(SEED_ROWS) and set(ls) == set(SEED_ROWS)
    doc = compat_document()
    for parsed, side in ((sh, "session_host"), (ls, "license_server")):
        for row, cells in parsed.items():
            assert list(cells) == SEED_CALS
            for cal, want in cells.items():
                assert doc[side][row][cal] is want, (side, row, cal)
    # and the literal copy agrees with the article
    assert sh == _expand(SEED_SESSION_HOST, SEED_CALS)
    assert ls == _expand(SEED_LICENSE_SERVER, SEED_CALS)


def test_2016_plus_matrix_from_domain_reference():
    doc = compat_document()
    cols = ["2016", "2019", "2022", "2025"]
    for side, table in (("session_host", NEW_SESSION_HOST), ("license_server", NEW_LICENSE_SERVER)):
        for row, cells in _expand(table, cols).items():
            for cal, want in cells.items():
                assert doc[side][row][cal] is want, (side, row, cal)


def test_document_shape_and_rules():
    doc = compat_document()
    assert set(doc) == {"session_host", "license_server"}
    for side in doc.values():
        assert list(side) == server_labels()
        assert all(list(cells) == cal_labels() for cells in side.values())
    # a session host takes its own version or newer; a license server its own or older
    assert session_host_accepts("2022", "2019") is False and session_host_accepts("2022", "2025") is True
    assert license_server_accepts("2016", "2019") is False and license_server_accepts("2012 R2", "2012") is True
    assert session_host_accepts("2008", "2008R2") is True
    assert session_host_accepts("1999", "2019") is None
    assert "Yes" in render_tables() and "2025" in render_tables()
