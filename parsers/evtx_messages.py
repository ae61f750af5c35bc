"""Event Viewer's rendered messages from LocaleMetaData/*.MTA companions (issue 4, item 5).

"Save All Events As..." writes LocaleMetaData/<name>_<locale>.MTA beside the .evtx: itself an
EVTX file whose records carry ``RenderingInfo/Message``, the text Event Viewer showed on the
source machine. Those texts win over the catalog's templates; they are matched by record
number (and checked against the event id).
"""
from __future__ import annotations

import io
import json
from typing import Optional


def load_messages(companions, warn) -> dict[int, tuple[Optional[int], str]]:
    """record_id -> (event_id, message) from every MTA companion; bad ones are warnings."""
    out: dict[int, tuple[Optional[int], str]] = {}
    for comp in companions or ():
        if not comp.name.upper().endswith(".MTA"):
            continue
        try:
            out.update(_read_mta(comp))
        except Exception as exc:  # a damaged companion must not cost the log itself
            warn(f"{comp.display}: messages not read ({type(exc).__name__}: {exc})")
    return out


def _read_mta(comp) -> dict[int, tuple[Optional[int], str]]:
    import evtx
    src = comp.local_path or io.BytesIO(comp.read_bytes())
    out = {}
    it = evtx.PyEvtxParser(src).records_json()
    while True:
        try:
            rec = next(it)
        except StopIteration:
            break
        except Exception:
            continue
        if "RenderingInfo" not in rec["data"]:
            continue
        event = json.loads(rec["data"]).get("Event") or {}
        info = event.get("RenderingInfo") or {}
        message = info.get("Message")
        if not isinstance(message, str):
            continue
        system = event.get("System") or {}
        eid = system.get("EventID")
        if isinstance(eid, dict):
            eid = eid.get("#text")
        rid = system.get("EventRecordID", rec.get("event_record_id"))
        try:
            out[int(rid)] = (int(eid) if eid is not None else None, message)
        except (TypeError, ValueError):
            continue
    return out
