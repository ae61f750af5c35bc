"""The rule API: everything a module of ``rules/pack`` imports, from one place.

A rule is metadata (:class:`RuleMeta`, frozen) and one check function registered with
``@rule(meta)``. A check receives a :class:`Context` for one target host (a session host, a
license server, or the whole bundle) and returns Findings built with ``ctx.detected`` /
``ctx.not_detected`` / ``ctx.not_checked``; returning nothing means "not detected". Rules read
host profiles and the frames only through the context, so they never see file formats
(DESIGN.md, "Rules"). The pieces live by idea: ``rules.meta`` (what a rule is),
``rules.context`` (what a check sees), ``rules.helpers`` (shared helpers), ``core.evidence``.
"""
from rdsla.core.evidence import (event_evidence, fact_evidence, issued_evidence, keypack_evidence, present,
                                 registry_evidence)
from rdsla.rules.context import Bundle, Context, license_servers, servers_of, session_hosts
from rdsla.rules.helpers import (ORIGIN_LABEL, POLICY_KEY, RCM_LICENSING_CORE, SPECIFIED_LS_KEY,
                                 absent_value_evidence, event_names, events_evidence, id_list, newest,
                                 of_catalog_keys)
from rdsla.rules.meta import COLLECT, SCOPES, CheckFn, Rule, RuleMeta, registered, remediation_texts, rule

__all__ = [
    "event_evidence", "fact_evidence", "issued_evidence", "keypack_evidence", "present", "registry_evidence",
    "Bundle", "Context", "license_servers", "servers_of", "session_hosts",
    "ORIGIN_LABEL", "POLICY_KEY", "RCM_LICENSING_CORE", "SPECIFIED_LS_KEY",
    "absent_value_evidence", "event_names", "events_evidence", "id_list", "newest", "of_catalog_keys",
    "COLLECT", "SCOPES", "CheckFn", "Rule", "RuleMeta", "registered", "remediation_texts", "rule",
]
