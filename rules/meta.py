"""Rule metadata (a frozen dataclass), the pack's registration decorator, remediation texts,
and what to collect when an input is missing. Everything a rule *is*, nothing it does."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional

from rdsla.core import catalog
from rdsla.core.model import KINDS, SEVERITIES, Finding
from rdsla.core.needs import Needs

if TYPE_CHECKING:
    from rdsla.rules.context import Context

SCOPES = ("session_host", "license_server", "bundle")


# What to collect when an artifact is missing (used in not_checked findings' ``collect``).
COLLECT = {
    "session_host.registry": "the session host's SYSTEM and SOFTWARE hives (reg save HKLM\\SYSTEM system.hiv; "
                             "reg save HKLM\\SOFTWARE software.hiv) or reg export of HKLM\\SYSTEM\\CurrentControlSet\\"
                             "Control\\Terminal Server and HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services",
    "session_host.events": "the session host's System log and RemoteConnectionManager/Admin log (wevtutil epl System "
                           "System.evtx; wevtutil epl Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin "
                           "RCM-Admin.evtx)",
    "license_server.events": "the license server's System log and TerminalServices-Licensing/Admin log (wevtutil epl "
                             "System System.evtx; wevtutil epl Microsoft-Windows-TerminalServices-Licensing/Admin "
                             "Licensing-Admin.evtx)",
    "license_server.reports": "the license server's installed key packs and issued licenses (MSRD-Collect "
                              "<host>_rdls_LicenseKeyPacks.html and <host>_rdls_IssuedLicenses.html, or "
                              "Get-CimInstance Win32_TSLicenseKeyPack | Export-Csv)",
    "license_server.registry": "the license server's SYSTEM and SOFTWARE hives (or reg export of HKLM\\SYSTEM\\"
                               "CurrentControlSet\\Services\\TermServLicensing)",
    "license_server.os": "the license server's SOFTWARE hive (OS version) or an RD Licensing report naming its version",
}


@dataclass(frozen=True)
class RuleMeta:
    """What a rule is: stable id, title, severity, kind, what it needs, where it comes from."""

    id: str
    title: str
    severity: str
    kind: str                                   # cause | symptom | info
    scope: str = "session_host"                 # which hosts it runs on: session_host | license_server | bundle
    requires: tuple[str, ...] = ()              # keys of COLLECT (artifact needs)
    references: tuple[str, ...] = ()            # seed article sections, RDS_LICENSING.md, Microsoft docs
    description: str = ""
    events: tuple[str, ...] = ()                # event catalog keys it reads (the parsers keep them)
    # relations the verdict reads (DESIGN.md, "Ranking between overlapping causes"):
    outranks: tuple[str, ...] = ()              # general causes this specific one explains better
    blocks_licensing: bool = True               # a cause that stops CALs being issued (not reporting only)
    only_blocking_causes: bool = False          # a symptom that only causes which block licensing explain
    remediation: tuple[str, ...] = ()           # fix steps; rules/data/remediation.json may hold them instead

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.id}: severity {self.severity!r} not in {SEVERITIES}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind {self.kind!r} not in {KINDS}")
        if self.scope not in SCOPES:
            raise ValueError(f"{self.id}: scope {self.scope!r} not in {SCOPES}")
        unknown = [r for r in self.requires if r not in COLLECT]
        if unknown:
            raise ValueError(f"{self.id}: unknown requirement(s) {unknown}")
        not_in_catalog = sorted(set(self.events) - catalog.keys())
        if not_in_catalog:
            raise ValueError(f"{self.id}: events not in the event catalog: {not_in_catalog}")

    @property
    def needs(self) -> Needs:
        return Needs.of(events=self.events)

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "severity": self.severity, "kind": self.kind,
                "scope": self.scope, "requires": list(self.requires), "references": list(self.references),
                "description": self.description, "events": list(self.events), "outranks": list(self.outranks),
                "blocks_licensing": self.blocks_licensing, "only_blocking_causes": self.only_blocking_causes}


CheckFn = Callable[["Context"], Optional[Iterable[Finding]]]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    check: CheckFn


_PACK: list[Rule] = []


def rule(meta: RuleMeta) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register ``check`` with its metadata in the pack."""
    def wrap(fn: CheckFn) -> CheckFn:
        _PACK.append(Rule(meta=meta, check=fn))
        return fn
    return wrap


def registered() -> list[Rule]:
    return list(_PACK)


@lru_cache(maxsize=1)
def remediation_texts() -> dict[str, list[str]]:
    with open(Path(__file__).with_name("data") / "remediation.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return {k: list(v) for k, v in data.items() if not k.startswith("_")}
