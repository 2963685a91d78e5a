"""The catch-up estimate counts listing probes with `listing_probes`; it must equal what
`NotFoundEvidence` really spends against a test that keeps answering."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import utc_now
from dagster_usertesting.lib.sync.revocation import (
    EXPECTED_404_CHECK_AFTER,
    RARE_404_CHECK_AFTER,
    NotFoundEvidence,
    listing_probes,
)
from dagster_usertesting.testing import SURVEY, StudySpec


def _probes_spent(sandbox, client, test_id: TestId, answers: list[bool], check_after: int) -> int:
    before = len(sandbox.requests)
    evidence = NotFoundEvidence(client, test_id, "transcript", check_after)
    for i, answered_404 in enumerate(answers):
        if answered_404:
            _, fatal = evidence.not_found(f"s{i}", utc_now())
            assert fatal is None
        else:
            evidence.answered()
    evidence.settle()  # the step's end
    return len(sandbox.requests) - before


def test_the_probes_counted_for_an_estimate_are_the_probes_a_step_spends(start_sandbox, sandbox_resource):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1),), requests_per_window=100_000)
    client = sandbox_resource(sandbox, max_retries=0).get_client()
    test_id = TestId(sandbox.test_ids[0])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(st.booleans(), max_size=40),
        st.sampled_from([RARE_404_CHECK_AFTER, EXPECTED_404_CHECK_AFTER, 1]),
    )
    def check(answers: list[bool], check_after: int) -> None:
        assert listing_probes(answers, check_after) == _probes_spent(
            sandbox, client, test_id, answers, check_after
        )

    check()


def test_a_long_run_of_missing_transcripts_costs_one_probe_per_ten():
    assert listing_probes([True] * 25, EXPECTED_404_CHECK_AFTER) == 3  # at 10, at 20, at the end
    assert listing_probes([True] * 9 + [False], EXPECTED_404_CHECK_AFTER) == 0  # the success vouched
    assert listing_probes([], EXPECTED_404_CHECK_AFTER) == 0
