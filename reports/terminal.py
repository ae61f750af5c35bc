"""The short summary ``rdsla analyze`` prints on the terminal."""
from __future__ import annotations

from collections import Counter

from rdsla.core.model import Analysis


def summary(analysis: Analysis, outputs: dict[str, str] | None = None) -> str:
    """The verdict first (issue 23 item 3), then the licensing path per session host, then the
    bundle, findings and outputs."""
    from rdsla.reports.view_paths import chain_line, paths_lines
    lines = []
    verdict = analysis.verdict or {}
    if verdict.get("state"):
        lines.append(f"rdsla verdict: {verdict['state']}: {verdict.get('summary', '')}")
    chain = chain_line(analysis)
    if chain:
        lines.append(f"  chain: {chain}")
    paths = paths_lines(analysis, ascii_only=True)
    if paths:
        lines.append("  licensing path per session host:")
        lines.extend(f"    {p}" for p in paths)
    art = analysis.frames["artifacts"]
    lines.append(f"rdsla: {len(art)} files, {len(analysis.hosts)} host(s); as of {analysis.as_of:%Y-%m-%d %H:%M} UTC "
                 f"({analysis.as_of_origin})")
    for host in analysis.hosts:
        roles = ", ".join(sorted(r for r, f in host.roles.items() if f.value)) or "roles unknown"
        os_label = host.os_version.value if host.os_version else "OS unknown"
        lines.append(f"  host {host.name}: {os_label}; {roles}")
    by = Counter(zip(art["kind"], art["status"]))
    if by:
        lines.append("  artifacts: " + ", ".join(f"{k} {s} {n}" for (k, s), n in sorted(by.items())))
    lost = int(art["records_lost"].fillna(0).sum()) if len(art) else 0
    if lost:
        lines.append(f"  records lost to damage: {lost:,} (see the ingest health section)")
    for message in analysis.messages:
        lines.append(f"  ! {message}")
    detected = [f for f in analysis.findings if f.state == "detected"]
    sev = Counter(f.severity for f in detected)
    lines.append("  findings: " + (", ".join(f"{s} {sev[s]}" for s in ("critical", "error", "warning", "info") if sev[s]) or "none detected"))
    if analysis.root_causes:
        top = analysis.root_causes[0]
        lines.append(f"  root cause: {top.rule_id} {top.title} on {top.host or 'the bundle'} "
                     f"(confidence {top.confidence:.0%})")
        lines.append(f"    {top.summary}")
    elif (analysis.verdict or {}).get("state") == "inconclusive":
        lines.append("  root cause: none found; not enough collected to rule one out. Collect next:")
        lines.extend(f"    - {c}" for c in analysis.verdict.get("collect") or [])
    else:
        lines.append("  root cause: none found")
    compliance = [f for f in detected if f.kind == "compliance"]
    for f in compliance:
        lines.append(f"  compliance: {f.rule_id} {f.title} on {f.host or 'the bundle'} ({f.severity})")
    for label, path in (outputs or {}).items():
        lines.append(f"  {label}: {path}")
    return "\n".join(lines)
