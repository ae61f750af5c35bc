from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder per test module for the fuzzed files (hypothesis reuses it across examples)."""
    return tmp_path_factory.mktemp("fuzz")
