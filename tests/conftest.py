"""Shared fixtures. Real public data lives in ../shared/realdata beside the repository; tests
that need it skip cleanly where it is absent (it is never copied into the project)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RDSLA_SHARED", REPO.parent / "shared"))
REALDATA = SHARED / "realdata"
SAMPLE_DATA = REPO / "sample_data"


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is absent")
    return REALDATA


@pytest.fixture(scope="session")
def real_evtx(realdata) -> list[Path]:
    return sorted((realdata / "evtx").glob("*.evtx"))


@pytest.fixture(scope="session")
def real_hives(realdata) -> list[Path]:
    return sorted(p for p in (realdata / "hives").iterdir() if p.is_file())
