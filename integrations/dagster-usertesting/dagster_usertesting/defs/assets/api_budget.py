"""`usertesting/api_budget`: the UserTesting requests of each credential per UTC day, beside the limit.

An observable source asset: observing it reads the counts every process (runs, failed steps, sensor
ticks, the test-list refresh, the CLI) keeps in the shared rate-limit store (lib/usertesting_api/
usage.py). Observing sends no request to UserTesting, so it runs every hour by a schedule that is on
by default, and on demand from the asset's "Observe" button. See docs/api-budget.md.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from dagster import (
    AssetKey,
    BetaWarning,
    DataVersion,
    DefaultScheduleStatus,
    MetadataValue,
    ObserveResult,
    ScheduleDefinition,
    TableColumn,
    TableRecord,
    TableSchema,
    define_asset_job,
    observable_source_asset,
)

from dagster_usertesting.defs.assets.common import GROUP, KEY_PREFIX
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.lib.usertesting_api.stats import ENDPOINTS
from dagster_usertesting.lib.usertesting_api.usage import DailyUsage, utc_today

API_BUDGET_KEY = AssetKey([*KEY_PREFIX, "api_budget"])
# Days the table shows (today included); the store keeps more.
DAYS_SHOWN = 14
API_BUDGET_JOB_NAME = "usertesting_api_budget"


def _observe(context) -> ObserveResult:
    usertesting: UserTestingResource = context.resources.usertesting
    today = utc_today()
    days = usertesting.daily_requests_per_credential(today - timedelta(days=DAYS_SHOWN - 1))
    return budget_observation(days, usertesting.credential_label(), usertesting.daily_limit(), today)


# observable_source_asset is public and beta; its warning would print on every `ut-dagster` command.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)
    api_budget = observable_source_asset(
        key=API_BUDGET_KEY,
        group_name=GROUP,
        required_resource_keys={"usertesting"},
        description="Requests sent to the UserTesting API per credential and UTC day, by endpoint, beside "
        "the limit (USERTESTING_REQUESTS_PER_MINUTE, 10/minute = 14,400/day), with the share used and 429s. "
        "Counted by every process that uses the credential, in the shared rate-limit store "
        "(USERTESTING_RATE_LIMIT_STORE): runs, failed steps, sensor ticks, the test-list refresh and the CLI. "
        "Observing sends no request; the `usertesting_api_budget_hourly` schedule observes it every hour.",
        tags={"dagster/kind/usertesting": ""},
    )(_observe)


def budget_observation(days: list[DailyUsage], credential: str, daily_limit: int, today) -> ObserveResult:
    """What the UI shows for the observed counts: `credential` is this deployment's one."""
    mine = next(
        (d for d in days if d.credential == credential and d.day == today), DailyUsage(credential, today)
    )
    metadata: dict[str, Any] = {
        # The two plotted numbers: an observation an hour draws today's climb and each day's end.
        "requests_today": mine.total,
        "rate_limited_today": mine.rate_limited,
        # The rest is text or a table: constant or derived numbers would only add flat or duplicate plots.
        "credential": credential,
        "daily_limit": f"{daily_limit:,} requests per UTC day (the configured pace, all day long)",
        "share_of_daily_limit_today": f"{_share(mine.total, daily_limit)} %",
        "requests_by_endpoint_today": {**dict.fromkeys(ENDPOINTS, 0), **mine.requests},
        "daily": _table(days, daily_limit),
    }
    return ObserveResult(
        metadata=metadata,
        # Changes whenever a request was counted since the last observation.
        data_version=DataVersion(f"{today.isoformat()}:{mine.total}:{mine.rate_limited}"),
    )


def _share(requests: int, daily_limit: int) -> str:
    return f"{100 * requests / daily_limit:.2f}" if daily_limit else "n/a"


def _table(days: list[DailyUsage], daily_limit: int) -> MetadataValue:
    columns = [
        TableColumn("day", "string", description="UTC day"),
        TableColumn("credential", "string", description="The shared store's name for it (a hash)"),
        TableColumn("requests", "int", description="All endpoints"),
        TableColumn("daily_limit", "int"),
        TableColumn("share_used_pct", "float", description="requests / daily_limit, in %"),
        TableColumn("rate_limited_429", "int", description="Requests answered HTTP 429"),
        *(TableColumn(endpoint, "int") for endpoint in ENDPOINTS),
    ]
    rows = [
        TableRecord(
            {
                "day": d.day.isoformat(),
                "credential": d.credential,
                "requests": d.total,
                "daily_limit": daily_limit,
                "share_used_pct": round(100 * d.total / daily_limit, 2) if daily_limit else 0.0,
                "rate_limited_429": d.rate_limited,
                **{endpoint: d.requests.get(endpoint, 0) for endpoint in ENDPOINTS},
            }
        )
        for d in sorted(days, key=lambda d: (d.day, d.credential), reverse=True)  # newest first
    ]
    return MetadataValue.table(rows, schema=TableSchema(columns))


api_budget_job = define_asset_job(
    API_BUDGET_JOB_NAME,
    selection=[API_BUDGET_KEY],
    description="Observes usertesting/api_budget from the shared rate-limit store; sends no API request.",
)
api_budget_schedule = ScheduleDefinition(
    name="usertesting_api_budget_hourly",
    job=api_budget_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    # On by default: it reads a local store and sends nothing to UserTesting.
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every hour: observe usertesting/api_budget (today's requests per credential and endpoint, "
    "beside the daily limit). Sends no request to UserTesting; on by default.",
)
