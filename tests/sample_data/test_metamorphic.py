"""Metamorphic properties of the whole analysis over the sample bundles (issue 17 item 5).

- Removing an artifact never creates a new detected cause (it may turn one into not checked).
- Adding healthy noise (an unrelated log of a machine, another healthy deployment) never changes
  the top cause.
- Renaming files and folders never changes the findings.
- Shifting every time of an upload by a constant never changes the findings (the forge builds
  the same deployment collected at another time; whole days, as the 1129/50281 text carries a
  date only).

A small fixed set runs in every test run; ``-m slow`` runs every bundle and every artifact, and
hypothesis draws time shifts and artifact subsets.
"""
from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdsla.sample_data.forge import build, scenarios
from rdsla.sample_data.forge.scenarios import SCENARIOS

BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
NAMES = [f().name for f in SCENARIOS]
FACTORIES = {f().name: f for f in SCENARIOS}


def bundle_files(name: str) -> dict[str, bytes]:
    """The files of a committed bundle (zip members or folder files), without expected.json."""
    zipped = BUNDLES / f"{name}.zip"
    if zipped.exists():
        with zipfile.ZipFile(zipped) as zf:
            return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/") and n != "expected.json"}
    root = BUNDLES / name
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "expected.json"}


def analyze_files(files: dict[str, bytes]):
    """The whole pipeline over ``files`` given as one in-memory zip (no temporary folders)."""
    import tempfile

    from rdsla.analyzer.pipeline import analyze
    from rdsla.parsers.base import ParseOptions
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            zf.writestr(zipfile.ZipInfo(name, date_time=build.ZIP_TIME), files[name])
    with tempfile.TemporaryDirectory(prefix="rdsla-meta-") as tmp:
        path = Path(tmp) / "upload.zip"
        path.write_bytes(buf.getvalue())
        return analyze([str(path)], ParseOptions(), jobs=0)


@lru_cache(maxsize=None)
def original(name: str):
    return analyze_files(bundle_files(name))


def causes(a) -> set[tuple[str, str]]:
    return {(f.rule_id, f.host or "") for f in a.findings if f.state == "detected" and f.kind == "cause"}


def signature(a) -> list[tuple]:
    return sorted((f.rule_id, f.host or "", f.state, f.kind, f.severity) for f in a.findings)


def top(a):
    return (a.root_causes[0].rule_id, a.root_causes[0].host) if a.root_causes else None


# ------------------------------------------------------------------ removing an artifact

def check_removal(name: str, removed: list[str]) -> None:
    files = {k: v for k, v in bundle_files(name).items() if k not in removed}
    new = causes(analyze_files(files)) - causes(original(name))
    assert not new, f"{name} without {removed}: new cause(s) {sorted(new)}"


REMOVALS = [
    ("license-server-unreachable", "RDSH01_System.evtx"),
    ("healthy-ls-patch-reboot-history", "RDSH01_TerminalServicesLocalSessionManager-Operational.evtx"),
    ("healthy-gpo-over-stale-deployment", "RDSH01_HKLM-SOFTWARE.reg"),
    ("healthy-days-left-zero", "RDSH01_SYSTEM.hiv"),
    ("healthy-4105-member", "TSLSMembership.txt"),
    ("healthy-per-user-domain", "LS01_rdls_LicenseKeyPacks.html"),
]


@pytest.mark.parametrize("name, ending", REMOVALS)
def test_removing_an_artifact_creates_no_cause(name, ending):
    removed = [p for p in bundle_files(name) if p.endswith(ending)]
    assert removed, (name, ending)
    check_removal(name, removed)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_removing_any_artifact_creates_no_cause(name):
    for path in sorted(bundle_files(name)):
        check_removal(name, [path])


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_removing_any_artifacts_creates_no_cause(data):
    name = data.draw(st.sampled_from(NAMES))
    paths = sorted(bundle_files(name))
    removed = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4, unique=True))
    check_removal(name, removed)


# ------------------------------------------------------------------ adding healthy noise

@contextmanager
def _forge_at(when):
    saved = scenarios.COLLECTED, build.COLLECTED
    scenarios.COLLECTED = build.COLLECTED = when
    try:
        yield
    finally:
        scenarios.COLLECTED, build.COLLECTED = saved


