"""Fixed costs (issue 20 item 3): the commands that read no bundle load no pandas.

``rdsla --version``, ``rdsla rules`` and ``rdsla compat`` import no pandas (nor numpy) at all:
the rule pack, ``rules.context``, ``rules.helpers`` and the core modules they use import pandas
inside the functions that need it (or for type checking only), so loading the rules for their
metadata loads neither. Timings are the benchmark's (benchmarks/bench_upload.py prints them),
never a test's.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

PROBE = r"""
import contextlib, io, json, runpy, sys
sys.argv = ["rdsla", *json.loads(sys.argv[1])]
out = io.StringIO()
code = 0
try:
    with contextlib.redirect_stdout(out):
        runpy.run_module("rdsla", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "numpy", "pyarrow", "jinja2"))
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": loaded}))
"""


def run(*argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True,
                         cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [("--version",), ("compat", "--json"), ("compat",)])
def test_version_and_compat_import_no_pandas(argv):
    res = run(*argv)
    assert res["code"] == 0 and res["out"]
    assert res["loaded"] == []


@pytest.mark.parametrize("argv", [("rules", "--json"), ("rules",)])
def test_rules_load_no_pandas_and_list_the_same_rules(argv):
    res = run(*argv)
    assert res["code"] == 0 and res["out"]
    assert res["loaded"] == [], res["loaded"]
    if "--json" in argv:
        from rdsla.rules.registry import load_rules
        expected = [r.meta.to_dict() for r in load_rules()]       # the same rules, in this process
        assert json.loads(res["out"]) == json.loads(json.dumps(expected))


PACK_PROBE = r"""
import importlib, json, pkgutil, sys
import rdsla.rules.pack as pack
heavy = {}
for name in sorted(m.name for m in pkgutil.iter_modules(pack.__path__)):
    importlib.import_module(f"{pack.__name__}.{name}")
    if "pandas" in sys.modules or "numpy" in sys.modules:
        heavy[name] = sorted(m for m in ("pandas", "numpy") if m in sys.modules)
        break
print(json.dumps(heavy))
"""


def test_no_rule_module_imports_pandas_at_its_top():
    """Names the first pack module whose import loads pandas or numpy (import them inside the
    check function, or under ``if TYPE_CHECKING:`` for annotations)."""
    out = subprocess.run([sys.executable, "-c", PACK_PROBE], capture_output=True, text=True, cwd=REPO, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


def test_pandas_free_modules_still_work_with_pandas():
    """The lazily imported pandas is the real one: a frame built by core.frames after the
    rules were loaded without it has the schema's dtypes."""
    code = ("import sys\nfrom rdsla.rules.registry import load_rules\nload_rules()\n"
            "assert 'pandas' not in sys.modules\n"
            "from rdsla.core.frames import make_frame\n"
            "f = make_frame('events', [{'event_id': 1131, 'time': '2026-12-01T00:00:00Z'}])\n"
            "print(str(f['event_id'].dtype), str(f['time'].dtype), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert out.stdout.split() == ["Int64", "datetime64[ns,", "UTC]", "True"], out.stderr
