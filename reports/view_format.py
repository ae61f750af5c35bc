"""Scalars for the templates: text, numbers, times, labels, facts; the label tables.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Optional

import numpy as np
import pandas as pd
from rdsla.core.model import LICENSING_MODES, Fact

EVENT_ROW_CAP = 2000
EVIDENCE_ROW_CAP = 12     # rows shown per evidence table of one finding

ORIGIN_LABELS = {
    "group_policy": "Group Policy", "deployment": "deployment (RCM / RDMS)", "wmi_export": "WMI export",
    "registry": "registry", "event": "event", "report": "licensing report", "file_name": "file name",
}
ROLE_LABELS = OrderedDict([
    ("session_host", "RD Session Host"), ("licensing", "RD Licensing"),
    ("connection_broker", "RD Connection Broker"), ("gateway", "RD Gateway"), ("web_access", "RD Web Access"),
])
LEVELS = {1: "critical", 2: "error", 3: "warning", 4: "info", 0: "info", 5: "verbose"}
STATE_LABELS = {"detected": "detected", "not_detected": "not detected", "not_checked": "not checked"}
CAL_TYPES = {"per_user": "per user", "per_device": "per device"}
VERSION_LABELS = {"2008R2": "2008 R2", "2012R2": "2012 R2"}



def is_missing(value: Any) -> bool:
    if type(value) is str or type(value) is int:
        return False
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return False


def fmt_time(value: Any) -> str:
    """A UTC timestamp as ``YYYY-MM-DD HH:MM:SSZ`` (strings pass through)."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):  # also pd.Timestamp
        if value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(timezone.utc)
        return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
                f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z")
    return str(value)


def text(value: Any) -> str:
    """Any value as display text ('' when missing); never markup."""
    if type(value) is str:
        return value
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return "yes" if value else "no"
    if isinstance(value, (pd.Timestamp, datetime)):
        return fmt_time(value)
    if isinstance(value, dict):
        return "; ".join(f"{text(k)}={text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(text(v) for v in items)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def number(value: Any) -> Optional[int]:
    if type(value) is int:
        return value
    if is_missing(value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def version_label(label: Any) -> str:
    return VERSION_LABELS.get(text(label), text(label))


def origin_label(origin: Any) -> str:
    return ORIGIN_LABELS.get(text(origin), text(origin))


def confidence_word(confidence: float) -> str:
    return "high" if confidence >= 0.75 else "medium" if confidence >= 0.5 else "low"


def mode_label(value: Any) -> str:
    if is_missing(value):
        return ""
    try:
        return f"{LICENSING_MODES.get(int(value), 'unknown').replace('_', ' ')} ({int(value)})"
    except (TypeError, ValueError):
        return text(value)


def fact_view(fact: Optional[Fact], render=text) -> Optional[dict]:
    if fact is None:
        return None
    return {"value": render(fact.value), "origin": origin_label(fact.origin),
            "sources": sorted({e.source for e in fact.evidence if e.source})}
