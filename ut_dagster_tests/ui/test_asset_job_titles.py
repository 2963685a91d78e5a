"""A run of Dagster's implicit asset job (the asset graph's Materialize button) gets the test's title tag.

Dagster 1.13 tags such a run with the partition (the test ID) only; the sync's first step adds the
`test: <title>` tag to its own run when the title is known, as the CLI, sensor and schedule set it.
"""

from datetime import UTC, datetime

from dagster import AssetKey, DagsterInstance

from dagster_usertesting.defs.partitions import add_tests
from dagster_usertesting.defs.runs import title_own_run
from dagster_usertesting.defs.titles import TITLE_TAG
from dagster_usertesting.lib.object_store import ObjectStoreResource
from dagster_usertesting.lib.workspace_tests import land_workspace_tests
from dagster_usertesting.testing import SURVEY, StudySpec
from ut_dagster.definitions import build_definitions
from ut_dagster.environment import Settings

TITLE = "Onboarding survey, spring"
RAW_SESSIONS = AssetKey(["usertesting", "raw_sessions"])


def test_a_materialize_button_run_gets_the_title_tag_and_an_untitled_test_gets_none(
    tmp_path, start_sandbox, sandbox_resource
):
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 1), StudySpec(SURVEY, 1)))
    titled, untitled = sandbox.test_ids[:2]
    settings = Settings.from_env({"UT_DATA_DIR": str(tmp_path / "data")})
    land_workspace_tests(
        ObjectStoreResource(url=settings.object_store).store(),
        [{"uuid": titled, "title": TITLE}],  # the test list does not name `untitled`
        datetime.now(UTC),
    )
    resource = sandbox_resource(sandbox, rate_limit_store=settings.rate_limit_store)
    defs = build_definitions(settings, {"usertesting": resource})
    with DagsterInstance.ephemeral() as instance:
        add_tests(instance, [titled, untitled])
        job = defs.resolve_implicit_global_asset_job_def()
        runs = {}
        for test_id in (titled, untitled):
            result = job.execute_in_process(
                instance=instance, partition_key=test_id, asset_selection=[RAW_SESSIONS]
            )
            assert result.success
            runs[test_id] = instance.get_run_by_id(result.run_id)

        assert runs[titled].job_name == "__ASSET_JOB"
        assert runs[titled].tags[TITLE_TAG] == TITLE
        assert TITLE_TAG not in runs[untitled].tags

        # A title already there stays; a test list that cannot be read costs the tag, not the step.
        assert title_own_run(instance, runs[titled], lambda: {titled: "Another title"}) == {}
        assert title_own_run(instance, runs[untitled], _unreadable) == {}
        assert instance.get_run_by_id(runs[titled].run_id).tags[TITLE_TAG] == TITLE
        assert TITLE_TAG not in instance.get_run_by_id(runs[untitled].run_id).tags


def _unreadable() -> dict[str, str]:
    raise OSError("the test list could not be read")
