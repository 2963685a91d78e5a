"""A local stand-in for the UserTesting API, for tests, benches and the demo (standard library only).

    with SandboxServer(SandboxConfig(seed=3), port=0) as sandbox:
        sandbox.url, sandbox.token_url, sandbox.test_ids  # where to point a client, what to sync
        sandbox.dataset       # what is served: sessions(test_id), payload(id), transcript(id), video_chunks(id)
        sandbox.requests      # API calls served (method, path, query, status, time, credential), never secrets
        sandbox.request_counts()  # per endpoint, as the client names them: {"list_sessions": 3, ...}

Control, in process (methods of SandboxServer) or as POST /_sandbox/<method> with the keyword arguments
as a JSON object (plus GET /_sandbox/state, which also shows the faults still queued, and
/_sandbox/requests):
- data: add_sessions(test_id, 2), add_late_sessions(test_id, 2) (old finishTime, listed behind 500 newer
  ones), delete_sessions([id]) or (test_id=..., count=10), restore_sessions(), revoke_test(test_id,
  status=404 or 401: the listing, qxScores and every session endpoint of the test answer it),
  restore_test(test_id), churn(deleted=10, new=2, late=2), set_transcript_available(id, True).
- clips and reels (clips.py; generated sessions come with clips, added ones only get add_clip's), on the
  sandbox clock (real time unless set): set_clock(at="2025-01-01T00:00Z"
  or None), advance_clock(hours=24), set_study_clips(test_id, False) (studyWithClips false),
  add_clip(session_id, name=...), edit_clip(session_id, clip_uuid, description=...), remove_clip(...).
- scripted faults (faults.py), consumed in order by the next matching requests the API answers:
  listing_faults(test_id, "empty", "ok", ...) (over HTTP {"test_id": ..., "faults": [...]}; one per
  listing answer of the test: "empty" (no sessions, totalCount 0), "empty_keep_count", "short" (first
  half of the page), "count_low", "count_high", "renamed" (IDs keyed "id"), "ok");
  delete_after_page(test_id, page=1, count=5) (a deletion between two pages of a walk);
  transient_not_found(session_id, times=1, endpoint="session_details" | "transcript" |
  "video_download_url"); revoke_after(test_id, requests, status=404, endpoint=None) (revocation
  between two steps: after `requests` more answers, of `endpoint` only if given, e.g. "list_sessions").
- behaviour fields of SandboxConfig, read on every request: set them on `sandbox.config` or with
  configure(**fields) (validated; POST /_sandbox/configure): failing_session_ids (details answer 503),
  failing_clip_session_ids, clip_generating_polls (a clip's/reel's first media requests: GENERATING),
  clip_link_lifetime_seconds (clipUrl/reelUrl; 900),
  failing_transcript_ids, failing_video_ids (videoDownloadUrl), failing_qx_test_ids, malformed_session_ids (details cut in
  half), listing_count_bias (totalCount off by this, never below 0), listing_session_field (a renamed ID
  key), max_page_size, arrivals_per_list_request, error_rate, requests_per_window, client_secret, ...
- reset_requests(), reset() (drops queued faults; config changes stay).
Every fault is answered after the token check and the rate limit, logged and counted like any request.

It follows the vendor's OpenAPI specs and /work/shared/API-NOTES.md: 10 requests per 60 s per credential
with x-ratelimit-* headers, offset paging (limit 1-500, offset 0-10000), newest first with hidden tie
order, nullable everything, transcripts that appear later, video links that expire. Where they are silent
it copies the frameworks behind the real API (NestJS, Okta, S3), so a client is tested against plausible
behaviour rather than a convenient one.
"""

from typing import TYPE_CHECKING, Any

from .config import INTERACTION, LIVE_CONVERSATION, SURVEY, THINK_OUT_LOUD, SandboxConfig, StudySpec

if TYPE_CHECKING:
    from .data import Dataset
    from .server import SandboxServer


def __getattr__(name: str) -> Any:
    # Loaded on first use: `ut-dagster` builds its `sandbox` subcommand from command.py and config.py alone.
    if name == "Dataset":
        from .data import Dataset

        return Dataset
    if name == "SandboxServer":
        from .server import SandboxServer

        return SandboxServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "INTERACTION",
    "LIVE_CONVERSATION",
    "SURVEY",
    "THINK_OUT_LOUD",
    "Dataset",
    "SandboxConfig",
    "SandboxServer",
    "StudySpec",
]
