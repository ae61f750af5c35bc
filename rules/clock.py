"""Clock skew around licensing errors: evidence that RDSLIC-004 names, not a rule (issue 19).

Kerberos refuses a ticket when two clocks differ by more than MaxClockSkew (default 5 minutes,
[MS-GPSB] 2.2.2 "Kerberos Policy"); a session host or license server whose clock is that far off
cannot authenticate its calls to the license server, so 1131s appear although the service runs
and the port is open. Kernel-General 1 records every setting of the clock with NewTime and
OldTime: a correction beyond the tolerance near the errors says the clock had been off by that
much until then. W32Time 36 (not synchronized for a long time, KB 328621), 129 (no domain
time source) and 134 (the manual time source does not resolve) say the time service was not
keeping the clock right. Windows logs no event with the skew itself, so these are evidence for
the cause 004 names, never a cause of their own (RDS_LICENSING.md 5 #19).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Optional

from rdsla.core.evidence import event_evidence
from rdsla.core.model import Evidence

if TYPE_CHECKING:
    from rdsla.rules.context import Context

# catalog keys a rule that uses this module declares in RuleMeta.events
CLOCK_EVENTS = ("system_time_changed", "time_service_unsynchronized", "time_service_no_domain_source",
                "time_service_peer_dns_error")
KERBEROS_MAX_SKEW = timedelta(minutes=5)     # [MS-GPSB] 2.2.2 MaxClockSkew, the default
NEAR = timedelta(hours=24)                   # how far from the errors a clock event still speaks of them
TIME_SERVICE_TROUBLE = (36, 129, 134)


@dataclass(frozen=True)
class ClockCorrection:
    """One setting of a host's clock by more than Kerberos tolerates."""

    host: str
    at: datetime
    off_by: timedelta            # NewTime - OldTime: positive, the clock had been behind
    evidence: Evidence

    def describe(self) -> str:
        way = "behind" if self.off_by > timedelta(0) else "ahead"
        return (f"the clock of {self.host} was {duration(abs(self.off_by))} {way} until {self.at:%Y-%m-%d %H:%M} "
                f"(Kernel-General 1 set it then)")


def duration(span: timedelta) -> str:
    """'47 min', '2 h 5 min', '3 days'."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"


def _when(text) -> Optional[datetime]:
    import pandas as pd
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def corrections(ctx: Context, host: str, start, end) -> list[ClockCorrection]:
    """Clock settings of ``host`` between ``start`` and ``end`` larger than Kerberos' tolerance."""
    changed = ctx.events(host, "clock", [1])
    if not len(changed):
        return []
    changed = changed[(changed["time"] >= start) & (changed["time"] <= end)]
    out = []
    for _, row in changed.iterrows():
        data = row["data"] if isinstance(row["data"], dict) else {}
        new, old = _when(data.get("NewTime")), _when(data.get("OldTime"))
        if new is None or old is None or abs(new - old) <= KERBEROS_MAX_SKEW:
            continue
        out.append(ClockCorrection(host, row["time"].to_pydatetime(), new - old,
                                   event_evidence(row, f"clock set by {duration(abs(new - old))}")))
    return out


def time_service_trouble(ctx: Context, host: str, start, end):
    """W32Time 36/129/134 of ``host`` between ``start`` and ``end`` (the clock not kept right)."""
    ev = ctx.events(host, "clock", TIME_SERVICE_TROUBLE)
    if not len(ev):
        return ev
    return ev[(ev["time"] >= start) & (ev["time"] <= end)]


def skew_around(ctx: Context, hosts: list[str], errors) -> tuple[list[str], list[Evidence]]:
    """Sentences and evidence on the clocks of ``hosts`` within a day of the ``errors`` (an events frame)."""
    if not len(errors):
        return [], []
    start, end = errors["time"].min() - NEAR, errors["time"].max() + NEAR
    said, evidence = [], []
    for host in dict.fromkeys(hosts):
        found = corrections(ctx, host, start, end)
        if found:
            biggest = max(found, key=lambda c: abs(c.off_by))
            said.append(biggest.describe())
            evidence.append(biggest.evidence)
        trouble = time_service_trouble(ctx, host, start, end)
        if len(trouble):
            ids = "/".join(str(i) for i in sorted({int(i) for i in trouble["_legacy"]}))
            said.append(f"the time service of {host} was not synchronizing (W32Time {ids} x{len(trouble)})")
            evidence.append(event_evidence(trouble.iloc[-1], "time service not synchronizing"))
    return said, evidence
