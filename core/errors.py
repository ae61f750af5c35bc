"""Errors every layer may raise and the command line turns into exit codes (DESIGN.md, "Contracts")."""
from __future__ import annotations

EXIT_OK, EXIT_CAUSE, EXIT_USAGE, EXIT_BATCH_FAILED = 0, 1, 2, 3


class UsageError(Exception):
    """The call itself is wrong (bad option, unreadable input, output inside an input, a missing
    optional extra): the CLI prints the message on one line and exits 2."""


class ArtifactTimeout(BaseException):
    """An artifact took longer than --artifact-timeout (raised by the pipeline's SIGALRM timer).

    A BaseException, like KeyboardInterrupt: parsers catch ``Exception`` around what hostile
    input can break, and such a handler must never swallow the timer and go on without limit."""
