"""``python -m rdsla.analyzer``: the same command line as ``python -m rdsla``."""
from rdsla.analyzer.cli import main

raise SystemExit(main())
