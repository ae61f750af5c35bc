"""Small helpers the pack shares: registry paths the rules cite, evidence lists of events,
"1131/50283 x3" descriptions, a value that is absent, machine names in event data."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core.evidence import event_evidence, rows
from rdsla.core.hostnames import canonical
from rdsla.core.model import Evidence, HostProfile
from rdsla.rules.context import Context

POLICY_KEY = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services"
RCM_LICENSING_CORE = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\Licensing Core"
SPECIFIED_LS_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\TermService\\Parameters\\LicenseServers"

ORIGIN_LABEL = {"group_policy": "Group Policy", "deployment": "the deployment (RCM / Server Manager)",
                "wmi_export": "a WMI export", "registry": "the registry", "report": "a report", "event": "an event"}


def newest(df: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` newest rows (evidence lists stay short; counts go in the sentence)."""
    if not len(df):
        return df
    if df["time"].is_monotonic_increasing:      # the rules' events come sorted: no row is copied
        return df.tail(n)
    return df.sort_values("time", kind="stable").tail(n)


def newest_rows(records: list, n: int) -> list:
    """The ``n`` newest of these event rows (core.evidence.rows), as :func:`newest` picks them
    from a frame: a stable sort by time, a missing time last."""
    ordered = sorted(records, key=lambda r: (r["time"] is None, 0 if r["time"] is None else r["time"]))
    return ordered[-n:] if n > 0 else []


def events_evidence(df: pd.DataFrame, note: str = "", n: int = 5) -> list[Evidence]:
    return [event_evidence(row, note) for row in rows(newest(df, n))]


def id_list(df: pd.DataFrame) -> str:
    """'1131/50283 x3' style description of matched events."""
    import pandas as pd
    if not len(df):
        return ""
    # counted in Python (5x faster than a groupby on these few rows), in groupby's order:
    # event id, then legacy id, each ascending with a missing one last
    counts = Counter(zip(df["event_id"].astype("Int64").tolist(), df["_legacy"].astype("Int64").tolist()))
    parts = []
    for (eid, legacy), n in sorted(counts.items(), key=lambda item: _na_last(item[0])):
        label = str(eid) if pd.isna(legacy) or legacy == eid else f"{eid} (= {legacy})"
        parts.append(f"{label} x{n}")
    return ", ".join(parts)


def _na_last(key: tuple) -> tuple:
    import pandas as pd
    return tuple(part for value in key for part in ((True, 0) if value is pd.NA else (False, value)))


def absent_value_evidence(ctx: "Context", host: HostProfile, key: str, value: str) -> Evidence:
    """A registry value that is *not* there, cited against the hive/export that was read."""
    reg = ctx.frame("registry")
    src = ""
    if len(reg):
        mine = reg[reg["host"].fillna("").map(canonical) == host.name]
        hive = "SOFTWARE" if "\\SOFTWARE\\" in key.upper() else "SYSTEM"
        same = mine[mine["hive"].fillna("").str.upper().str.endswith(hive)]
        mine = same if len(same) else mine
        if len(mine) and mine["source"].notna().any():
            src = str(mine["source"].dropna().iloc[0])
    return Evidence(frame="registry", source=src, locator={"key": key, "value": value},
                    detail={"key": key, "value": value, "data": None, "state": "absent"},
                    note="value absent")


def of_catalog_keys(df: pd.DataFrame, keys) -> pd.DataFrame:
    """The rows whose catalog entry, decided with the record's data, is one of ``keys``: the same
    SCM ids (7036, 7031 ...) name every service, and only the data tells the licensing service
    or Remote Desktop Services apart (core.catalog data conditions). Missing provider or source
    names are None, never NA."""
    from rdsla.core.catalog import lookup
    if not len(df):
        return df
    keep = []
    for position, r in enumerate(rows(df)):
        data = r.get("data") if isinstance(r.get("data"), dict) else {}
        entry = lookup(r.get("provider"), int(r["event_id"]), data, source_name=r.get("source_name"))
        if entry is not None and entry.key in keys:
            keep.append(position)
    return df.iloc[keep]


def event_names(df: pd.DataFrame) -> list[str]:
    """Machine names mentioned in event data (first insertion strings), canonical."""
    import pandas as pd
    return names_in_data(df.get("data", pd.Series(dtype=object)))


def names_in_data(values) -> list[str]:
    """Machine names mentioned in these event data dicts, canonical (:func:`event_names` of one
    record without making a frame of it)."""
    out = []
    for data in values:
        if isinstance(data, dict):
            for v in data.values():
                if isinstance(v, str) and 0 < len(v.strip()) <= 255 and " " not in v.strip():
                    name = canonical(v)
                    if name and name not in out and not name.isdigit():
                        out.append(name)
    return out
