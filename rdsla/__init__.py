"""rdsla: offline root-cause analyzer for Remote Desktop Services licensing failures.

The repository's top-level folders install as subpackages of this one import name:
``analyzer/`` as ``rdsla.analyzer``, ``parsers/`` as ``rdsla.parsers``, ``rules/`` as
``rdsla.rules``, ``reports/`` as ``rdsla.reports``, ``sample_data/`` as ``rdsla.sample_data``
(``package-dir`` in pyproject.toml). Importing ``rdsla`` stays cheap: nothing below is loaded
until it is used.
"""
from __future__ import annotations


def _version() -> str:
    """The installed distribution's version: pyproject.toml is the one place it is written."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("rdsla")
    except PackageNotFoundError:      # run from a checkout that was never installed
        return "0+unknown"


__version__ = _version()
