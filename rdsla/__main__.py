"""``python -m rdsla``: the command line."""
from rdsla.analyzer.cli import main

raise SystemExit(main())
