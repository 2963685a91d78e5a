"""Every knob of the sandbox, with defaults that match the documented behaviour of the real API.

Knobs that shape behaviour (rate limit, errors, lifetimes, arrivals, malformed sessions) are
read on every request, so a test may change them on a running sandbox (`sandbox.config.error_rate = 0`).
Knobs that shape the data (seed, studies, history, video size) are used once, when the dataset is built.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

THINK_OUT_LOUD = "THINK_OUT_LOUD"
INTERACTION = "NON_THINK_OUT_LOUD"
SURVEY = "SURVEY"
LIVE_CONVERSATION = "LIVE_CONVERSATION"
KINDS = (THINK_OUT_LOUD, INTERACTION, SURVEY, LIVE_CONVERSATION)

# What each product type records, as the spec's "Compatibility" notes describe it.
TRANSCRIPT_KINDS = frozenset({THINK_OUT_LOUD, LIVE_CONVERSATION})
VIDEO_KINDS = frozenset({THINK_OUT_LOUD, LIVE_CONVERSATION, INTERACTION})

TOKEN_PATH = "/oauth2/aus1p3vtd8vtm4Bxv0h8/v1/token"


@dataclass(frozen=True)
class StudySpec:
    """One generated test: its product type, how many COMPLETE sessions it starts with, its title."""

    kind: str
    sessions: int
    title: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown study kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.sessions < 0:
            raise ValueError("a study cannot have a negative number of sessions")


DEFAULT_STUDIES: tuple[StudySpec, ...] = (
    StudySpec(THINK_OUT_LOUD, 25, "Checkout redesign: think-out-loud"),
    StudySpec(INTERACTION, 20, "Mobile banking app: QXscore benchmark"),
    StudySpec(SURVEY, 30, "Brand perception survey — Q4 ☕"),
    StudySpec(LIVE_CONVERSATION, 6, "Onboarding interviews (live)"),
)


@dataclass
class SandboxConfig:
    seed: int = 7
    studies: tuple[StudySpec, ...] = DEFAULT_STUDIES
    # Classic (v1) studies that only the legacy workspace listing shows; the v2 API answers 404 for them.
    legacy_studies: int = 2
    # The newest generated session finishes shortly before this; the rest spread over history_days.
    history_end: datetime = datetime(2024, 11, 21, 12, 0, tzinfo=UTC)
    history_days: int = 30

    # The real API's 10 requests a minute: a fixed window per credential from its first request (app.py).
    requests_per_window: int = 10
    window_seconds: float = 60.0
    error_rate: float = 0.0

    token_lifetime_seconds: float = 3600.0
    video_link_lifetime_seconds: float = 3600.0
    video_size_bytes: int = 256 * 1024
    video_drop_after_bytes: int | None = None

    arrivals_per_list_request: int = 0
    # Below 500: the listing silently serves at most this many per page whatever `limit` asks.
    max_page_size: int = 500
    malformed_session_ids: Collection[str] = field(default_factory=frozenset)
    # Details of these sessions answer 503 every time (a backend that cannot serve them).
    failing_session_ids: Collection[str] = field(default_factory=frozenset)

    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    static_tokens: tuple[str, ...] = ("sandbox-token",)

    def __post_init__(self) -> None:
        self.studies = tuple(self.studies)
        self.static_tokens = tuple(self.static_tokens)
        self.malformed_session_ids = frozenset(s.lower() for s in self.malformed_session_ids)
        self.failing_session_ids = frozenset(s.lower() for s in self.failing_session_ids)
        if self.requests_per_window < 1 or self.window_seconds <= 0:
            raise ValueError("the rate limit needs at least one request per a positive window")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate is a fraction between 0 and 1")
        if self.video_size_bytes < 0 or (self.video_drop_after_bytes or 0) < 0:
            raise ValueError("video sizes cannot be negative")
        if min(self.token_lifetime_seconds, self.video_link_lifetime_seconds) < 0:
            raise ValueError("lifetimes cannot be negative")
        if self.history_end.tzinfo is None:
            raise ValueError("history_end must be timezone-aware")
