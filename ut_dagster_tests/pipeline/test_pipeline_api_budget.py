"""What each sync step reports of its API requests, after real runs against the sandbox: every
request the sandbox logged is on some step's event, a failed step's included, every endpoint named."""

from collections import Counter

import dagster as dg

from dagster_usertesting.lib.usertesting_api.stats import ENDPOINTS

ASSET_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_OBSERVATION}


def _reported(instance: dg.DagsterInstance) -> tuple[Counter, list[dict]]:
    """Requests per endpoint summed over every step's report (materializations and observations)."""
    total: Counter = Counter()
    reports = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=ASSET_EVENTS):
            event = entry.dagster_event.event_specific_data
            metadata = (getattr(event, "materialization", None) or event.asset_observation).metadata
            if "api_requests_by_endpoint" in metadata:
                counts = metadata["api_requests_by_endpoint"].value
                total.update(counts)
                reports.append({"metadata": metadata, "failed": "api_step_failed" in metadata})
    return total, reports


def _logged(pipeline) -> Counter:
    return Counter(r["endpoint"] for r in pipeline.sandbox.requests)


def _assert_every_endpoint_named(reports: list[dict]) -> None:
    for report in reports:
        counts = report["metadata"]["api_requests_by_endpoint"].value
        assert set(counts) == set(ENDPOINTS)
        assert report["metadata"]["api_requests"].value == sum(counts.values())


def test_after_a_sync_the_steps_report_every_request_the_sandbox_logged(make_pipeline):
    pipeline = make_pipeline()
    assert pipeline.sync(pipeline.sandbox.test_ids[:2]) == 0

    reported, reports = _reported(pipeline.instance)
    logged = _logged(pipeline)
    assert +reported == logged and sum(logged.values()) > 0
    _assert_every_endpoint_named(reports)
    # Zeros are reported: the listing step sent no session request and says so.
    listing = [r for r in reports if r["metadata"]["api_requests_by_endpoint"].value["list_sessions"]]
    assert listing and all(
        r["metadata"]["api_requests_by_endpoint"].value["session_details"] == 0 for r in listing
    )


def test_a_step_that_fails_midway_reports_the_requests_it_made(make_pipeline):
    # The test is revoked right after its listing is served: the details step fails on 404s
    # having spent requests, and must still report them.
    pipeline = make_pipeline()
    test_id = pipeline.sandbox.test_ids[0]
    pipeline.sandbox.app.faults.revoke_after(test_id, 1, endpoint="list_sessions")
    assert pipeline.sync([test_id]) != 0

    reported, reports = _reported(pipeline.instance)
    logged = _logged(pipeline)
    assert +reported == logged
    assert logged["session_details"] > 0
    _assert_every_endpoint_named(reports)


def test_a_step_that_fails_before_any_output_reports_its_requests_as_an_observation(make_pipeline):
    # A revoked test: the listing step fails on its first request and has no materialization.
    pipeline = make_pipeline()
    test_id = pipeline.sandbox.test_ids[0]
    pipeline.sandbox.app.faults.revoke_after(test_id, 0)
    assert pipeline.sync([test_id]) != 0

    reported, reports = _reported(pipeline.instance)
    logged = _logged(pipeline)
    assert +reported == logged and logged["list_sessions"] > 0
    [failed] = [r for r in reports if r["failed"]]
    assert failed["metadata"]["api_requests"].value == logged["list_sessions"]
    _assert_every_endpoint_named(reports)
    # On the failed test's partition of the listing asset, where the UI shows it.
    [observation] = pipeline.instance.fetch_observations(
        dg.AssetRecordsFilter(dg.AssetKey(["usertesting", "raw_sessions"]), asset_partitions=[test_id]),
        limit=5,
    ).records
    assert observation.asset_observation.metadata["api_step_failed"].value == "UserTestingNotFoundError"
