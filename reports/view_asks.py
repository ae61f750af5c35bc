"""The one "Ask the customer for" list: what to collect next, grouped by host, with the exact
commands, each asked once.

Gathered from the verdict's missing inputs and the not-checked findings' collect lines (both made
from ``core.coverage.ITEMS`` per host, or from ``rules.meta.COLLECT`` per role), resolved to the
machine they concern. DESIGN.md "Coverage before absence": an item the bundle holds from that
machine is never asked for (the check could not run on it, but asking again brings nothing new).
Nothing is asked from a license server the bundle shows retired (named only in configuration that
is not in effect) or unreachable (a detected cause says the session host cannot reach it): its logs
cannot explain more than that, and the fix replaces or reaches it first.

Part of the report view model (``reports.view`` assembles it); the Markdown summary reads it too.
"""
from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Optional

from rdsla.core import coverage
from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import Analysis, Finding, HostProfile
from rdsla.reports.view_format import text

# rules.meta.COLLECT (what a rule needs, by role) -> the machine it concerns and the coverage items
# that bring it; "log.session_host" is the licensing log of the host's version (RDS_LICENSING.md 1.1:
# System up to 2016, RemoteConnectionManager/Admin from 2019).
NEED_ITEMS = {
    "session_host.registry": ("session_host", ("key.terminal_server", "key.policy")),
    "session_host.events": ("session_host", ("log.session_host",)),
    "license_server.events": ("license_server", ("log.system", "log.lic_admin")),
    "license_server.reports": ("license_server", ("export.keypacks", "export.issued")),
    "license_server.registry": ("license_server", ("key.termservlicensing",)),
    "license_server.os": ("license_server", ("hive.software",)),
}
# Causes whose related license servers the session host cannot reach (RDS_LICENSING.md 5 #4).
UNREACHABLE_CAUSES = frozenset({"RDSLIC-004"})


@lru_cache(maxsize=1)
def _need_of_text() -> dict[str, str]:
    from rdsla.rules.meta import COLLECT
    return {line: key for key, line in COLLECT.items()}


def _parse_line(line: str) -> Optional[tuple[str, str]]:
    """``HOST: label: command`` (core.coverage.collect_line) -> (host, item id)."""
    host, sep, _rest = line.partition(": ")
    if not sep:
        return None
    for item in coverage.ITEMS:
        if coverage.collect_line(host, item.id) == line:
            return host, item.id
    return None


def _profile(analysis: Analysis, name: str) -> Optional[HostProfile]:
    key = canonical(name)
    for h in analysis.hosts:
        if h.name == name or canonical(h.name) == key or key in {canonical(a) for a in h.aliases}:
            return h
    return None


def _servers_of(h: Optional[HostProfile]) -> list[str]:
    return license_server_names(h.license_servers.value) if h is not None and h.license_servers is not None else []


def not_asked_servers(analysis: Analysis) -> dict[str, str]:
    """License servers nothing is asked from, with the reason: unreachable (a detected cause, or a
    session host's licensing path says so) or retired (named only in configuration that is not in
    effect on any session host)."""
    out: dict[str, str] = {}
    for f in analysis.findings:
        if f.state == "detected" and f.rule_id in UNREACHABLE_CAUSES:
            for name in f.related_hosts:
                if canonical(name):
                    out[canonical(name)] = f"unreachable from {f.host} ({f.rule_id})"
    for path in getattr(analysis, "licensing_paths", None) or []:      # analyzer.licensing_path
        step = getattr(path, "reachable", None)
        for name in license_server_names(getattr(path, "license_server", None)):
            if step is not None and step.value is False and name not in out:
                out[name] = f"unreachable from {path.host}" + (f": {text(step.note)}" if step.note else "")
    in_effect = {n for h in analysis.hosts for n in _servers_of(h)}
    for h in analysis.hosts:
        for cand in h.license_server_candidates:
            for name in license_server_names(cand.value):
                if name not in in_effect and name not in out and not _holds_anything(_profile(analysis, name)):
                    out[name] = f"named only in configuration not in effect on {h.name} ({text(cand.origin)})"
    return out


def _holds_anything(h: Optional[HostProfile]) -> bool:
    return h is not None and (bool(h.artifacts) or (h.coverage is not None and not h.coverage.empty))


def _is_license_server(analysis: Analysis, h: Optional[HostProfile], name: str) -> bool:
    if h is not None and h.has_role("licensing"):
        return True
    return canonical(name) in {n for p in analysis.hosts for n in _servers_of(p)}


def _collected(h: Optional[HostProfile], item_id: str) -> bool:
    """Does the bundle hold this item from this machine? A machine absent, or without recorded
    coverage (a profile built by hand), is not known to hold anything, so the item is asked for."""
    if h is None or h.coverage is None:
        return False
    return h.coverage.has(item_id)


