"""CI fuzzing of every parser (issue 10): a short, deterministic run (derandomized, no example
database). Structure-aware mutations of real-looking seeds (tests/fuzz/mutators.py) and inputs
generated from the text grammars (tests/fuzz/strategies.py); the properties are those of
tests/fuzz/harness.py. The long run is benchmarks/fuzz_long.py.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness, mutators
from tests.fuzz import strategies as S
from tests.fuzz.targets import TARGETS, available

CI = dict(deadline=None, derandomize=True, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
AVAILABLE = set(available())


def _assert_clean(out: harness.Outcome, data: bytes) -> None:
    assert out.ok, "\n".join(out.problems) + f"\n(input: {len(data)} bytes, first 64: {data[:64]!r})"


def _mutated(name: str, rng) -> tuple[str, bytes]:
    kind, seed = rng.choice(TARGETS[name].seeds())
    return kind, TARGETS[name].mutate(seed, rng)


@pytest.mark.skipif("evtx" not in AVAILABLE, reason="no EVTX seed (forge writer absent and ../shared/realdata missing)")
@settings(max_examples=10, **CI)
@given(rng=st.randoms(use_true_random=False), backend=st.sampled_from(["rust", "rust", "python"]))
def test_evtx_mutated(workdir, rng, backend):
    kind, data = _mutated("evtx", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "fuzzed.evtx", backend=backend), data)


@settings(max_examples=10, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_hive_mutated(workdir, rng):
    kind, data = _mutated("hive", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "SYSTEM"), data)


@settings(max_examples=12, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_reg_export_mutated(workdir, rng):
    kind, data = _mutated("reg_export", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "ts.reg"), data)


@settings(max_examples=25, **CI)
@given(text=S.reg_export_text, enc=S.encodings)
def test_reg_export_generated(workdir, text, enc):
    data = S.encode(text, enc)
    _assert_clean(harness.check_bytes("reg_export", data, workdir, "gen.reg"), data)


@settings(max_examples=12, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_reg_query_mutated(workdir, rng):
    kind, data = _mutated("reg_query", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "query.txt"), data)


@settings(max_examples=25, **CI)
@given(text=S.reg_query_text, enc=S.encodings)
def test_reg_query_generated(workdir, text, enc):
    data = S.encode(text, enc)
    _assert_clean(harness.check_bytes("reg_query", data, workdir, "gen_query.txt"), data)


@settings(max_examples=30, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_licensing_mutated(workdir, rng):
    kind, data = _mutated("licensing", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "LS01_export.txt"), data)


@settings(max_examples=30, **CI)
@given(doc=st.one_of(S.licensing_csv_text.map(lambda t: ("licensing_csv", t)),
                     S.licensing_html_text.map(lambda t: ("licensing_html", t)),
                     S.licensing_plain_text.map(lambda t: ("licensing_text", t))),
       enc=S.encodings)
def test_licensing_generated(workdir, doc, enc):
    kind, text = doc
    data = S.encode(text, enc)
    _assert_clean(harness.check_bytes(kind, data, workdir, "LS01_gen.txt"), data)


@settings(max_examples=20, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_system_info_mutated(workdir, rng):
    kind, data = _mutated("system_info", rng)
    _assert_clean(harness.check_bytes(kind, data, workdir, "RDSH01_SystemInfo.txt"), data)


@settings(max_examples=25, **CI)
@given(rng=st.randoms(use_true_random=False))
def test_zip_mutated(tmp_path_factory, rng):
    _, seed = TARGETS["zip"].seeds()[0]
    data = mutators.mutate_zip(seed, rng)
    folder = tmp_path_factory.mktemp("zipfuzz")
    _assert_clean(harness.check_zip(data, folder, "upload.zip"), data)


def test_seeds_parse_clean(workdir):
    """The seeds themselves are clean (else a mutation finding would mean nothing)."""
    for name in AVAILABLE - {"zip"}:
        for i, (kind, data) in enumerate(TARGETS[name].seeds()[:4]):
            out = harness.check_bytes(kind, data, workdir, f"seed{i}", measure_memory=False)
            assert out.ok, (name, i, out.problems)
            assert out.result.status == "ok", (name, i, out.result.warnings)