def healthy_neighbours(prefix: str = "extra/") -> dict[str, bytes]:
    """Another deployment of the same domain that works: RDSH77 (Per User) and its LS77."""
    from rdsla.sample_data.forge.exports import KeyPack, builtin_pack
    from rdsla.sample_data.forge.machine import PER_USER
    from rdsla.sample_data.forge.scenarios import (COLLECTED, DOMAIN, LS, SH, LicenseServerState, Scenario, days,
                                                   ls_healthy_log, machine)
    rdsh = machine("RDSH77", "2022", {SH}, deployment_mode=PER_USER, deployment_servers=[f"LS77.{DOMAIN}"],
                   certificate=True, grace_start=COLLECTED - days(300), noise=200)
    ls = machine("LS77", "2022", {LS}, noise=200)
    ls_healthy_log(ls)
    s = Scenario("neighbours", "", [rdsh, ls], {"LS77": LicenseServerState(
        packs=[builtin_pack(), KeyPack(3, "2022", "per_user", 30, 4)], tsls_members=["LS01", "LS77"])}, [], None)
    files = {}
    for m in s.machines:
        files.update({prefix + k: v for k, v in build.machine_files(s, m).items()})
    return files


def unrelated_log(files: dict[str, bytes]) -> dict[str, bytes]:
    """An Application log of the first machine: events of no licensing provider."""
    import random

    from rdsla.sample_data.forge.evtx_writer import EventRecord, write_evtx
    from rdsla.sample_data.forge.scenarios import COLLECTED
    evtx = next(p for p in sorted(files) if p.endswith("_System.evtx"))
    host = evtx.rsplit("/", 1)[-1].split("_")[0]
    rng = random.Random(host)
    records = [EventRecord(provider="MsiInstaller", event_source_name="MsiInstaller", event_id=1035, qualifiers=0,
                           time=COLLECTED - timedelta(hours=rng.random() * 200), channel="Application",
                           computer=f"{host}.contoso.local", level=4, data=[f"Contoso Agent {i}", "1.0", "1033", "0"])
               for i in range(60)]
    buf = io.BytesIO()
    write_evtx(buf, sorted(records, key=lambda r: r.time))
    return {"noise/" + host + "_Application.evtx": buf.getvalue()}


@pytest.mark.parametrize("name", ["license-server-unreachable", "cals-exhausted", "healthy-per-user-domain",
                                  "ls-not-in-tsls-group"])
def test_healthy_noise_keeps_the_top_cause(name):
    files = bundle_files(name)
    noisy = {**files, **healthy_neighbours(), **unrelated_log(files)}
    assert top(analyze_files(noisy)) == top(original(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_healthy_noise_keeps_the_top_cause_of_every_bundle(name):
    files = bundle_files(name)
    assert top(analyze_files({**files, **healthy_neighbours()})) == top(original(name))
    assert top(analyze_files({**files, **unrelated_log(files)})) == top(original(name))


# ------------------------------------------------------------------ renaming

def renamed(files: dict[str, bytes]) -> dict[str, bytes]:
    """Every folder and file under an opaque name (extensions kept): no collector naming left."""
    folders: dict[str, str] = {}
    out = {}
    for i, path in enumerate(sorted(files)):
        parts = path.split("/")
        new_dirs = [folders.setdefault("/".join(parts[:k + 1]), f"d{len(folders)}") for k in range(len(parts) - 1)]
        ext = "." + parts[-1].rsplit(".", 1)[1] if "." in parts[-1] else ""
        out["/".join(new_dirs + [f"file{i}{ext}"])] = files[path]
    return out


@pytest.mark.parametrize("name", ["gpo-overrides-deployment", "healthy-gpo-without-policy-export",
                                  "licensing-mode-not-configured", "healthy-4105-member"])
def test_renaming_files_and_folders_keeps_the_findings(name):
    assert signature(analyze_files(renamed(bundle_files(name)))) == signature(original(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_renaming_keeps_the_findings_of_every_bundle(name):
    assert signature(analyze_files(renamed(bundle_files(name)))) == signature(original(name))


# ------------------------------------------------------------------ shifting time

def shifted(name: str, delta: timedelta) -> dict[str, bytes]:
    with _forge_at(scenarios.COLLECTED + delta):
        s = FACTORIES[name]()
        files = build.scenario_files(s)
    files.pop("expected.json")
    return files


def test_the_forge_at_the_original_time_is_the_committed_bundle():
    name = "healthy-ls-patch-reboot-history"
    assert shifted(name, timedelta(0)) == bundle_files(name)


@pytest.mark.parametrize("name, days", [("no-license-server-grace-expired", 400), ("licensing-mode-not-configured", -90),
                                        ("healthy-ls-patch-reboot-history", 37), ("cals-exhausted", -1000)])
def test_shifting_all_times_keeps_the_findings(name, days):
    assert signature(analyze_files(shifted(name, timedelta(days=days)))) == signature(original(name))


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), days=st.integers(min_value=-3000, max_value=3000))
def test_shifting_all_times_by_any_whole_days_keeps_the_findings(name, days):
    assert signature(analyze_files(shifted(name, timedelta(days=days)))) == signature(original(name))
