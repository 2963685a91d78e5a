"""`ut-dagster`: sync tests from the command line, run the API sandbox, or the end-to-end demo.

Heavy imports (Dagster definitions, warehouse drivers) happen inside the commands, so `--help` and
argument errors are instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ut_dagster.lib.ids import InvalidIdError, validate_test_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ut-dagster", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    sync = commands.add_parser(
        "sync", help="Sync UserTesting tests into the warehouse (one Dagster run each)."
    )
    sync.add_argument("test_ids", nargs="+", metavar="TEST_ID", help="UserTesting test IDs (UUIDs)")
    sync.add_argument("--full", action="store_true", help="refetch everything, not only what is new")
    sync.add_argument("--videos", action="store_true", help="also archive session videos")

    commands.add_parser("tests", help="List the tests your credential can see (legacy v1 workspaces API).")

    sandbox = commands.add_parser("sandbox", help="Serve a local, faithful sandbox of the UserTesting API.")
    from ut_dagster.sandbox.command import configure_parser

    configure_parser(sandbox)

    demo = commands.add_parser(
        "demo", help="Start the sandbox, sync all its tests into DuckDB, build dbt, print."
    )
    demo.add_argument("--no-dbt", action="store_true", help="skip the dbt build")

    args = parser.parse_args(argv)
    if args.command == "sync":
        try:
            test_ids = [validate_test_id(t) for t in args.test_ids]
        except InvalidIdError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        from ut_dagster.cli.sync import run_sync

        return run_sync(test_ids, full=args.full, videos=args.videos)
    if args.command == "tests":
        from ut_dagster.cli.sync import list_tests

        return list_tests()
    if args.command == "sandbox":
        from ut_dagster.sandbox.command import run

        return run(args)
    from ut_dagster.cli.demo import run_demo

    return run_demo(build_dbt=not args.no_dbt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
