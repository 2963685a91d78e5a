"""The whole sync in the production configuration: sandbox API -> Dagster runs -> Snowflake + S3.

The warehouse is fakesnow patched in-process, so the Snowflake warehouse's real write path runs
(write_pandas into a temporary table, then DELETE + INSERT in one transaction); the landing area is a moto S3 server. Expectations are
those of the DuckDB pipeline tests: every table holds exactly what the API served, once.
"""

import json

import pytest

from dagster_usertesting.lib.schema import ALL_TABLES, DEMOGRAPHICS, JSON, SESSIONS, TASK_GROUPS, TASKS

pytestmark = [
    # dagster-snowflake's load runs pd.read_sql on a DB-API connection; fakesnow copies arrow output.
    pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy:UserWarning"),
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
]

SESSION_TABLES = ("raw_sessions", "session_details", "sessions", "demographics", "task_groups", "tasks")
SYNC_TABLES = (*SESSION_TABLES, "transcripts", "transcript_chunks", "qx_scores")
SESSION_TABLE_DEFS = (SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS)


def _sorted(frame):
    """Rows in a stable order: by partition, session and position within the session."""
    keys = ["test_id", "session_id", *(["position"] if "position" in frame.columns else [])]
    return frame.sort_values(keys).reset_index(drop=True)


def test_every_table_matches_what_the_api_served(synced, assert_synced_as_served):
    assert_synced_as_served(synced, synced.synced_test_ids)
    dataset = synced.sandbox.dataset
    qx = synced.table("qx_scores")
    assert len(qx) > 0 and any(dataset.transcript(s) for s in dataset.session_ids(synced.synced_test_ids[0]))


def test_runs_connect_with_the_snowflake_environment(synced):
    import snowflake.connector

    # fakesnow's patch is a mock: every connection the IO manager opened is recorded.
    opened = [c.kwargs for c in snowflake.connector.connect.call_args_list if "account" in c.kwargs]
    assert opened
    for kwargs in opened:
        assert {k: kwargs.get(k) for k in ("account", "user", "password", "warehouse", "role", "schema")} == {
            "account": "acme-prod",
            "user": "ut_loader",
            "password": "hunter2",
            "warehouse": "LOADING",
            "role": "LOADER",
            "schema": "usertesting",
        }
    assert synced.database in {kwargs["database"] for kwargs in opened}


def test_json_columns_are_text_and_queryable_with_parse_json(synced):
    for name in ("session_details", "tasks", "demographics", "task_groups"):
        described = {row[0].lower(): row[1] for row in synced.query(f"DESCRIBE TABLE usertesting.{name}")}
        for column in ALL_TABLES[name].columns:
            if column.type == JSON:  # text, parsed in dbt staging (not VARIANT)
                assert described[column.name].startswith("VARCHAR"), (name, column.name)

    dataset = synced.sandbox.dataset
    rows = synced.query(
        "SELECT session_id, PARSE_JSON(details_json):sessionParticipant.participantId::string, "
        "ARRAY_SIZE(PARSE_JSON(details_json):tasks) FROM usertesting.session_details"
    )
    assert len(rows) == sum(len(dataset.session_ids(t)) for t in synced.synced_test_ids)
    for session_id, participant_id, task_count in rows:
        served = dataset.served_payload(session_id)
        assert participant_id == (served.get("sessionParticipant") or {}).get("participantId")
        assert task_count == len(served["tasks"])

    written = synced.query(
        "SELECT session_id, position, PARSE_JSON(answer_json):written.text::string "
        "FROM usertesting.tasks WHERE task_type = 'WRITTEN' AND NOT skipped"
    )
    assert written  # think-out-loud tests have written answers (non-ASCII text among them)
    for session_id, position, text in written:
        assert (
            text
            == dataset.served_payload(session_id)["tasks"][position]["response"]["answer"]["written"]["text"]
        )


