"""The `ut-dagster` command line."""

import gc
from collections.abc import Sequence

from ut_dagster.cli.main import main as run_command

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The `ut-dagster` console script (and `python -m ut_dagster.cli`): the command, then its exit."""
    code = run_command(argv)
    # The process ends next and has closed what it wrote: its objects need no garbage collection.
    # The interpreter's collections at exit walk the ~300,000 objects Dagster, pandas and DuckDB
    # leave behind, 1-2 s after every command; frozen objects are skipped.
    gc.freeze()
    return code
