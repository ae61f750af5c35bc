"""The one place rdsla's version is written: pyproject.toml reads it from here at build time
(``[tool.setuptools.dynamic]``), and ``rdsla.__version__`` imports it, so a report or
``rdsla --version`` needs no importlib.metadata (~25 ms of every analysis's first render)."""
__version__ = "0.1.0"
