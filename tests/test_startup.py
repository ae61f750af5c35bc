"""Fixed costs (issue 20 item 3): the commands that read no bundle load no pandas.

``rdsla --version`` and ``rdsla compat`` import no pandas (nor numpy) at all; ``rdsla rules``
imports the rule pack, whose modules import pandas at the top for their checks, so the CLI
binds those two names to a stand-in that never loads (``pandas.core`` never appears) and the
listing is the same as with pandas loaded. Timings are the benchmark's (benchmarks/
bench_upload.py prints them), never a test's.
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
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": loaded,
                  "stand_ins": sorted(m for m in ("pandas", "numpy") if type(sys.modules.get(m)).__name__ == "_Deferred")}))
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
def test_rules_never_load_pandas_and_list_the_same_rules(argv):
    res = run(*argv)
    assert res["code"] == 0
    assert not any(m.startswith(("pandas.", "numpy.", "pyarrow", "jinja2")) for m in res["loaded"]), res["loaded"]
    assert set(res["loaded"]) <= set(res["stand_ins"])        # at most the two stand-ins, never loaded
    if "--json" in argv:
        from rdsla.rules.registry import load_rules
        expected = [r.meta.to_dict() for r in load_rules()]       # loaded with pandas, in this process
        assert json.loads(res["out"]) == json.loads(json.dumps(expected))


def test_a_stand_in_loads_the_real_module_when_used():
    code = ("import sys\nfrom rdsla.analyzer.cli import _defer_imports\n_defer_imports('pandas')\n"
            "import pandas as pd\nassert 'pandas.core' not in sys.modules\n"
            "assert pd.DataFrame({'a': [1]}).shape == (1, 1)\nassert 'pandas.core' in sys.modules\n"
            "assert type(sys.modules['pandas']).__name__ == 'module'\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "ok", out.stderr
