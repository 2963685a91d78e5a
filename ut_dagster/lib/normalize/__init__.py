"""Pure transformations from UserTesting API payloads to warehouse rows (no I/O, no Dagster).

Each function returns rows whose keys are exactly the columns of a table in schema.py, in order;
`to_frame` turns them into a DataFrame with stable dtypes.
"""

from ut_dagster.lib.normalize.detail_frames import DetailFrames, details_frames
from ut_dagster.lib.normalize.details import (
    demographic_values,
    details_rows,
    parse_details,
    session_details_row,
)
from ut_dagster.lib.normalize.errors import MalformedPayloadError
from ut_dagster.lib.normalize.frames import to_frame
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
    "Cue",
    "DetailFrames",
    "MalformedPayloadError",
    "chunk_rows",
    "decode_transcript",
    "demographic_values",
    "details_frames",
    "details_rows",
    "listing_rows",
    "parse_api_time",
    "parse_cues",
    "parse_details",
    "plain_text",
    "qx_score_rows",
    "session_details_row",
    "to_frame",
    "transcript_rows",
]
