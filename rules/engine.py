"""Run the rule pack over an analysis: every rule for every relevant host.

Each (rule, host) pair yields at least one Finding: ``detected``, ``not_detected``, or
``not_checked`` (an artifact is missing; ``collect`` says what to get). A rule that raises
becomes a ``not_checked`` finding carrying the error: one bad rule never stops the run.
"""
from __future__ import annotations

from typing import Optional

from rdsla.core.model import Analysis, Finding, HostProfile
from rdsla.rules.api import Bundle, Context, Rule, license_servers, session_hosts
from rdsla.rules.registry import load_rules


def _targets(rule: Rule, bundle: Bundle) -> list[Optional[HostProfile]]:
    scope = rule.meta.scope
    if scope == "session_host":
        return list(session_hosts(bundle))
    if scope == "license_server":
        return list(license_servers(bundle))
    return [None]


def run_rule(rule: Rule, bundle: Bundle) -> list[Finding]:
    targets = _targets(rule, bundle)
    out: list[Finding] = []
    if not targets:
        ctx = Context(bundle, rule.meta, None)
        who = "session host" if rule.meta.scope == "session_host" else "license server"
        out.append(ctx.not_checked(*rule.meta.requires,
                                   summary=f"Not checked: the bundle shows no {who} to check."))
        return out
    for host in targets:
        ctx = Context(bundle, rule.meta, host)
        try:
            results = [f for f in (rule.check(ctx) or []) if f is not None]
        except Exception as exc:  # noqa: BLE001 - a rule bug must not stop the analysis
            f = ctx.not_checked(summary=f"Rule error {type(exc).__name__}: {exc}")
            results = [f]
        out.extend(results or [ctx.not_detected()])
    return out


def run_rules(analysis: Analysis, rules: Optional[list[Rule]] = None, bundle: Optional[Bundle] = None) -> list[Finding]:
    """Every rule on the analysis; ``bundle``: the per-analysis indexes when the caller built them
    already (the pipeline shares one with the licensing paths)."""
    bundle = bundle or Bundle(analysis)
    findings: list[Finding] = []
    for rule in rules if rules is not None else load_rules():
        findings.extend(run_rule(rule, bundle))
    return findings
