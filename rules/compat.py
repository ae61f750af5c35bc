"""CAL / session host / license server compatibility, read from ``rules/data/cal_compat.json``.

The data holds the seed article's two tables exactly (section "Make sure that the versions of
your RDS CALs, RD Session Hosts, and RD License Servers are compatible"), extended with the
2022 and 2025 rows and columns of RDS_LICENSING.md section 4 (Microsoft "RDS CAL version
compatibility"). Logic here only looks cells up; knowledge stays in the data file.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

DATA = Path(__file__).with_name("data") / "cal_compat.json"

# OS labels in release order ("2008" is folded into the "2008, 2008 R2" row).
_ALIASES = {"2008": "2008R2", "2008 R2": "2008R2", "2012 R2": "2012R2"}


@lru_cache(maxsize=1)
def _data() -> dict:
    with open(DATA, encoding="utf-8") as fh:
        return json.load(fh)


def server_labels() -> list[str]:
    return list(_data()["server_labels"])


def cal_labels() -> list[str]:
    return list(_data()["cal_labels"])


def normalize(label: Optional[str]) -> Optional[str]:
    """'2012 R2' / '2012r2' / 2019 -> the table label, or None when unknown."""
    if label is None:
        return None
    text = str(label).strip().upper().replace(" ", "")
    text = _ALIASES.get(text, text)
    if text == "2008":
        text = "2008R2"
    return text if text in server_labels() else None


def cal_label(label: Optional[str]) -> Optional[str]:
    """A CAL version label; a 2012 R2 CAL does not exist (2012 CALs serve both)."""
    lab = normalize(label)
    if lab == "2012R2":
        lab = "2012"
    return lab if lab in cal_labels() else None


def version_order(label: Optional[str]) -> Optional[int]:
    lab = normalize(label)
    return server_labels().index(lab) if lab else None


def compat_document() -> dict:
    """``{"session_host": {HOST: {CAL: bool}}, "license_server": {LS: {CAL: bool}}}``."""
    d = _data()
    return {side: {row: dict(d[side][row]) for row in d["server_labels"]}
            for side in ("session_host", "license_server")}


def session_host_accepts(host_label: str, cal: str) -> Optional[bool]:
    """Does a session host of this OS accept CALs of this version? None when a label is unknown."""
    host, c = normalize(host_label), cal_label(cal)
    if host is None or c is None:
        return None
    return bool(_data()["session_host"][host][c])


def license_server_accepts(ls_label: str, cal: str) -> Optional[bool]:
    """Can a license server of this OS hold and issue CALs of this version?"""
    ls, c = normalize(ls_label), cal_label(cal)
    if ls is None or c is None:
        return None
    return bool(_data()["license_server"][ls][c])


def render_tables() -> str:
    """Both tables as aligned text (Yes/No), as in the seed article."""
    out = []
    for side, title in (("session_host", "Session host \\ CAL"), ("license_server", "License server \\ CAL")):
        cals = cal_labels()
        out.append(f"{title:<22}" + "".join(f"{c:>8}" for c in cals))
        for row in server_labels():
            cells = _data()[side][row]
            out.append(f"{row:<22}" + "".join(f"{('Yes' if cells[c] else 'No'):>8}" for c in cals))
        out.append("")
    out.append("Source: seed article tables (2008 R2..2019) + Microsoft 'RDS CAL version compatibility' (2022, 2025).")
    return "\n".join(out)
