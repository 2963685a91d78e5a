"""The UserTesting Results API, as the calls a sync needs.

Every ID is checked to be a UUID before it goes into a URL. Every call goes through ApiTransport, so
it waits for the shared budget, renews tokens and retries what is worth retrying.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from dagster_usertesting.lib.ids import SessionId, TestId, WorkspaceId
from dagster_usertesting.lib.usertesting_api.errors import (
    MalformedResponseError,
    UserTestingError,
    UserTestingUnavailableError,
    VideoLinkExpiredError,
)
from dagster_usertesting.lib.usertesting_api.paging import (
    MAX_PAGE_SIZE,
    ListingPage,
    ListingProgress,
    SessionListing,
)
from dagster_usertesting.lib.usertesting_api.stats import RequestStats
from dagster_usertesting.lib.usertesting_api.transport import ApiTransport

log = logging.getLogger("dagster_usertesting.lib.usertesting_api")

# Transcripts, videos and QXscores exist only for some kinds of test. The documented answer is 404;
# a 400 ("not supported for this product type") is read the same way rather than failing the sync.
ABSENT_STATUSES = (404, 400)


class _RedactPresignedUrls(logging.Filter):
    """httpx logs every URL it fetches; a pre-signed video link is a credential for an hour."""

    def filter(self, record: logging.LogRecord) -> bool:
        if any("Signature=" in str(arg) for arg in record.args or ()):
            record.args = tuple(
                str(arg).split("?", 1)[0] + "?<redacted>" if "Signature=" in str(arg) else arg
                for arg in record.args or ()
            )
        return True


logging.getLogger("httpx").addFilter(_RedactPresignedUrls())

V1_PREFIX = "/usertesting/api/v1"


@dataclass(frozen=True)
class VideoLink:
    url: str = field(repr=False)  # pre-signed: never logged, never stored
    expires_at: str | None


@dataclass(frozen=True)
class ListingProbe:
    """The head of a test's listing, for one request: enough to tell whether anything changed."""

    total_count: int
    newest_session_id: str | None  # None when the test has no completed session yet
    # The first page as served (asked with the client's page size): the sync it starts begins here.
    head: ListingPage | None = None


@dataclass(frozen=True)
class VideoDownload:
    content_type: str
    content_length: int | None
    chunks: Iterator[bytes]


