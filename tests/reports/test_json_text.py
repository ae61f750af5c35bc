"""findings.json's writer (reports.json_text) writes exactly what json.dumps(indent=2,
ensure_ascii=False) writes, and refuses what it refuses."""
from __future__ import annotations

import enum
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from rdsla.reports.json_text import dumps

BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"


class Level(enum.IntEnum):
    ERROR = 2


class Name(str):
    pass


VALUES = [
    {}, [], (), "", 0, -1, 10**30, 1.5, -0.0, 1e300, 1e-300, float("nan"), float("inf"), float("-inf"), None, True, False,
    "plain", "quote \" backslash \\ slash / tab \t newline \n nul \x00 bell \x07 del \x7f",
    "ünïcødé ✓ ✗ 😀 \u2028 \u2029 \ud800",
    "</script><b>&amp;",
    {"a": {}, "b": [], "c": [{}], "d": [[], [[]]], "e": {"f": {"g": None}}},
    [1, [2, [3, {"x": [True, False, None]}]], ()],
    {1: "int key", 2.5: "float key", None: "none key", "s": "str key"},
    {True: "bool key", False: "other bool key"},
    {float("nan"): 1, float("inf"): 2, -0.0: 3},
    OrderedDict([("z", 1), ("a", 2)]),
    {"enum": Level.ERROR, "keys": {Level.ERROR: 1}, "np": np.float64(0.1), "sub": Name("x"), Name("k"): [Name("v")]},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_text_as_json_dumps(value):
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [{1, 2}, object(), np.int64(3), [np.bool_(True)], {"k": b"bytes"}, {(1, 2): 1}],
                         ids=["set", "object", "np.int64", "np.bool_", "bytes", "tuple key"])
def test_refuses_what_json_dumps_refuses(value):
    with pytest.raises(TypeError) as ours:
        dumps(value)
    with pytest.raises(TypeError) as theirs:
        json.dumps(value, indent=2, ensure_ascii=False)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["gpo-overrides-deployment.zip", "cals-exhausted", "healthy-per-user-domain.zip"])
def test_a_findings_document_reads_the_same(name):
    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports.findings_json import findings_document, render
    analysis = analyze([str(BUNDLES / name)], jobs=0)
    assert render(analysis) == json.dumps(findings_document(analysis), indent=2, ensure_ascii=False)
