"""The warehouse tables this project owns: names, fixed column order, types and meaning.

One list serves the normalizers (rows come out in this order), the warehouse DDL (tables are created
before the first write, so empty partitions and first writes behave), the asset descriptions and
the dbt sources. Every table lives in the `usertesting` schema and carries `test_id`, the partition
column.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import TableSchema

SCHEMA = "usertesting"
PARTITION_COLUMN = "test_id"
SESSION_COLUMN = "session_id"


@dataclass(frozen=True)
class TypeNames:
    duckdb: str
    snowflake: str
    pandas: str
    dbt: str


class LogicalType(StrEnum):
    """A column's type, with its name in each place a table is spelled out.

    JSON is kept as text in the raw tables and parsed in dbt staging: a JSON string loaded into a
    Snowflake VARIANT through parquet can end up as a string scalar. Snowflake gets TIMESTAMP_NTZ
    because frames carry naive UTC. The dbt type is valid in DuckDB and Snowflake alike (dbt docs,
    Dagster's column schema, the casts of the source_or_empty macro).
    """

    STRING = "string"
    JSON = "json"
    TIMESTAMP = "timestamp"
    BIGINT = "bigint"
    DOUBLE = "double"
    BOOLEAN = "boolean"

    @property
    def duckdb(self) -> str:
        return _TYPE_NAMES[self].duckdb

    @property
    def snowflake(self) -> str:
        return _TYPE_NAMES[self].snowflake

    @property
    def pandas(self) -> str:
        return _TYPE_NAMES[self].pandas

    @property
    def dbt(self) -> str:
        return _TYPE_NAMES[self].dbt


_TYPE_NAMES: dict[LogicalType, TypeNames] = {
    LogicalType.STRING: TypeNames("VARCHAR", "VARCHAR", "object", "varchar"),
    LogicalType.JSON: TypeNames("VARCHAR", "VARCHAR", "object", "varchar"),
    LogicalType.TIMESTAMP: TypeNames("TIMESTAMP", "TIMESTAMP_NTZ", "datetime64[ns]", "timestamp"),
    LogicalType.BIGINT: TypeNames("BIGINT", "NUMBER(38,0)", "Int64", "bigint"),
    LogicalType.DOUBLE: TypeNames("DOUBLE", "FLOAT", "float64", "double"),
    LogicalType.BOOLEAN: TypeNames("BOOLEAN", "BOOLEAN", "boolean", "boolean"),
}

STRING = LogicalType.STRING
JSON = LogicalType.JSON
TIMESTAMP = LogicalType.TIMESTAMP
BIGINT = LogicalType.BIGINT
DOUBLE = LogicalType.DOUBLE
BOOLEAN = LogicalType.BOOLEAN


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    description: str
    # False: the warehouse column is NOT NULL, so a row without it is refused by the warehouse too.
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # False: one table for the credential, not one partition per test; a write replaces all of it.
    partitioned: bool = True

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def has_sessions(self) -> bool:
        """Whether rows belong to sessions, so a write can replace some sessions of a test."""
        return SESSION_COLUMN in self.column_names


def column_schema(table: Table) -> TableSchema:
    """The table's columns for Dagster's `dagster/column_schema` metadata: types, meaning, nullability."""
    from dagster import TableColumn, TableColumnConstraints, TableSchema

    return TableSchema(
        columns=[
            TableColumn(
                name=c.name,
                type=c.type.dbt,
                description=c.description,
                constraints=TableColumnConstraints(nullable=c.nullable),
            )
            for c in table.columns
        ]
    )


def _c(name: str, type_: LogicalType, description: str, nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable)


TEST_ID = _c("test_id", STRING, "UserTesting test (study) the row belongs to; the partition key.", False)
SESSION_ID = _c("session_id", STRING, "UserTesting session: one participant taking the test.", False)
PARTICIPANT_ID = _c("participant_id", STRING, "Participant who took the session (null when not shared).")
EXTRACTED_AT = _c("extracted_at", TIMESTAMP, "When ut-dagster received this data from the API (UTC).")

RAW_SESSIONS = Table(
    "raw_sessions",
    "Every completed session of a test as the session listing reports it.",
    (
        TEST_ID,
        SESSION_ID,
        _c("status", STRING, "Session status from the listing (the API lists COMPLETE sessions)."),
        _c("start_time", TIMESTAMP, "When the participant started the session (UTC)."),
        _c("finish_time", TIMESTAMP, "When the participant finished the session (UTC); may be null."),
        _c("audience_id", STRING, "Audience the participant was recruited from; null if none."),
        EXTRACTED_AT,
    ),
)

SESSION_DETAILS = Table(
    "session_details",
    "The full structured result of each session (v3 API payload), kept whole as JSON text.",
    (
        TEST_ID,
        SESSION_ID,
        _c("details_json", JSON, "The v3 session result exactly as served, as JSON text."),
        EXTRACTED_AT,
    ),
)

SESSIONS = Table(
    "sessions",
    "One row per session with who took it and which audience and test plan it came from.",
    (
        TEST_ID,
        SESSION_ID,
        PARTICIPANT_ID,
        _c("audience_id", STRING, "Audience the participant was recruited from; null if none."),
        _c("test_plan_id", STRING, "Test plan the session followed."),
        _c("task_count", BIGINT, "Number of tasks in the session result."),
        _c("task_group_count", BIGINT, "Number of task groups (QXscore, balanced comparison) in the result."),
        _c("demographic_count", BIGINT, "Number of demographic answers the participant shared."),
        EXTRACTED_AT,
    ),
)

DEMOGRAPHICS = Table(
    "demographics",
    "Participants' answers to demographic screener questions, one row per question per session.",
    (
        TEST_ID,
        SESSION_ID,
        PARTICIPANT_ID,
        _c("demographic_id", STRING, "ID of the demographic question."),
        _c("demographic_code", STRING, "Question category, e.g. GENDER, AGE_GROUP, INCOME."),
        _c("label", STRING, "The question as the participant saw it."),
        _c("value", STRING, "The answer as served; multiple answers are comma-separated."),
        _c("values_json", JSON, "The answer split into a JSON array of values (one per selection)."),
        _c("type", STRING, "DEMOGRAPHIC_QUESTION_TYPE_SINGLE, _MULTIPLE, or whatever the API sends."),
        _c("position", BIGINT, "Order of the question in the participant's profile (0-based)."),
        EXTRACTED_AT,
    ),
)

TASK_GROUPS = Table(
    "task_groups",
    "Task groups of each session: QXscore questionnaires and balanced comparisons with their responses.",
    (
        TEST_ID,
        SESSION_ID,
        PARTICIPANT_ID,
        _c("task_group_uuid", STRING, "ID of the task group."),
        _c("task_group_type", STRING, "QX_SCORE, BALANCED_COMPARISON, UNRECOGNIZED or a newer type."),
        _c("task_group_response", JSON, "The group's response exactly as served, as JSON text."),
        _c("qx_score", DOUBLE, "The participant's QXscore (0-100) for QX_SCORE groups."),
        _c("comparison_sequence", STRING, "Order the participant saw the variants in (e.g. BA)."),
        _c("position", BIGINT, "Order of the group in the session result (0-based)."),
        EXTRACTED_AT,
    ),
)

TASKS = Table(
    "tasks",
    "Every task of every session with timing, skip flag and the participant's answer.",
    (
        TEST_ID,
        SESSION_ID,
        PARTICIPANT_ID,
        _c("task_uuid", STRING, "ID of the task (the same task across sessions of a test)."),
        _c("task_text", STRING, "The task prompt."),
        _c("task_type", STRING, "RATING_SCALE, MULTIPLE_CHOICE, NPS, WRITTEN, ... or a newer type."),
        _c("position", BIGINT, "Order of the task in the session (0-based)."),
        _c("start_time_ms", BIGINT, "Task start, milliseconds since session start."),
        _c("end_time_ms", BIGINT, "Task end, milliseconds since session start."),
        _c("duration_ms", BIGINT, "Time on task in milliseconds (end minus start)."),
        _c("skipped", BOOLEAN, "Whether the participant skipped the task."),
        _c("answer_json", JSON, "The answer exactly as served, as JSON text (shape depends on task type)."),
        _c("nps_score", BIGINT, "Net Promoter Score answer (0-10) where the answer shape is recognised."),
        _c("rating_value", DOUBLE, "Rating-scale answer where the answer shape is recognised."),
        _c("answer_text", STRING, "Free-text or selected option(s) where the answer shape is recognised."),
        EXTRACTED_AT,
    ),
)

TRANSCRIPTS = Table(
    "transcripts",
    "What participants said in think-out-loud and live-conversation sessions, as WebVTT and plain text.",
    (
        TEST_ID,
        SESSION_ID,
        _c("transcript_vtt", STRING, "The WebVTT transcript exactly as served."),
        _c("transcript_plain_text", STRING, "Spoken text only: no timestamps, cue settings, notes or tags."),
        _c("cue_count", BIGINT, "Number of cues in the transcript."),
        _c("duration_ms", BIGINT, "End of the last cue, milliseconds since session start."),
        EXTRACTED_AT,
    ),
)

TRANSCRIPT_CHUNKS = Table(
    "transcript_chunks",
    "Transcripts cut into timed chunks of bounded size, ready for embedding and LLM prompts.",
    (
        TEST_ID,
        SESSION_ID,
        _c("chunk_index", BIGINT, "Position of the chunk in the transcript (0-based)."),
        _c("start_ms", BIGINT, "Start of the chunk's first cue, ms since session start."),
        _c("end_ms", BIGINT, "End of the chunk's last cue, ms since session start."),
        _c("text", STRING, "Plain text of the chunk."),
        EXTRACTED_AT,
    ),
)

QX_SCORES = Table(
    "qx_scores",
    "The test's QXscore per QX task group: the benchmark of experience quality and its components.",
    (
        TEST_ID,
        _c("task_group_id", STRING, "QX task group the score belongs to."),
        _c("label", STRING, "Label of the QX task group."),
        _c("qx_score", DOUBLE, "Aggregate QXscore (0-100) over completed sessions."),
        _c("behavioral", DOUBLE, "Behavioral component (0-100)."),
        _c("attitudinal", DOUBLE, "Attitudinal component (0-100)."),
        _c("usability", DOUBLE, "Usability sub-score (0-100)."),
        _c("trust", DOUBLE, "Trust sub-score (0-100)."),
        _c("appearance", DOUBLE, "Appearance sub-score (0-100)."),
        _c("loyalty", DOUBLE, "Loyalty sub-score (0-100)."),
        _c("behavioral_values_json", JSON, "Navigational task scores behind the behavioral component."),
        _c("completes", BIGINT, "Completed sessions the score is computed from."),
        _c("total_qx_tasks", BIGINT, "Number of QX task groups in the test."),
        _c("qx_json", JSON, "The score item exactly as served, as JSON text."),
        EXTRACTED_AT,
    ),
)

SESSION_VIDEOS = Table(
    "session_videos",
    "Session recordings archived in your object store, with size and checksum.",
    (
        TEST_ID,
        SESSION_ID,
        _c("video_storage_path", STRING, "Where the video is archived (file path or s3:// URI)."),
        _c("size_bytes", BIGINT, "Size of the archived video in bytes."),
        _c("sha256", STRING, "SHA-256 of the archived bytes, hex."),
        _c("content_type", STRING, "Content type the video host reported."),
        _c("downloaded_at", TIMESTAMP, "When the video was archived (UTC)."),
    ),
)

CLIP_MEDIA = Table(
    "clip_media",
    "Clip and highlight-reel videos archived in your object store, with size and checksum (opt-in).",
    (
        TEST_ID,
        _c("media_kind", STRING, "clip or highlight_reel.", False),
        _c("session_id", STRING, "The clip's session; null for a highlight reel."),
        _c("media_id", STRING, "clip_id in clips, or reel_id in highlight_reels.", False),
        _c("media_storage_path", STRING, "Where the media is archived (file path or s3:// URI)."),
        _c("size_bytes", BIGINT, "Size of the archived media in bytes."),
        _c("sha256", STRING, "SHA-256 of the archived bytes, hex."),
        _c("content_type", STRING, "Content type the media host reported."),
        _c(
            "downloaded_at",
            TIMESTAMP,
            "When the media was archived (UTC); a reel edited later keeps this version.",
        ),
    ),
)

HIGHLIGHT_REELS = Table(
    "highlight_reels",
    "Highlight reels researchers assembled from a test's clips: name, length, clip count, last change.",
    (
        TEST_ID,
        _c("reel_id", STRING, "UserTesting highlight reel ID.", False),
        _c("reel_name", STRING, "The reel's name as researchers gave it."),
        _c("duration_ms", BIGINT, "Length of the reel in milliseconds."),
        _c("num_clips", BIGINT, "Number of clips in the reel."),
        _c("are_all_clips_in_reel", BOOLEAN, "Whether the reel holds every clip of the test."),
        _c("last_updated_at", TIMESTAMP, "When researchers last changed the reel (UTC)."),
        _c(
            "removal_pending",
            BOOLEAN,
            "The latest answer no longer lists the reel; it is removed once a later answer agrees.",
        ),
        _c("reel_json", JSON, "The reel exactly as served, as JSON text."),
        EXTRACTED_AT,
    ),
)

CLIPS = Table(
    "clips",
    "Moments of session videos researchers clipped, named and described: one row per clip.",
    (
        TEST_ID,
        SESSION_ID,
        PARTICIPANT_ID,
        _c("clip_id", STRING, "UserTesting clip ID.", False),
        _c("clip_name", STRING, "The clip's name as researchers gave it."),
        _c("description", STRING, "The researcher's description of the clip; null or empty if none."),
        _c("time_start_ms", BIGINT, "Clip start, milliseconds since the session video started."),
        _c("time_end_ms", BIGINT, "Clip end, milliseconds since the session video started."),
        _c("duration_ms", BIGINT, "Length of the clip in milliseconds (end minus start)."),
        _c("has_audio", BOOLEAN, "Whether the clip has audio."),
        _c("has_camera", BOOLEAN, "Whether the clip shows the participant's camera."),
        _c("video_id", STRING, "The session video the clip was cut from."),
        _c("main_stream", STRING, "Stream the clip shows large: SCREEN, CAMERA or a newer value."),
        _c(
            "pip_position", STRING, "Picture-in-picture corner: TOP_LEFT, BOTTOM_RIGHT, ... or a newer value."
        ),
        _c("pip_state", STRING, "Picture-in-picture OPENED or CLOSED (or a newer value)."),
        _c(
            "removal_pending",
            BOOLEAN,
            "The latest answer no longer lists the clip; it is removed once a later answer agrees.",
        ),
        _c("clip_json", JSON, "The clip exactly as served, as JSON text."),
        EXTRACTED_AT,
    ),
)

CLIP_TRANSCRIPTS = Table(
    "clip_transcripts",
    "What the participant said during each clip: the transcript cues overlapping the clip, as text.",
    (
        TEST_ID,
        SESSION_ID,
        _c("clip_id", STRING, "UserTesting clip ID (join to clips).", False),
        _c("time_start_ms", BIGINT, "Clip start, milliseconds since the session video started."),
        _c("time_end_ms", BIGINT, "Clip end, milliseconds since the session video started."),
        _c("cue_count", BIGINT, "Transcript cues overlapping the clip."),
        _c("transcript_text", STRING, "Plain text of those cues, in order; empty when nothing was said."),
        _c("extracted_at", TIMESTAMP, "The newer of the clip's and the transcript's receipt (UTC)."),
    ),
)

TESTS = Table(
    "tests",
    "Every test (study) the credential can see, from the legacy v1 workspaces API: title, kind and "
    "workspace. Refreshed whole, daily; join on test_id to name tests.",
    (
        _c("test_id", STRING, "UserTesting test (study) ID; one row per test.", False),
        _c("title", STRING, "The test's title as researchers named it."),
        _c(
            "product_type",
            STRING,
            "Kind of research, upper-cased: THINK_OUT_LOUD, LIVE_CONVERSATION, NON_THINK_OUT_LOUD, "
            "INSIGHT_CORE (classic), ... or a newer value.",
        ),
        _c(
            "study_type",
            STRING,
            "Delivery format (v1 `type`), upper-cased: STUDYV2 for tests the Results API serves; WEB, "
            "APP, PROTOTYPE, LIVE, ... for classic ones.",
        ),
        _c("workspace_id", STRING, "UUID of the first workspace that lists the test."),
        _c("workspace_name", STRING, "Name of that workspace."),
        _c("ordered_at", TIMESTAMP, "When the test was ordered (launched) (UTC)."),
        _c(
            "syncable",
            BOOLEAN,
            "Whether the Results API serves the test's sessions (study_type STUDYV2); classic tests "
            "cannot be synced.",
        ),
        EXTRACTED_AT,
    ),
    partitioned=False,
)

ALL_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        RAW_SESSIONS,
        SESSION_DETAILS,
        SESSIONS,
        DEMOGRAPHICS,
        TASK_GROUPS,
        TASKS,
        TRANSCRIPTS,
        TRANSCRIPT_CHUNKS,
        QX_SCORES,
        SESSION_VIDEOS,
        HIGHLIGHT_REELS,
        CLIPS,
        CLIP_TRANSCRIPTS,
        CLIP_MEDIA,
        TESTS,
    )
}
