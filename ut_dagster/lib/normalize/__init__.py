"""Pure transformations from UserTesting API payloads to warehouse rows (no I/O, no Dagster).

Rows have exactly the columns of a table in schema.py, in order. The session tables' rows are tuples
(`session_rows`), framed by `details_frames`; the smaller tables' rows are dicts, framed by
`to_frame`, which checks their types. Both build frames with `frame_from_tuples`.
"""

from ut_dagster.lib.normalize.detail_frames import SESSION_TABLES, details_frames
from ut_dagster.lib.normalize.details import SessionRows, demographic_values, read_details, session_rows
from ut_dagster.lib.normalize.errors import MalformedPayloadError
from ut_dagster.lib.normalize.frames import frame_from_tuples, to_frame
from ut_dagster.lib.normalize.qx_scores import qx_score_rows
from ut_dagster.lib.normalize.raw_sessions import listing_rows, parse_api_time
from ut_dagster.lib.normalize.transcripts import (
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
