"""Geometry of the inline SVG timeline: licensing events per host over time, by level.

Events are counted in time bins per host and level lane (error / warning / info), so the SVG
stays small for any number of events. Grace-period ends and the collection time are marked.
The window of current evidence (``--window`` days before the collection time, DESIGN.md "Time")
is a shaded band ending at the collection time, set off from the history left of it by a line;
events newer than the collection time (an ``--as-of`` before the newest event) are counted apart,
neither current nor history. The collection time is always on the scale.
Only numbers and display strings leave this module; the template draws (and escapes) them.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from rdsla.core.model import Analysis
from rdsla.core import catalog
from rdsla.core.needs import Needs

# The timeline and the report's events section show every licensing event of the catalog as
# context, also those no rule reads (LS 44 and 16, benign noise; LS 70-76 group changes...):
# declared here so that the parsers keep them for the report. Clock events (family "clock") are
# kept only for RDSLIC-004, which names them; they are no licensing events of the timeline.
NEEDS = Needs.of(events=(e.key for e in catalog.load_catalog() if catalog.family(e) in ("rcm", "ls", "scm")))

WIDTH = 1100
LABEL_W = 150
PLOT_X0, PLOT_X1 = 160, 1080
TOP = 24
LANE_H = 11
BAND_GAP = 8
BINS = 120
MAX_HOSTS = 20
STEPS = 4   # intensity steps (fill opacity) of a bin, log scale of its count
LANES = (("error", "errors and critical"), ("warning", "warnings"), ("info", "information"))


def _lane(levels: pd.Series) -> np.ndarray:
    lv = levels.to_numpy(dtype="float64", na_value=4.0)
    return np.where((lv == 1) | (lv == 2), 0, np.where(lv == 3, 1, 2))


def _ns(when) -> int:
    ts = pd.Timestamp(when)
    return int((ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).value)


def _label(ns: int, span_ns: int) -> str:
    d = datetime.fromtimestamp(ns / 1e9, timezone.utc)
    day = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    return f"{day} {d.hour:02d}:{d.minute:02d}" if span_ns < 3 * 86400 * 10**9 else day


def _duration(ns: int) -> str:
    minutes = ns / 60e9
    if minutes < 120:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def layout(analysis: Analysis) -> dict:
    """Shapes of the timeline (viewBox units) or ``{"empty": True}`` without timed events."""
    ev = analysis.frames["events"]
    ev = ev[ev["time"].notna()] if len(ev) else ev
    as_of = _ns(analysis.as_of)
    grace = {h.name: _ns(h.grace_period.ends.value) for h in analysis.hosts
             if h.grace_period.ends is not None and isinstance(h.grace_period.ends.value, (datetime, pd.Timestamp))}
    if not len(ev):
        return {"empty": True, "reason": "no licensing events with a time stamp in the bundle"}
    codes, names = pd.factorize(ev["host"].fillna("(unknown host)"), sort=True)
    names = [str(n) for n in names]
    per_host = np.bincount(codes, minlength=len(names))
    top = sorted(np.argsort(-per_host, kind="stable")[:MAX_HOSTS].tolist(), key=lambda i: names[i])
    hosts = [names[i] for i in top]
    t = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64")  # no NaT left
    t0, t1 = min(int(t.min()), as_of), max(int(t.max()), as_of)
    span = max(t1 - t0, 3600 * 10**9)
    reach = max(span * 2, 14 * 86400 * 10**9)
    for g in grace.values():
        if t0 - reach <= g <= t1 + reach:
            t0, t1 = min(t0, g), max(t1, g)
    span = max(t1 - t0, 3600 * 10**9)
    t1 = t0 + span

    def x(ns: int) -> float:
        return round(PLOT_X0 + (ns - t0) / span * (PLOT_X1 - PLOT_X0), 1)

    slot = np.full(len(names), -1, dtype=np.int64)
    slot[top] = np.arange(len(top))
    rows = slot[codes]
    keep = rows >= 0
    bins = np.clip(((t[keep] - t0) / span * BINS).astype(np.int64), 0, BINS - 1)
    flat = (rows[keep] * 3 + _lane(ev["level"])[keep]) * BINS + bins
    counts = np.bincount(flat, minlength=len(top) * 3 * BINS)
    nonzero = np.flatnonzero(counts)
    peak = int(counts.max()) if len(nonzero) else 1
    bin_w = (PLOT_X1 - PLOT_X0) / BINS
    band_h = LANE_H * 3 + BAND_GAP
    bands = []
    for i, host in enumerate(hosts):
        y0 = TOP + i * band_h
        bands.append({"host": host, "y": y0, "label_y": y0 + LANE_H * 1.5 + 4,
                      "lanes": [{"y": y0 + j * LANE_H, "cls": name} for j, (name, _) in enumerate(LANES)],
                      "grace": None, "total": int(per_host[top[i]])})
        g = grace.get(host)
        if g is not None:
            inside = t0 <= g <= t1
            bands[-1]["grace"] = {"x": x(min(max(g, t0), t1)), "y1": y0 - 2, "y2": y0 + LANE_H * 3 + 2,
                                  "label": f"grace ends {_label(g, 0)}" + ("" if inside else " (off scale)")}
    # One path per host, lane and intensity step: a few hundred elements for any number of events.
    # Path data is made of numbers only; host names reach the template as separate strings.
    w = round(max(bin_w - 0.6, 1.0), 1)
    cells = []
    grid = counts.reshape(len(top), 3, BINS)
    for row, band in enumerate(bands):
        for lane in range(3):
            line = grid[row, lane]
            if not line.any():
                continue
            step = np.ceil(np.log1p(line) / np.log1p(peak) * STEPS).astype(int) if peak > 1 else (line > 0) * STEPS
            y = band["y"] + lane * LANE_H + 1
            for level in range(1, STEPS + 1):
                idx = np.flatnonzero(step == level)
                if not len(idx):
                    continue
                d = " ".join(f"M{round(PLOT_X0 + int(b) * bin_w, 1)} {y}h{w}v{LANE_H - 2}h-{w}z" for b in idx.tolist())
                cells.append({"d": d, "cls": LANES[lane][0], "opacity": f"{0.3 + 0.7 * level / STEPS:.2f}",
                              "title": f"{band['host']}: {int(line[idx].sum())} {LANES[lane][1]} "
                                       f"in {len(idx)} period(s) of {_duration(span // BINS)}"})
    height = TOP + len(bands) * band_h + 26
    ticks = [{"x": x(t0 + k * span // 5), "label": _label(t0 + k * span // 5, span),
              "anchor": "start" if k == 0 else "end" if k == 5 else "middle"} for k in range(6)]
    # current evidence (the window before the collection time) vs history (DESIGN.md "Time")
    days = float(getattr(analysis, "window_days", None) or 7)
    since = as_of - int(days * 86400 * 10**9)
    n_current = int(((t >= since) & (t <= as_of)).sum())
    n_after = int((t > as_of).sum())
    current = {"x": x(max(since, t0)), "width": round(max(x(min(as_of, t1)) - x(max(since, t0)), 0.0), 1),
               "y": TOP - 6, "height": len(bands) * band_h + 6, "days": f"{days:g}",
               "events": n_current, "history": int(len(t) - n_current - n_after), "after": n_after,
               "starts": _label(since, 0), "label_x": x(max(since, t0)) + 3,
               # the line between history and current: only where history is on the scale
               "boundary": x(since) if since > t0 else None, "history_width": round(x(since) - PLOT_X0, 1)
               if since > t0 else 0.0}
    current["narrow"] = current["width"] < 70
    return {
        "empty": False, "width": WIDTH, "height": height, "label_w": LABEL_W, "x0": PLOT_X0, "x1": PLOT_X1,
        "axis_y": height - 20, "tick_y": height - 6, "bands": bands, "cells": cells, "ticks": ticks,
        "as_of": {"x": x(as_of), "label": f"collected {_label(as_of, 0)}"}, "current": current,
        "hosts_left_out": max(0, len(names) - len(hosts)), "events": int(keep.sum()),
        "start": _label(t0, 0), "end": _label(t1, 0),
    }

