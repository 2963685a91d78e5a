"""A local stand-in for the UserTesting Results API, for tests and demos (standard library only).

    with SandboxServer(SandboxConfig(seed=3), port=0) as sandbox:
        sandbox.url, sandbox.token_url, sandbox.test_ids   # where to point a client, what to sync
        sandbox.dataset        # what is served: sessions(test_id), payload(id), transcript(id), video_chunks(id)
        sandbox.requests       # API calls served: method, path, query, status, time, credential
        sandbox.request_counts()  # API requests per endpoint: {"list_sessions": 3, "session_details": 40}
        sandbox.set_transcript_available(session_id, True)  # transcripts that appear later

Control (also over HTTP, for a sandbox in another process: POST /_sandbox/<method> with the keyword
arguments as a JSON object; GET /_sandbox/state and /_sandbox/requests; see admin.py):

        sandbox.add_sessions(test_id, 2)                # the newest sessions of the test
        sandbox.add_late_sessions(test_id, 2)           # old finishTime, listed behind 500 newer ones
        sandbox.delete_sessions([session_id])           # or (test_id=..., count=10), picked by the seed
        sandbox.restore_sessions()                      # deleted sessions come back
        sandbox.revoke_test(test_id, status=404)        # every endpoint of the test answers 404 (or 401)
        sandbox.restore_test(test_id)
        sandbox.churn(deleted=10, new=2, late=2)        # all of it, on every test, between two syncs
        sandbox.reset()                                 # generated data, empty log, fresh rate windows

A deleted session leaves the listing (totalCount drops); its details, transcript, video link and
any video link issued before answer 404. A revoked test stays in the v1 workspace listing.

It follows the vendor's OpenAPI specs and docs; where they are silent it copies the frameworks behind
the real API (NestJS for v2/v3, Okta for tokens, S3 for videos). Choices made where nothing is
documented, so a client is tested against plausible behaviour rather than a convenient one:

- Rate limit: 10 requests per 60 s by default, like the real API (`requests_per_window`,
  `window_seconds`; `ut-dagster sandbox --requests-per-minute --window-seconds`); a fixed window per
  credential from its first request; 429s count, 401s do not; x-ratelimit-* headers; no Retry-After. All tokens of one client share a budget; each static token has its own.
- Token endpoint: never rate limited, never fails at random, logged in `token_requests`, not `requests`.
  The video store is logged in `video_requests`, needs no bearer token and is never rate limited.
- Injected faults (error_rate): 500 as JSON with rate headers; 502/503 as a load balancer's HTML
  without them; or a connection closed with no answer. They count against the budget.
- qxScores of a test that is not an interaction test: 404.
- Listing order: finishTime (startTime when null) descending, ties by a hidden random rank.
- Error bodies: `{"statusCode", "message", "error"}` (message a list for 400 validation errors);
  v1 paths `{"errorCode", "errorMessage"}`.
"""

from .config import (
    INTERACTION,
    LIVE_CONVERSATION,
    SURVEY,
    THINK_OUT_LOUD,
    SandboxConfig,
    StudySpec,
)
from .data import Dataset
from .server import SandboxServer

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
