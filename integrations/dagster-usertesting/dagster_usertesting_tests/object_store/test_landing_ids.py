"""The landing area builds keys only from test and session IDs, and reads IDs back typed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagster_usertesting.lib.ids import InvalidIdError, SessionId, TestId
from dagster_usertesting.lib.landing import Landing, Listing
from dagster_usertesting.lib.object_store import LocalObjectStore

TEST = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION = "9b2c1e57-0d7a-4c8e-a1f3-5e6d7c8b9a01"
NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(LocalObjectStore(tmp_path / "store"))


@pytest.mark.parametrize("hostile", ["../../etc", f"{TEST}/../x", "", f"{TEST}\n"])
def test_an_id_that_is_not_a_uuid_never_becomes_a_key(landing: Landing, hostile: str) -> None:
    writes = [
        lambda: landing.write_listing(Listing(hostile, 1, {}, None)),
        lambda: landing.put_test_object(hostile, "qx_scores", b"{}", NOW),
        lambda: landing.write_state(hostile, "gone", {}),
        lambda: landing.put_session_object(TestId(TEST), "transcripts", hostile, "vtt", b"", NOW),
        lambda: landing.delete_test(hostile),
    ]
    for write in writes:
        with pytest.raises(InvalidIdError, match="expected a UUID"):
            write()
    assert landing.store.list_keys("") == []


def test_ids_read_back_from_the_landing_area_are_typed_and_stray_folders_ignored(landing: Landing) -> None:
    test_id = TestId(TEST)
    landing.write_listing(Listing(test_id, 1, {SESSION: {"sessionId": SESSION}}))
    landing.put_session_object(test_id, "session_details", SESSION, "json", b"{}", NOW)
    landing.store.put_bytes(f"raw/{TEST}/session_details/notes/20260102T000000000000Z.json", b"{}")

    (session_id,) = landing.read_listing(test_id).sessions
    landed = landing.latest_by_session(test_id, "session_details")
    assert type(session_id) is SessionId and session_id == SESSION
    assert list(landed) == [SESSION] and type(landed[SESSION][0].session_id) is SessionId


def test_ids_are_lower_cased_where_they_enter(landing: Landing) -> None:
    # The same UUID pasted in upper case is the same test: one key, one partition, one set of rows.
    for kind in (TestId, SessionId):
        assert kind(TEST.upper()) == TEST and type(kind(TEST.upper())) is kind
    landing.write_listing(Listing(TestId(TEST.upper()), 1, {SessionId(SESSION.upper()): {}}))
    assert landing.store.list_keys("") == landing.store.list_keys(f"raw/{TEST}/")
    assert list(landing.read_listing(TestId(TEST)).sessions) == [SESSION]
