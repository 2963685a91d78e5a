"""Legacy v1 workspace tests to usertesting.tests rows: names, kinds, syncable, nulls and odd values."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster_usertesting.lib.normalize import to_frame
from dagster_usertesting.lib.normalize.workspace_tests import workspace_test_rows
from dagster_usertesting.lib.schema import TESTS

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TEST_A = "ef333003-697b-4add-b19a-8e8e37f8d8b8"
TEST_B = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
WORKSPACE = "0b6b1c7e-2f55-4a43-9d4f-5d2b8f6c1a10"


def study(uuid: object, **fields: object) -> dict[str, object]:
    """A study as `list_workspace_tests` yields it: the spec's example plus the listing workspace."""
    return {
        "cursor": "MQ",
        "orderedAt": "2023-11-30T11:07:16Z",
        "orderedBy": {"email": "support@usertesting.com", "name": "UT Employee"},
        "productType": "insight_core",
        "title": "ACME Test",
        "type": "web",
        "uuid": uuid,
        "workspaceUuid": WORKSPACE,
        "workspaceName": "Research Team Workspace",
        **fields,
    }


def test_spec_example_gives_exact_row_and_classic_tests_are_not_syncable() -> None:
    assert workspace_test_rows([study(TEST_A)], AT) == [
        {
            "test_id": TEST_A,
            "title": "ACME Test",
            "product_type": "INSIGHT_CORE",
            "study_type": "WEB",
            "workspace_id": WORKSPACE,
            "workspace_name": "Research Team Workspace",
            "ordered_at": datetime(2023, 11, 30, 11, 7, 16, tzinfo=UTC),
            "syncable": False,
            "extracted_at": AT,
        }
    ]


def test_studyv2_in_any_case_is_syncable() -> None:
    rows = workspace_test_rows([study(TEST_A, type="STUDYV2"), study(TEST_B, type="studyV2")], AT)
    assert [r["syncable"] for r in rows] == [True, True]
    assert [r["study_type"] for r in rows] == ["STUDYV2", "STUDYV2"]


def test_each_test_once_first_workspace_wins_whatever_the_uuid_case() -> None:
    rows = workspace_test_rows(
        [study(TEST_A), study(TEST_A.upper(), workspaceName="Design Ops", title="Other"), study(TEST_B)], AT
    )
    assert [(r["test_id"], r["workspace_name"], r["title"]) for r in rows] == [
        (TEST_A, "Research Team Workspace", "ACME Test"),
        (TEST_B, "Research Team Workspace", "ACME Test"),
    ]


def test_nulls_missing_fields_and_unknown_values_do_not_stop_the_list() -> None:
    bare = {"uuid": TEST_A}
    odd = study(
        TEST_B,
        title="  ",
        productType="QUANTUM_RESEARCH",
        type=None,
        orderedAt="last tuesday",
        workspaceName=None,
    )
    rows = workspace_test_rows([bare, odd], AT)
    assert rows[0] == {
        "test_id": TEST_A,
        "title": None,
        "product_type": None,
        "study_type": None,
        "workspace_id": None,
        "workspace_name": None,
        "ordered_at": None,
        "syncable": False,
        "extracted_at": AT,
    }
    assert (rows[1]["title"], rows[1]["product_type"], rows[1]["ordered_at"]) == (
        None,
        "QUANTUM_RESEARCH",
        None,
    )
    assert rows[1]["syncable"] is False


def test_items_that_cannot_name_a_test_are_skipped() -> None:
    items = [None, "text", [TEST_A], study(None), study("not-a-uuid"), study(42), study(TEST_B)]
    assert [r["test_id"] for r in workspace_test_rows(items, AT)] == [TEST_B]


def test_rows_frame_with_the_table_types() -> None:
    frame = to_frame(TESTS, workspace_test_rows([study(TEST_A, type="STUDYV2"), {"uuid": TEST_B}], AT))
    assert list(frame.columns) == TESTS.column_names
    assert frame.dtypes.equals(to_frame(TESTS, []).dtypes)
    assert frame["syncable"].tolist() == [True, False]