def _item_ids(h: Optional[HostProfile], item_id: str) -> list[str]:
    if item_id != "log.session_host":
        return [item_id]
    version = text(h.os_version.value) if h is not None and h.os_version is not None else ""
    return list(coverage.licensing_log_items(version))


def _targets(analysis: Analysis, f: Finding, role: str) -> list[str]:
    if role == "session_host" or not f.host:
        return [f.host] if f.host else []
    h = _profile(analysis, f.host)
    if _is_license_server(analysis, h, f.host):
        return [f.host]
    return _servers_of(h)


def asks(analysis: Analysis) -> list[dict]:
    return _asks(analysis)[0]


def _asks(analysis: Analysis) -> tuple[list[dict], dict[str, str]]:
    """``[{"host", "items": [{"item", "label", "command", "needed", "rules"}]}]``: one entry per machine (in
    the order first asked), one item per thing to collect there, ``needed`` first (an input the
    verdict lacks to tell healthy from inconclusive, DESIGN.md); ``rules`` names the checks that
    would run with it; ``item`` is the ``core.coverage`` item id (None for a rule's free text)."""
    skip = not_asked_servers(analysis)
    suppressed: dict[str, str] = {}
    by_host: "OrderedDict[str, OrderedDict[str, dict]]" = OrderedDict()

    def add(host: str, item_id: str, why: str) -> None:
        h = _profile(analysis, host)
        name = h.name if h is not None else host
        if canonical(name) in skip:
            suppressed[canonical(name)] = skip[canonical(name)]
            return
        if _collected(h, item_id):
            return
        item = coverage.BY_ID[item_id]
        entry = by_host.setdefault(name, OrderedDict()).setdefault(item_id, {
            "item": item_id, "label": item.label, "command": item.command.format(host=name),
            "note": item.note.format(host=name), "rules": [], "needed": False})
        _note(entry, why)

    def add_text(host: str, line: str, why: str) -> None:
        entry = by_host.setdefault(host, OrderedDict()).setdefault(line, {"item": None, "label": line, "command": "", "note": "",
                                                                           "rules": [], "needed": False})
        _note(entry, why)

    for line in (analysis.verdict or {}).get("collect") or []:
        parsed = _parse_line(line)
        if parsed:
            add(parsed[0], parsed[1], "verdict")
        else:
            add_text("a session host", line, "verdict")
    for f in analysis.findings:
        if f.state != "not_checked":
            continue
        for line in f.collect:
            parsed = _parse_line(line)
            if parsed:
                add(parsed[0], parsed[1], f.rule_id)
                continue
            need = _need_of_text().get(line)
            if need is None:                 # free text from a rule: asked as written, for its host
                if f.host and canonical(f.host) in skip:
                    suppressed[canonical(f.host)] = skip[canonical(f.host)]
                else:
                    add_text(f.host or "the machine it concerns", line, f.rule_id)
                continue
            role, items = NEED_ITEMS[need]
            targets = _targets(analysis, f, role)
            if not targets:
                if role == "license_server" and f.host:
                    add_text(f"the license server of {f.host}", line, f.rule_id)
                continue
            for host in targets:
                h = _profile(analysis, host)
                for item in items:
                    for item_id in _item_ids(h, item):
                        add(host, item_id, f.rule_id)
    return [{"host": text(host), "items": [{"item": i["item"], "label": text(i["label"]), "command": text(i["command"]),
                                             "note": text(i.get("note", "")), "needed": i["needed"], "rules": [text(r) for r in i["rules"]]}
                                            for i in sorted(items.values(), key=lambda i: not i["needed"])]}
            for host, items in by_host.items() if items], suppressed


def _note(entry: dict, why: str) -> None:
    """Who asks: the verdict (an input that decides healthy or inconclusive: needed) or a rule."""
    if why == "verdict":
        entry["needed"] = True
    elif why and why not in entry["rules"]:
        entry["rules"].append(why)


def asks_text(groups: list[dict]) -> str:
    """The ask-list as plain text to paste into a mail to the customer (commands one per line)."""
    lines: list[str] = []
    for g in groups:
        lines.append(f"On {g['host']}:")
        for i in g["items"]:
            label = i["label"] + ("" if i["needed"] else " (for more checks: " + ", ".join(i["rules"]) + ")")
            lines.append(f"  # {label}" if i["command"] else f"  - {label}")
            if i["command"]:
                lines.append(f"  {i['command']}")
            if i.get("note"):
                lines.append(f"  # {i['note']}")
    return "\n".join(lines)


def skipped_view(analysis: Analysis) -> list[dict]:
    """The license servers something would have been asked from but is not, with why (shown
    under the list, so that the engineer sees the omission is deliberate)."""
    return asks_and_skipped(analysis)[1]


def asks_and_skipped(analysis: Analysis) -> tuple[list[dict], list[dict]]:
    """(:func:`asks`, :func:`skipped_view`) from one pass over the findings."""
    groups, suppressed = _asks(analysis)
    return groups, [{"host": text(name), "reason": text(reason)} for name, reason in suppressed.items()]
