"""Pure transformations from UserTesting API payloads to warehouse rows (no I/O, no Dagster).

Rows have exactly the columns of a table in schema.py, in order. The session tables' rows are tuples
(`session_rows`), framed by `details_frames`; the smaller tables' rows are dicts, framed by
`to_frame`, which checks their types. Both build frames with `frame_from_tuples`.
"""

from dagster_usertesting.lib.normalize.detail_frames import SESSION_TABLES, details_frames
from dagster_usertesting.lib.normalize.details import (
    SessionRows,
    demographic_values,
    read_details,
    session_rows,
)
from dagster_usertesting.lib.normalize.errors import MalformedPayloadError
from dagster_usertesting.lib.normalize.frames import frame_from_tuples, to_frame
from dagster_usertesting.lib.normalize.qx_scores import qx_score_rows
from dagster_usertesting.lib.normalize.raw_sessions import listing_rows, parse_api_time
from dagster_usertesting.lib.normalize.transcripts import (
    Cue,
    chunk_rows,
    decode_transcript,
    parse_cues,
    plain_text,
    transcript_rows,
)

__all__ = [
    "SESSION_TABLES",
    "Cue",
    "MalformedPayloadError",
    "SessionRows",
    "chunk_rows",
    "decode_transcript",
    "demographic_values",
    "details_frames",
    "frame_from_tuples",
    "listing_rows",
    "parse_api_time",
    "parse_cues",
    "plain_text",
    "qx_score_rows",
    "read_details",
    "session_rows",
    "to_frame",
    "transcript_rows",
]
