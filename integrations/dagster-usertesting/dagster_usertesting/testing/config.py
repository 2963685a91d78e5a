"""What a sandbox serves and how it misbehaves, from code (SandboxConfig) or `ut-dagster sandbox` (command.py).

Behaviour fields (rate limit, faults, lifetimes, arrivals, broken sessions, the listing's count and field
name) are read on every request, so a test may change them on a running sandbox, in process or with
POST /_sandbox/configure (`configure`); data fields (seed, studies, video size) are read once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from typing import Any

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
    clips: bool = True  # False: researchers never clip it (reels say studyWithClips false)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown study kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.sessions < 0:
            raise ValueError("a study cannot have a negative number of sessions")


@dataclass
class SandboxConfig:
    seed: int = 7
    studies: tuple[StudySpec, ...] = (
        StudySpec(THINK_OUT_LOUD, 25, "Checkout redesign: think-out-loud"),
        StudySpec(INTERACTION, 20, "Mobile banking app: QXscore benchmark", clips=False),
        StudySpec(SURVEY, 30, "Brand perception survey — Q4 ☕"),
        StudySpec(LIVE_CONVERSATION, 6, "Onboarding interviews (live)"),
    )
    # Classic (v1) studies only the legacy workspace listing shows; the v2 API answers 404 for them.
    legacy_studies: int = 2
    # The real API's 10 requests a minute: a fixed window per credential from its first request.
    requests_per_window: int = 10
    window_seconds: float = 60.0
    error_rate: float = 0.0  # injected 500, 502, 503 or hang-up, after the rate limit
    token_lifetime_seconds: float = 3600.0
    video_link_lifetime_seconds: float = 3600.0
    video_size_bytes: int = 256 * 1024
    clip_size_bytes: int = 48 * 1024  # each clip's and reel's media
    clip_link_lifetime_seconds: float = 900.0  # clipUrl / reelUrl: valid 15 minutes
    clip_generating_polls: int = 1  # a clip's or reel's first media requests answer GENERATING
    video_drop_after_bytes: int | None = None  # the first download of each video breaks off here
    arrivals_per_list_request: int = 0  # new sessions before each listing page: pages shift
    max_page_size: int = 500  # below 500 the listing serves fewer than `limit` asks
    malformed_session_ids: Collection[str] = field(default_factory=frozenset)  # details cut in half
    failing_session_ids: Collection[str] = field(default_factory=frozenset)  # details always 503
    failing_transcript_ids: Collection[str] = field(default_factory=frozenset)  # transcript always 503
    failing_video_ids: Collection[str] = field(default_factory=frozenset)  # videoDownloadUrl always 503
    failing_qx_test_ids: Collection[str] = field(default_factory=frozenset)  # qxScores of these tests 503
    failing_clip_session_ids: Collection[str] = field(default_factory=frozenset)  # session clips 503
    # The listing's totalCount is reported this much off the truth (-100: 100 too low), never below 0.
    listing_count_bias: int = 0
    # The key the listing gives each item's ID ("id": a renamed field the client does not know).
    listing_session_field: str = "sessionId"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    static_tokens: tuple[str, ...] = ("sandbox-token",)

    def __post_init__(self) -> None:
        self.studies, self.static_tokens = tuple(self.studies), tuple(self.static_tokens)
        for name in SESSION_ID_SETS:
            setattr(self, name, frozenset(s.lower() for s in getattr(self, name)))
        if not self.listing_session_field:
            raise ValueError("listing_session_field names a JSON key: it cannot be empty")
        if self.requests_per_window < 1 or self.window_seconds <= 0:
            raise ValueError("the rate limit needs at least one request per a positive window")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate is a fraction between 0 and 1")
        if min(self.video_size_bytes, self.video_drop_after_bytes or 0) < 0:
            raise ValueError("video sizes cannot be negative")
        if self.clip_generating_polls < 0 or self.clip_size_bytes < 0:
            raise ValueError("clip_generating_polls and clip_size_bytes cannot be negative")
        if (
            min(
                self.token_lifetime_seconds, self.video_link_lifetime_seconds, self.clip_link_lifetime_seconds
            )
            < 0
        ):
            raise ValueError("lifetimes cannot be negative")
        if self.max_page_size < 1:
            raise ValueError("max_page_size must be at least 1")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour fields of this (running) sandbox's config, validated as at construction.

        Data fields are refused: the dataset was built from them. Returns the fields now set."""
        if refused := sorted(set(changes) - BEHAVIOUR_FIELDS):
            known = {f.name for f in fields(self)}
            kind = "data fields read once at start" if set(refused) <= known else "not config fields"
            raise ValueError(f"cannot configure {', '.join(refused)}: {kind}")
        types = {f.name: str(f.type) for f in fields(self)}
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, _TYPES[types[name]]):
                raise ValueError(f"{name} takes {types[name]}, not {value!r}")
            if types[name] == "Collection[str]" and not all(isinstance(i, str) for i in value):
                raise ValueError(f"{name} takes session IDs (strings), not {value!r}")
        checked = replace(self, **changes)  # runs __post_init__: IDs lower-cased, bounds checked
        for name in changes:
            setattr(self, name, getattr(checked, name))
        return {name: _jsonable(getattr(self, name)) for name in changes}


# ID sets, stored lower-cased as the API's IDs are.
SESSION_ID_SETS = (
    "malformed_session_ids",
    "failing_session_ids",
    "failing_transcript_ids",
    "failing_video_ids",
    "failing_qx_test_ids",
    "failing_clip_session_ids",
)
# Fields the sandbox reads on every request; `configure` may change these, and only these.
BEHAVIOUR_FIELDS = frozenset(
    {
        "requests_per_window",
        "window_seconds",
        "error_rate",
        "token_lifetime_seconds",
        "video_link_lifetime_seconds",
        "video_drop_after_bytes",
        "clip_link_lifetime_seconds",
        "clip_generating_polls",
        "arrivals_per_list_request",
        "max_page_size",
        "listing_count_bias",
        "listing_session_field",
        "client_secret",  # a rotated secret: tokens already issued stay valid until they expire
        *SESSION_ID_SETS,
    }
)


# The annotations of the behaviour fields -> the values `configure` accepts (JSON gives lists).
_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "int | None": (int, type(None)),
    "Collection[str]": (list, tuple, set, frozenset),
}


def _jsonable(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value
