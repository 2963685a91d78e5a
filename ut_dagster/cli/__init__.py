"""The `ut-dagster` command line."""

from ut_dagster.cli.main import main

__all__ = ["main"]
