"""The first fix step of each detected cause, naming this bundle's hosts and values (issue 23 item 4).

A support engineer should read "point RDSH02 at LS01, which RDSH01 uses successfully", not
"make sure the license server is reachable". The templates are data
(``rules/data/specific_fixes.json``); here the fields are read from the evidence the analysis
holds: the licensing paths (``analysis.licensing_paths``), the host profiles' candidates with
their origin (Group Policy vs deployment, RDS_LICENSING.md 2.2 "Precedence"), the key packs and
the license servers' facts. A template whose fields the bundle does not supply is skipped; the
general steps stay after the specific one.
"""
from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path
from typing import Optional

from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import LICENSING_MODES, SOURCE_DEPLOYMENT, SOURCE_GROUP_POLICY, Analysis, Finding, HostProfile
from rdsla.analyzer.licensing_path import MODE_LABELS, SOURCE_LABELS, LicensingPath

DATA = Path(__file__).resolve().parents[1] / "rules" / "data" / "specific_fixes.json"


@lru_cache(maxsize=1)
def templates() -> dict[str, list[str]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))       # rdsla/rules/data beside rdsla/analyzer
    return {k: list(v) for k, v in data.items() if not k.startswith("_")}


def apply(analysis: Analysis) -> None:
    """Put the specific first step ahead of each detected cause's general remediation."""
    packs = purchased_packs(analysis)        # read once for every cause, not per cause and field
    for f in analysis.findings:
        if f.state != "detected" or f.kind != "cause":
            continue
        step = first_step(analysis, f, packs)
        if step and (not f.remediation or f.remediation[0] != step):
            f.remediation = [step, *f.remediation]


def first_step(analysis: Analysis, f: Finding, packs: Optional[dict] = None) -> Optional[str]:
    values = fields(analysis, f, packs)
    for template in templates().get(f.rule_id, []):
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        if all(values.get(n) for n in names):
            return template.format(**values)
    return None


def fields(analysis: Analysis, f: Finding, packs: Optional[dict] = None) -> dict[str, str]:
    """The values the templates may name, as text; a missing one is absent. ``packs``: the
    purchased packs by license server (:func:`purchased_packs`), read here when not given."""
    packs = purchased_packs(analysis) if packs is None else packs
    paths = {p.host: p for p in analysis.licensing_paths}
    me = analysis.host(f.host) if f.host else None
    if f.host in paths or (me is not None and me.has_role("session_host")):
        sh_name = f.host
        path = paths.get(sh_name)
        ls_name = (path.license_server if path else None) or next(iter(f.related_hosts), None)
    else:                                      # a license server's cause: its session host is a related one
        ls_name = f.host
        sh_name = next((h for h in f.related_hosts if h in paths), None) or \
            next((p.host for p in paths.values() if p.license_server == ls_name), None)
        path = paths.get(sh_name) if sh_name else None
    sh = analysis.host(sh_name) if sh_name else None
    ls = analysis.host(ls_name) if ls_name else None
    out: dict[str, str] = {"host": sh_name or "", "ls": ls_name or ""}
    good = _working(paths.values(), exclude=sh_name, avoid=ls_name)
    if good is not None:
        out["good_ls"], out["good_host"] = good.license_server, good.host
    bundle_ls = _serving_ls(analysis, packs, avoid=ls_name)
    if bundle_ls is not None:
        out["bundle_ls"], out["bundle_ls_state"] = bundle_ls
    if sh is not None:
        out.update(_configuration(sh, analysis, packs))
        if sh.os_version is not None and sh.os_version.value:
            out["host_version"] = str(sh.os_version.value)
    if ls is not None:
        out.update(_license_server(ls, packs))
    if path is not None and path.mode:
        out.setdefault("want_type", MODE_LABELS.get(path.mode, ""))
    if path is not None and path.free is not None and path.total is not None:
        out["free"], out["total"] = str(path.free), str(path.total)
    clients = [str((e.detail or {}).get("issued_to")) for e in f.evidence
               if e.frame == "issued" and (e.detail or {}).get("issued_to")]
    if clients:
        out["clients"] = ", ".join(dict.fromkeys(clients))
    if "ls_state" not in out and ls_name:
        out["ls_state"] = "nothing of it in the bundle"
    if f.host == sh_name and out.get("cal_types") and "want_mode" not in out and sh is not None:
        types = {t for t in out.get("_types", "").split(",") if t}
        if len(types) == 1:
            out["want_mode"] = MODE_LABELS[types.pop()]
    out.pop("_types", None)
    return {k: v for k, v in out.items() if v}


def _working(paths, exclude: Optional[str], avoid: Optional[str]) -> Optional[LicensingPath]:
    """A session host's path that works, to another license server than the failing one."""
    for p in paths:
        if p.host != exclude and p.ok and p.license_server and p.license_server != avoid:
            return p
    return None


def _serving_ls(analysis: Analysis, packs_of: dict, avoid: Optional[str]) -> Optional[tuple[str, str]]:
    """A license server of the bundle whose service runs and which holds purchased CALs."""
    for h in analysis.hosts:
        if not h.has_role("licensing") or h.name == avoid:
            continue
        state = h.license_server.service_state
        running = state is not None and str(state.value).lower() == "running"
        packs = _packs(packs_of, h.name)
        if running and packs:
            return h.name, f"in this bundle: service running, {packs} installed"
    return None