class UserTestingClient:
    def __init__(
        self, transport: ApiTransport, downloads: httpx.Client, page_size: int = MAX_PAGE_SIZE
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"USERTESTING_PAGE_SIZE must be between 1 and {MAX_PAGE_SIZE}, got {page_size}.")
        self._transport = transport
        self._downloads = downloads
        self.page_size = page_size

    @property
    def stats(self) -> RequestStats:
        return self._transport.stats

    def with_budget_wait(self, max_budget_wait: float | None) -> UserTestingClient:
        """This client, but a request whose budget is not free within `max_budget_wait` seconds raises
        BudgetUnavailableError (nothing sent, nothing spent) instead of waiting; None waits as long as
        it takes."""
        return UserTestingClient(self._transport.bounded(max_budget_wait), self._downloads, self.page_size)

    # -- sessions ---------------------------------------------------------------------------------
    def list_sessions(
        self,
        test_id: TestId,
        stop_when: Callable[[ListingProgress], bool] | None = None,
        confirm_end: bool = False,
        first_page: ListingPage | None = None,
    ) -> SessionListing:
        """The test's listing, page by page. `confirm_end`: a full page at the count is followed by one
        more page rather than the count believed (a walk whose absences may remove sessions).
        `first_page`: the page at offset 0 already in hand (a probe's, asked with this page size)."""
        return SessionListing(
            lambda limit, offset: self._listing_page(test_id, limit, offset),
            test_id,
            stop_when,
            self.page_size,
            confirm_end,
            first_page,
        )

    def probe_listing(self, test_id: TestId, whole_page: bool = False) -> ListingProbe:
        """totalCount and the newest session of a test, in one request.

        The listing is newest first: new sessions change the newest ID, deleted ones the count.
        `whole_page`: ask for the first page at this client's page size rather than `limit=1`. It
        costs the same one request, and a sync can begin from it instead of asking again
        (lib/sync/listing_head.py).
        """
        page = self._listing_page(test_id, self.page_size if whole_page else 1, 0)
        newest = page.sessions[0]["sessionId"] if page.sessions else None
        return ListingProbe(
            total_count=page.total_count, newest_session_id=newest, head=page if whole_page else None
        )

    def _listing_page(self, test_id: TestId, limit: int, offset: int) -> ListingPage:
        test_id = TestId(test_id)  # free for a TestId; a raw string is matched before it is sent
        response = self._transport.get(
            "list_sessions",
            "/api/v2/sessionResults",
            what=f"sessions of test {test_id}",
            params={"testId": test_id, "limit": limit, "offset": offset},
            not_found=(
                f"Test {test_id} was not found by the Results API (HTTP 404). Most likely this "
                "credential's account cannot see it (UserTesting answers 404, not 403): it was deleted, "
                "or moved to or unshared from a workspace the account is not in. It may also be a classic "
                "(v1) test, whose results the Results API does not serve, or a mistyped ID. "
                "`ut-dagster tests` lists the tests this credential can see and marks classic ones; "
                "`ut-dagster forget TEST_ID` stops syncing one."
            ),
            subject="the test",
        )
        body = _json(response, f"the session listing of test {test_id}")
        sessions = body.get("sessions") if isinstance(body, dict) else None
        pagination = ((body.get("meta") or {}).get("pagination") or {}) if isinstance(body, dict) else {}
        total = pagination.get("totalCount")
        if not isinstance(sessions, list) or not isinstance(total, int | float):
            raise MalformedResponseError(
                f"The session listing of test {test_id} has no sessions list or totalCount.", response.content
            )
        valid = []
        for item in sessions:
            try:
                session_id = SessionId(item.get("sessionId") if isinstance(item, dict) else None)
            except ValueError:
                log.warning("Skipping a listed session of test %s without a valid sessionId.", test_id)
                continue
            valid.append({**item, "sessionId": session_id})
        return ListingPage(sessions=valid, total_count=int(total), served=len(sessions))

    def get_session_details_raw(self, session_id: str) -> bytes:
        """The v3 result of a session exactly as served (land these bytes before parsing them)."""
        response = self._transport.get(
            "session_details",
            _session_path("v3", session_id),
            what=f"session {session_id}",
            subject="the session's test",
        )
        return response.content

    def get_session_details(self, session_id: str) -> dict[str, Any]:
        raw = self.get_session_details_raw(session_id)
        try:
            body = json.loads(raw)
        except ValueError:
            raise MalformedResponseError(f"Session {session_id}'s details are not valid JSON.", raw) from None
        if not isinstance(body, dict):
            raise MalformedResponseError(f"Session {session_id}'s details are not a JSON object.", raw)
        return body

    def get_transcript_raw(self, session_id: str) -> bytes | None:
        """WebVTT bytes, or None when the session has no transcript (yet)."""
        response = self._transport.get(
            "transcript",
            _session_path("v2", session_id, "/transcript"),
            what=f"the transcript of session {session_id}",
            subject="the session's test",
            absent=ABSENT_STATUSES,
        )
        return None if response is None else response.content

    def get_transcript(self, session_id: str) -> str | None:
        raw = self.get_transcript_raw(session_id)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    # -- videos -----------------------------------------------------------------------------------
    def get_video_download_url(self, session_id: str) -> VideoLink | None:
        """A fresh pre-signed link (valid about an hour), or None when the session has no video."""
        response = self._transport.get(
            "video_download_url",
            _session_path("v2", session_id, "/videoDownloadUrl"),
            what=f"the video of session {session_id}",
            subject="the session's test",
            absent=ABSENT_STATUSES,
        )
        if response is None:
            return None
        body = _json(response, f"the video link of session {session_id}")
        url = body.get("videoUrl") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MalformedResponseError(f"The video link of session {session_id} has no videoUrl.", b"")
        return VideoLink(url=url, expires_at=body.get("expiresAt"))

    @contextmanager
    def open_video(self, link: VideoLink) -> Iterator[VideoDownload]:
        """Stream a video from its pre-signed link (no bearer token, no API budget: it is storage)."""
        try:
            with self._downloads.stream("GET", link.url) as response:
                if response.status_code in (400, 403):
                    raise VideoLinkExpiredError("The video link was refused (expired or invalid).")
                if response.status_code >= 300:
                    raise UserTestingUnavailableError(
                        f"The video host answered HTTP {response.status_code}; try again later."
                    )
                length = response.headers.get("content-length")
                yield VideoDownload(
                    content_type=response.headers.get("content-type", "application/octet-stream"),
                    content_length=int(length) if length and length.isdigit() else None,
                    chunks=response.iter_bytes(chunk_size=1 << 20),
                )
        except httpx.HTTPError as exc:
            raise UserTestingUnavailableError(
                f"The video download was interrupted ({type(exc).__name__})."
            ) from None

    # -- tests ------------------------------------------------------------------------------------
    def get_qx_scores(self, test_id: TestId) -> dict[str, Any] | None:
        """QXscores of an interaction test; None when the API has none for this test (404)."""
        test_id = TestId(test_id)  # free for a TestId; a raw string is matched before it is sent
        response = self._transport.get(
            "qx_scores",
            f"/api/v2/testResults/{test_id}/qxScores",
            what=f"QXscores of test {test_id}",
            subject="the test",
            absent=ABSENT_STATUSES,
        )
        if response is None:
            return None
        body = _json(response, f"the QXscores of test {test_id}")
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"The QXscores of test {test_id} are not a JSON object.", response.content
            )
        return body

    # -- clips and highlight reels -----------------------------------------------------------------
    def get_highlight_reels_raw(self, test_id: TestId) -> bytes | None:
        """The test's highlight reels answer exactly as served; None when the API has none (404)."""
        test_id = TestId(test_id)
        response = self._transport.get(
            "highlight_reels",
            f"/api/v2/testResults/{test_id}/highlightreels",
            what=f"highlight reels of test {test_id}",
            subject="the test",
            absent=ABSENT_STATUSES,
        )
        return None if response is None else response.content

    def get_session_clips_raw(self, session_id: str) -> bytes | None:
        """A session video's clips exactly as served; None when it has no video or clips (404)."""
        response = self._transport.get(
            "clips",
            _session_path("v2", session_id, "/clips"),
            what=f"the clips of session {session_id}",
            subject="the session's test",
            absent=ABSENT_STATUSES,
        )
        return None if response is None else response.content

    def get_clip_media(self, session_id: str, clip_uuid: str) -> tuple[str, VideoLink | None] | None:
        """A clip's media status (GENERATING, GENERATED, ERROR or newer) and, once GENERATED, its
        15-minute link; None when the clip is gone (404)."""
        clip = SessionId(clip_uuid)  # a UUID like any ID that goes into a URL
        response = self._transport.get(
            "clip",
            _session_path("v2", session_id, f"/clips/{clip}"),
            what=f"clip {clip} of session {session_id}",
            subject="the session's test",
            absent=(404,),
        )
        return None if response is None else _media(response, "clipUrl", f"clip {clip}")

    def get_reel_media(self, test_id: TestId, reel_id: str) -> tuple[str, VideoLink | None] | None:
        """A highlight reel's media status and, once GENERATED, its 15-minute link; None on 404."""
        test_id, reel = TestId(test_id), SessionId(reel_id)
        response = self._transport.get(
            "highlight_reel",
            f"/api/v2/testResults/{test_id}/highlightreels/{reel}",
            what=f"highlight reel {reel} of test {test_id}",
            subject="the test",
            absent=(404,),
        )
        return None if response is None else _media(response, "reelUrl", f"highlight reel {reel}")

    def list_workspace_tests(self, only: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """Every test (study) the credential can see, each once, via the legacy v1 API.

        A test can sit in several workspaces; it is yielded with the first workspace that lists it
        (`workspaceUuid`, `workspaceName`). `only`: walk just these workspaces (names or UUIDs, any case).
        """
        response = self._transport.get("workspaces", f"{V1_PREFIX}/workspaces", what="the list of workspaces")
        workspaces = _json(response, "the list of workspaces")
        wanted = {w.strip().lower() for w in only if w.strip()}
        yielded: set[str] = set()
        for workspace in workspaces if isinstance(workspaces, list) else []:
            names = {str(workspace.get(k) or "").lower() for k in ("uuid", "name")}
            if wanted and not wanted & names:
                continue
            workspace_id = WorkspaceId(workspace.get("uuid"))
            after: str | None = None
            while True:
                page = _json(
                    self._transport.get(
                        "workspaces",
                        f"{V1_PREFIX}/workspaces/{workspace_id}",
                        what=f"tests of workspace {workspace_id}",
                        params={"after": after} if after else None,
                    ),
                    f"the tests of workspace {workspace_id}",
                )
                if not isinstance(page, list) or not page:
                    break
                for study in page:
                    key = str(study.get("uuid") or "").lower()
                    if key and key in yielded:
                        continue
                    yielded.add(key)
                    yield {**study, "workspaceUuid": workspace_id, "workspaceName": workspace.get("name")}
                after = page[-1].get("cursor")
                if len(page) < 50 or not after:
                    break


def _session_path(version: str, session_id: str, suffix: str = "") -> str:
    # Free for a SessionId; a raw string is matched before it is sent.
    return f"/api/{version}/sessionResults/{SessionId(session_id)}{suffix}"


def _media(response: httpx.Response, url_key: str, what: str) -> tuple[str, VideoLink | None]:
    body = _json(response, f"the media of {what}")
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise MalformedResponseError(f"The media answer of {what} has no status.", response.content)
    url = body.get(url_key)
    link = VideoLink(url=url, expires_at=None) if isinstance(url, str) and url.startswith("http") else None
    return body["status"], link if body["status"] == "GENERATED" else None


def _json(response: httpx.Response | None, what: str) -> Any:
    if response is None:  # pragma: no cover - only for `absent` calls, handled by callers
        raise UserTestingError(f"No response for {what}.")
    try:
        return response.json()
    except ValueError:
        raise MalformedResponseError(f"{what} is not valid JSON.", response.content) from None
