"""rdsla: offline root-cause analyzer for Remote Desktop Services licensing failures.

The repository's top-level folders install as subpackages of this one import name:
``analyzer/`` as ``rdsla.analyzer``, ``parsers/`` as ``rdsla.parsers``, ``rules/`` as
``rdsla.rules``, ``reports/`` as ``rdsla.reports``, ``sample_data/`` as ``rdsla.sample_data``
(``package-dir`` in pyproject.toml). Importing ``rdsla`` stays cheap: nothing below is loaded
until it is used.

The Python API (:mod:`rdsla.api`, loaded on first use)::

    result = rdsla.analyze("upload.zip")      # frames, hosts, findings, root_causes, to_html(...)
    reading = rdsla.read("upload.zip")        # frames and the artifact ledger, no rules
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it, imported on first access (PEP 562). importlib rather than an
# import statement: importing rdsla (reports read __version__ from it) does not load the API,
# so the package root must not look like it depends on the pipeline to import-linter either.
_LAZY = {
    "analyze": "rdsla.api",
    "read": "rdsla.api",
    "Result": "rdsla.api",
    "Reading": "rdsla.api",
}

__all__ = ["__version__", "analyze", "read", "Result", "Reading"]


def __getattr__(name: str) -> Any:
    if name == "__version__":      # rdsla/_version.py, which pyproject.toml reads at build time
        from rdsla._version import __version__ as value
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
