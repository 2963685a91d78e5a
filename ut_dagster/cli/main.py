"""`ut-dagster`: sync tests from the command line, see where they stand, run the API sandbox or the demo.

Heavy imports (Dagster definitions, warehouse drivers) happen inside the commands, so `--help` and
argument errors are instant. Settings are read and checked before anything else, so a configuration
error ends the command at once, before any request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_usertesting.lib.ids import InvalidIdError, TestId

if TYPE_CHECKING:
    from ut_dagster.environment import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ut-dagster", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    sync = commands.add_parser(
        "sync", help="Sync UserTesting tests into the warehouse (one Dagster run each)."
    )
    sync.add_argument("test_ids", nargs="+", metavar="TEST_ID", help="UserTesting test IDs (UUIDs)")
    sync.add_argument("--full", action="store_true", help="refetch everything, not only what is new")
    sync.add_argument(
        "--reconcile",
        action="store_true",
        help="walk the whole listing and remove sessions deleted upstream (also done every UT_RECONCILE_HOURS)",
    )
    sync.add_argument(
        "--rebuild",
        action="store_true",
        help="rewrite the tables from the landing area (after an upgrade); asks the API only for what is new",
    )
    sync.add_argument(
        "--retry-failed",
        action="store_true",
        help="ask again now for sessions that keep failing, quarantined ones included",
    )
    sync.add_argument("--videos", action="store_true", help="also archive session videos")
    sync.add_argument("--verbose", action="store_true", help="also print Dagster's events and tracebacks")

    commands.add_parser(
        "status",
        help="One line per registered test: listed vs landed, transcripts, videos, last sync, "
        "what is left and the requests and time to catch up (no API request).",
    )

    forget = commands.add_parser("forget", help="Stop syncing a test (unregister its partition).")
    forget.add_argument("test_id", metavar="TEST_ID", help="UserTesting test ID (UUID)")
    forget.add_argument(
        "--delete-data",
        action="store_true",
        help="also delete the test's rows (its QXscore history included), landed responses and "
        "archived videos, once its runs in flight are cancelled (exit 2, deleting nothing, while "
        "one cannot be stopped)",
    )

    commands.add_parser("tests", help="List the tests your credential can see (legacy v1 workspaces API).")

    sandbox = commands.add_parser("sandbox", help="Serve a local, faithful sandbox of the UserTesting API.")
    from dagster_usertesting.testing.command import configure_parser

    configure_parser(sandbox)

    demo = commands.add_parser(
        "demo", help="Start the sandbox, sync all its tests into DuckDB, build dbt, print."
    )
    demo.add_argument("--no-dbt", action="store_true", help="skip the dbt build")

    dg_project = commands.add_parser(
        "dg-project",
        help="Make a folder from which `dg dev`, `dg check defs` and `dg list defs` serve this installed "
        "package (a wheel has no project folder of its own).",
    )
    dg_project.add_argument("folder", type=Path, metavar="DIR", help="a new or empty folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sync":
            test_ids = [TestId(t) for t in args.test_ids]
        if args.command == "forget":
            test_id = TestId(args.test_id)
    except InvalidIdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "sandbox":
        from dagster_usertesting.testing.command import run

        return run(args)
    if args.command == "dg-project":
        from ut_dagster.cli.dg_project import run_dg_project

        return run_dg_project(args.folder)
    if args.command == "demo":
        from ut_dagster.cli.demo import run_demo

        return run_demo(build_dbt=not args.no_dbt)

    from dagster_usertesting.settings import SettingsError
    from ut_dagster.environment import Settings

    try:
        settings = Settings.from_env()
        # Before check_writable, which creates the data folder: a refused command leaves nothing.
        if args.command in ("sync", "tests") and (problem := api_configuration_error(settings)):
            raise SettingsError(problem)
        if args.command in ("sync", "forget"):
            settings.check_writable()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "sync":
        from ut_dagster.cli.sync import run_sync

        return run_sync(
            test_ids,
            full=args.full,
            reconcile=args.reconcile,
            rebuild=args.rebuild,
            videos=args.videos,
            retry_failed=args.retry_failed,
            settings=settings,
            verbose=args.verbose,
        )
    if args.command == "status":
        from ut_dagster.cli.status import run_status

        return run_status(settings)
    if args.command == "forget":
        from ut_dagster.cli.forget import run_forget

        return run_forget(test_id, delete_data=args.delete_data, settings=settings)
    from ut_dagster.cli.sync import list_tests

    return list_tests(settings)


def api_configuration_error(settings: Settings) -> str | None:
    """Why the UserTesting API cannot be asked at all (no credential, an unusable setting), or None.

    Checked before a command that needs the API registers, writes or requests anything: without it,
    `sync` registered the tests and failed each run, and `tests` ended like a failed test (exit 1).
    """
    from dagster_usertesting.defs.resources import usertesting_resource
    from dagster_usertesting.lib.usertesting_api.errors import UserTestingConfigError

    if not settings.usertesting.has_credential:
        return (
            "no UserTesting credential: set USERTESTING_CLIENT_ID and USERTESTING_CLIENT_SECRET (OAuth2 "
            "client credentials, renewed automatically), or USERTESTING_ACCESS_TOKEN (a ready-made token)."
        )
    try:
        usertesting_resource(settings).check_settings()
    except UserTestingConfigError as exc:
        return str(exc)
    except ValueError as exc:  # pydantic: a number setting that is not a number
        return f"a USERTESTING_* setting is not valid: {exc}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