def purchased_packs(analysis: Analysis) -> dict[Optional[str], list]:
    """The purchased key packs (core.cal_counts.permanent) of each license server, as rows in
    frame order: the key-pack frame is read once per analysis."""
    kp = analysis.frames.get("keypacks")
    if kp is None or not len(kp):
        return {}
    from rdsla.core.cal_counts import permanent
    from rdsla.core.evidence import rows
    out: dict[Optional[str], list] = {}
    for r in rows(permanent(kp)):
        out.setdefault(canonical(r["license_server"] or ""), []).append(r)
    return out


def _packs(packs_of: dict, ls_name: str) -> str:
    """'2019 Per User, 2022 Per Device': the purchased packs of a license server."""
    from rdsla.rules.pack.cal_pool import TYPE_LABEL
    labels = [f"{r['cal_version']} {TYPE_LABEL.get(r['cal_type'], r['cal_type'])}" for r in packs_of.get(ls_name, ())
              if isinstance(r["cal_version"], str) and isinstance(r["cal_type"], str)]
    return ", ".join(dict.fromkeys(labels))


def _mode_text(value) -> str:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    name = LICENSING_MODES.get(number)
    return f"{number} ({MODE_LABELS.get(name, name) if name else 'unknown'})"


def _configuration(sh: HostProfile, analysis: Analysis, packs_of: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in sh.license_server_candidates:
        names = ", ".join(license_server_names(c.value))
        if c.origin == SOURCE_GROUP_POLICY and names:
            out["policy_value"] = f"LicenseServers = {', '.join(str(v) for v in _as_list(c.value))}"
        elif c.origin == SOURCE_DEPLOYMENT and names:
            out["deployment_value"] = names
            first = license_server_names(c.value)[0]
            target = analysis.host(first)
            if target is not None:
                state = target.license_server.service_state
                packs = _packs(packs_of, first)
                bits = [f"service {state.value}" if state is not None else "", f"{packs} installed" if packs else ""]
                out["deployment_ls_state"] = f"in this bundle: {', '.join(b for b in bits if b) or 'no license-server facts'}"
    for c in sh.licensing_mode_candidates:
        if c.origin == SOURCE_GROUP_POLICY:
            out["policy_mode"] = f"LicensingMode = {_mode_text(c.value)}"
        elif c.origin == SOURCE_DEPLOYMENT:
            out["deployment_mode"] = _mode_text(c.value)
    if sh.license_servers is not None and sh.license_servers.value:
        origin = SOURCE_LABELS.get(sh.license_servers.origin, sh.license_servers.origin)
        out["servers_value"] = f"{', '.join(str(v) for v in _as_list(sh.license_servers.value))} ({origin})"
    if sh.licensing_mode is not None:
        name = sh.mode_name or ""
        out["mode"] = MODE_LABELS.get(name, name) if name in ("per_user", "per_device", "aad_per_user") \
            else _mode_text(sh.licensing_mode.value)
        out["mode_source"] = SOURCE_LABELS.get(sh.licensing_mode.origin, sh.licensing_mode.origin) \
            if sh.licensing_mode.origin != "wmi_export" else "WMI export"
    if sh.licensing_certificate is not None and sh.licensing_certificate.value:
        names = [str((e.detail or {}).get("value") or (e.locator or {}).get("value") or "")
                 for e in sh.licensing_certificate.evidence]
        out["cert_values"] = ", ".join(n for n in dict.fromkeys(names) if n)
    return out


def _license_server(ls: HostProfile, packs_of: dict) -> dict[str, str]:
    facts = ls.license_server
    out: dict[str, str] = {}
    packs = _packs(packs_of, ls.name)
    out["cal_types"] = packs or "no purchased CALs"
    if packs_of:
        out["_types"] = ",".join(sorted({r["cal_type"] for r in packs_of.get(ls.name, ()) if r["cal_type"] is not None}))
    version = facts.version or ls.os_version
    if version is not None and version.value:
        out["ls_version"] = str(version.value)
    prevent = getattr(facts, "prevent_license_upgrade", None)
    if prevent is not None:
        out["prevent_upgrade"] = str(prevent.value)
    wg = facts.disable_workgroup_auth_enforcement
    out["workgroup_enforcement"] = "not set (enforced)" if wg is None else f"{wg.value}"
    if facts.activation_status is not None:
        out["activation"] = str(facts.activation_status.value).replace("_", " ")
    if facts.service_start_type is not None:
        start = str(facts.service_start_type.value)
        out["start"] = {"2": "2 (Automatic)", "3": "3 (Manual)", "4": "4 (Disabled)"}.get(start, start)
    state = facts.service_state
    if state is not None:
        out["state"] = str(state.value)
    bits = [f"service {state.value}" if state is not None else "", f"{packs} installed" if packs else ""]
    if any(bits):
        out["ls_state"] = ", ".join(b for b in bits if b)
    return out


def _as_list(value) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] if value else []
