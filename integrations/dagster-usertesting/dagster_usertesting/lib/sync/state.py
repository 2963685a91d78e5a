"""What the sync remembers about a test between runs, kept in the landing area beside the payloads.

One typed interface instead of loose state-file names. What the warehouse holds is not remembered
here: it is read from the warehouse itself (WarehouseClient.session_versions), so a new, emptied or
switched warehouse is never mistaken for a loaded one.

    raw/<test_id>/state/failures-<endpoint>.json   sessions failing at that endpoint (retries.py)
    raw/<test_id>/state/traits.json                what the payloads told about the test
"""

from __future__ import annotations

from dagster_usertesting.lib.ids import TestId
from dagster_usertesting.lib.landing import Landing
from dagster_usertesting.lib.sync.retries import Failure

# The per-session endpoints whose failures are tracked, named as RequestStats names them.
DETAILS = "session_details"
TRANSCRIPT = "transcript"
VIDEO = "video"
CLIPS = "clips"
CLIP_MEDIA = "clip_media"  # keyed by media (clip:<id>, highlight_reel:<id>), not by session
ENDPOINTS = (DETAILS, TRANSCRIPT, VIDEO, CLIPS, CLIP_MEDIA)


class SyncState:
    def __init__(self, landing: Landing, test_id: TestId) -> None:
        self.landing = landing
        self.test_id = test_id

    def failures(self, endpoint: str) -> dict[str, Failure]:
        body = self.landing.read_state(self.test_id, _failures_name(endpoint))
        found = {}
        for session_id, record in body.items():
            try:
                found[session_id] = Failure.from_json(record)
            except (KeyError, TypeError, ValueError):
                continue  # a hand-edited or older record: the session is simply asked again
        return found

    def save_failures(self, endpoint: str, failures: dict[str, Failure]) -> None:
        body = {s: f.to_json() for s, f in sorted(failures.items())}
        self.landing.write_state(self.test_id, _failures_name(endpoint), body)

    def all_failures(self) -> dict[str, dict[str, Failure]]:
        return {endpoint: self.failures(endpoint) for endpoint in ENDPOINTS}

    def has_qx_score_groups(self) -> bool:
        return bool(self.landing.read_state(self.test_id, "traits").get("qx_score_groups"))

    def note_qx_score_groups(self) -> None:
        traits = self.landing.read_state(self.test_id, "traits")
        if not traits.get("qx_score_groups"):
            self.landing.write_state(self.test_id, "traits", {**traits, "qx_score_groups": True})


def _failures_name(endpoint: str) -> str:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
    return f"failures-{endpoint}"