def test_raw_landing_area_is_in_s3(synced):
    dataset = synced.sandbox.dataset
    for test_id in synced.synced_test_ids:
        landed = synced.landed(f"raw/{test_id}/")
        listing = json.loads(landed[f"raw/{test_id}/listing.json"])
        assert set(listing["sessions"]) == set(dataset.session_ids(test_id))

        details: dict[str, list[str]] = {}
        for key in landed:
            if key.startswith(f"raw/{test_id}/session_details/"):
                details.setdefault(key.split("/")[3], []).append(key)
        assert set(details) == set(dataset.session_ids(test_id))
        for session_id, keys in details.items():  # newest stamp last; a refetch lands a new object
            assert json.loads(landed[sorted(keys)[-1]]) == dataset.served_payload(session_id)

        transcripts = {k.split("/")[3]: landed[k] for k in sorted(landed) if k.endswith(".vtt")}
        assert transcripts == {
            s: dataset.transcript(s).encode() for s in dataset.session_ids(test_id) if dataset.transcript(s)
        }
        qx = sorted(k for k in landed if k.startswith(f"raw/{test_id}/qx_scores/"))
        if dataset.qx_scores(test_id) is None:
            assert qx == []  # no QXscore groups in its sessions: never asked
        else:
            assert json.loads(landed[qx[-1]])["payload"] == dataset.qx_scores(test_id)
    # Nothing went to the local default landing folder.
    assert not (synced.settings.data_dir / "objects").exists()


def test_reruns_rewrite_partitions_without_duplicates(synced):
    first, second = synced.synced_test_ids
    before = {t: _sorted(synced.table(t)) for t in SESSION_TABLES}

    # An incremental rerun of one test: one listing request, the partition rewritten from the S3
    # landing area, identical apart from extraction times; the other partition untouched.
    synced.sandbox.reset_requests()
    assert synced.sync([first]) == 0
    assert [r["path"] for r in synced.sandbox.requests] == ["/api/v2/sessionResults"]
    for table, frame in before.items():
        after = _sorted(synced.table(table))
        assert after.drop(columns="extracted_at").equals(frame.drop(columns="extracted_at")), table
        untouched = after[after.test_id == second].reset_index(drop=True)
        assert untouched.equals(frame[frame.test_id == second].reset_index(drop=True)), table

    # A full rerun of the other: every session fetched again, still one row per session.
    synced.sandbox.reset_requests()
    assert synced.sync([second], full=True) == 0
    details = [r for r in synced.sandbox.requests if r["path"].startswith("/api/v3/")]
    assert len(details) == len(synced.sandbox.dataset.session_ids(second))
    for table, frame in before.items():
        after = _sorted(synced.table(table))
        assert after.drop(columns="extracted_at").equals(frame.drop(columns="extracted_at")), table
    counts = synced.query("SELECT test_id, count(*) FROM usertesting.sessions GROUP BY 1 ORDER BY 1")
    assert counts == sorted((t, len(synced.sandbox.dataset.session_ids(t))) for t in (first, second))


def test_a_rebuild_rewrites_snowflake_rows_from_the_landing_area_without_api_requests(synced):
    """After a normalizer fix, or rows damaged in the warehouse: one rebuild, no detail requests."""
    test_id = synced.synced_test_ids[0]
    before = {t.name: _sorted(synced.table(t.name, test_id)) for t in SESSION_TABLE_DEFS}
    session_id = synced.sandbox.dataset.session_ids(test_id)[0]
    synced.query(f"DELETE FROM usertesting.tasks WHERE session_id = '{session_id}'")
    synced.query(f"UPDATE usertesting.sessions SET participant_id = 'damaged' WHERE test_id = '{test_id}'")
    synced.sandbox.reset_requests()

    assert synced.sync([test_id], rebuild=True) == 0

    assert {r["path"] for r in synced.sandbox.requests} <= {"/api/v2/sessionResults"}
    for name, frame in before.items():
        assert (
            _sorted(synced.table(name, test_id))
            .drop(columns=["extracted_at"])
            .equals(frame.drop(columns=["extracted_at"]))
        ), name


def test_empty_test_creates_every_table(production, monkeypatch, scratch_database):
    """In a database of its own, so the tables can only have come from the empty partition's run."""
    monkeypatch.setenv("SNOWFLAKE_DATABASE", scratch_database)  # read when the run starts
    test_id = production.empty_test_id
    assert production.sync([test_id]) == 0
    for name in SYNC_TABLES:
        described = production.query(f"DESCRIBE TABLE usertesting.{name}", database=scratch_database)
        assert [row[0].lower() for row in described] == ALL_TABLES[name].column_names, name
        assert production.query(f"SELECT count(*) FROM usertesting.{name}", scratch_database) == [(0,)]
    assert json.loads(production.landed(f"raw/{test_id}/")[f"raw/{test_id}/listing.json"])["sessions"] == {}
