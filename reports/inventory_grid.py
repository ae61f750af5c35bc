"""``rdsla inventory``: which expected artifact each machine brought (a host x item grid) and
the ask-list that follows from it, with the artifact paths relative to the input.

What a machine of each role is expected to bring, whether the bundle holds it and the command
that collects it are :mod:`core.coverage`'s (``ITEMS``, ``Coverage.states``,
``collect_line``); this module only lays them out. Machines that no artifact came from (named
only in another machine's configuration or events) get no column and no asks: a retired or
foreign server is not something to collect from on rdsla's word.
"""
from __future__ import annotations

from typing import Iterable, Optional

from rdsla.core import coverage
from rdsla.core.model import HostProfile

MARKS = {"collected": "✓", "missing": "✗", "by_keys": "k", None: "·"}
ASCII_MARKS = {"collected": "Y", "missing": "N", "by_keys": "k", None: "."}
ROLE_NAMES = {"session_host": "session host", "licensing": "license server", "connection_broker": "connection broker",
              "gateway": "gateway", "web_access": "web access"}


def roles_of(p: HostProfile) -> set[str]:
    return {r for r, f in p.roles.items() if f is not None and f.value}


def coverage_grid(hosts: Iterable[HostProfile]) -> dict:
    """``{"hosts": [names], "items": [{"id", "label", "states": {host: state|None}}], "ask": [...],
    "named_only": [names]}``; state None: not expected of that machine's roles. ``ask``: one
    ``{"host", "roles", "item", "label", "command"}`` per missing item, by host."""
    columns, named_only, states = [], [], {}
    for p in hosts:
        if p.coverage is None or (p.coverage.empty and not p.artifacts):
            named_only.append(p.name)
            continue
        columns.append(p)
        states[p.name] = dict((item.id, state) for item, state in p.coverage.states(roles_of(p)))
    items = []
    for item in coverage.ITEMS:
        row = {p.name: states[p.name].get(item.id) for p in columns}
        if any(v is not None for v in row.values()):
            items.append({"id": item.id, "label": item.label, "states": row})
    ask = []
    for p in columns:
        roles = sorted(roles_of(p))
        for item in coverage.ITEMS:
            if item.id == "hive.software" and states[p.name].get("key.policy") == "missing":
                continue        # the policy key's command offers the SOFTWARE hive already: asked once
            if states[p.name].get(item.id) == "missing":
                ask.append({"host": p.name, "roles": roles, "item": item.id, "label": item.label,
                            "command": item.command.format(host=p.name),
                            "note": item.note.format(host=p.name)})
    return {"hosts": [p.name for p in columns], "items": items, "ask": ask, "named_only": named_only}


def relative_path(path: str, inputs: list[str]) -> str:
    """An artifact's path without its input's name when the bundle is one input
    (``cals-exhausted/MSRD-Results-LS01/...`` -> ``MSRD-Results-LS01/...``, ``x.zip!/a/b`` ->
    ``a/b``); with several inputs the input's name stays, it tells them apart."""
    if len(inputs) != 1:
        return path
    name = inputs[0]
    for prefix in (name + "!/", name + "/"):
        if path.startswith(prefix) and len(path) > len(prefix):
            return path[len(prefix):]
    return path


def input_names(paths: Iterable[str]) -> list[str]:
    """The names artifact paths start with: each input's last path component."""
    out = []
    for p in paths:
        name = str(p).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        if name:
            out.append(name)
    return out


def render_inventory(hosts: list[dict], grid: dict, artifacts: list[dict], inputs: list[str],
                     ascii_only: bool = False) -> str:
    """The text of ``rdsla inventory``: hosts, the grid with its legend, the ask-list grouped by
    host, then every artifact (whole paths, relative to the input)."""
    marks = ASCII_MARKS if ascii_only else MARKS
    lines = [f"{len(hosts)} host(s): " + ", ".join(
        h["name"] + (f" ({', '.join(h['aliases'])})" if h["aliases"] else "") for h in hosts)]
    if grid["hosts"]:
        lines += ["", f"EXPECTED ARTIFACTS PER HOST ({marks['collected']} in the bundle, {marks['missing']} missing, "
                      f"{marks['by_keys']} its keys exported instead, {marks[None]} not expected of the host's roles)"]
        width = max(len(i["label"]) for i in grid["items"]) if grid["items"] else 4
        width = min(width, 70)
        cols = [max(len(h), 3) for h in grid["hosts"]]
        lines.append(f"{'ITEM':<{width}}  " + "  ".join(f"{h:^{w}}" for h, w in zip(grid["hosts"], cols)))
        for item in grid["items"]:
            label = item["label"] if len(item["label"]) <= width else item["label"][:width - 1] + "…"
            lines.append(f"{label:<{width}}  " + "  ".join(
                f"{marks[item['states'][h]]:^{w}}" for h, w in zip(grid["hosts"], cols)))
        lines += ["", "ASK THE CUSTOMER FOR" if grid["ask"] else "Nothing to ask for: every expected artifact is in the bundle."]
        current: Optional[str] = None
        for a in grid["ask"]:
            if a["host"] != current:
                current = a["host"]
                roles = ", ".join(ROLE_NAMES.get(r, r) for r in a["roles"]) or "no RDS role seen"
                lines.append(f"{current} ({roles}):")
            lines.append(f"  {a['label']}: {a['command']}" + (f" ({a['note']})" if a.get("note") else ""))
    if grid["named_only"]:
        lines += ["", "Named in the bundle, no artifact from them: " + ", ".join(grid["named_only"])]
    lines += ["", f"ARTIFACTS (paths relative to {inputs[0]})" if len(inputs) == 1 else "ARTIFACTS"]
    rel = [a["relative_path"] for a in artifacts]
    width = max([len(p) for p in rel] + [4])
    lines.append(f"{'PATH':<{width}}  {'KIND':<14} {'HOST':<15} {'STATUS':<8} {'READ':>8} {'LOST':>6}  WARNINGS")
    for a, path in zip(artifacts, rel):
        warn = "; ".join(a["warnings"])
        lines.append(f"{path:<{width}}  {a['kind']:<14} {(a['host'] or '-'):<15} {a['status']:<8} "
                     f"{a['records_read']:>8} {a['records_lost']:>6}  {warn}".rstrip())
    return "\n".join(lines)
