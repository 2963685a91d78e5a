"""WebVTT transcripts (GET /api/v2/sessionResults/{id}/transcript) to TRANSCRIPTS and chunk rows.

Parsing uses webvtt-py (0.6): it already handles a BOM, CRLF/CR line ends, header text and metadata,
NOTE/STYLE/REGION blocks, cue identifiers and settings, `mm:ss.ttt` timestamps, cues not separated
by a blank line, and skips a malformed cue (bad timestamp) instead of failing the file. Two gaps of
real-world files are patched on a copy of the text before parsing: blank lines or spaces before
"WEBVTT", and SRT-style commas in timestamps ("00:00:01,000"), which webvtt-py would otherwise drop
without a word, silently losing the whole transcript. The library strips cue tags but leaves HTML
entities, so they are decoded here, after the tags are gone (so "&lt;b&gt;" stays text).

Bytes are decoded as the WebVTT standard's parser does: WebVTT is UTF-8 only, and a byte sequence
that is not UTF-8 reads as U+FFFD instead of failing the file (see `decode_transcript`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import webvtt
from webvtt.errors import MalformedFileError

from dagster_usertesting.lib.normalize.errors import MalformedPayloadError, kind_of
from dagster_usertesting.lib.normalize.values import table_row, valid_text
from dagster_usertesting.lib.schema import TRANSCRIPT_CHUNKS, TRANSCRIPTS

DEFAULT_MAX_CHARS = 1500
# Cue texts are joined with newlines in the plain text and in chunks, so the chunks of a
# transcript read back to its plain text.
CUE_SEPARATOR = "\n"

_COMMA_TIMESTAMP = re.compile(r"(\d{1,2}:\d{2}),(\d{1,3})(?=\s|-|$)")


@dataclass(frozen=True)
class Cue:
    """One cue: times in ms since session start; text without tags, entities decoded, on one line."""

    start_ms: int
    end_ms: int
    text: str
    # The speaker of a `<v Name>` voice span, useful to tell interviewer from participant.
    voice: str | None = None


def decode_transcript(body: bytes) -> str:
    """The text of a transcript as served, for the `transcript_vtt` column.

    Valid UTF-8 decodes exactly (a BOM included: the text encodes back to the same bytes). Each
    invalid byte sequence becomes U+FFFD, so one bad byte costs one character, not the session; the
    bytes as served stay in the landing area.
    """
    return body.decode("utf-8", errors="replace")


def _as_text(vtt: str | bytes) -> str:
    if isinstance(vtt, bytes | bytearray):
        return decode_transcript(bytes(vtt))
    if isinstance(vtt, str):
        return valid_text(vtt)
    raise MalformedPayloadError(f"transcript is {kind_of(vtt)}, expected WebVTT text")


def parse_cues(vtt: str | bytes) -> list[Cue]:
    """The cues of a WebVTT text (or its bytes as served), in file order.

    Lines of a cue are joined with spaces and whitespace (including &nbsp;) collapsed. Cues with no
    text left are dropped: they carry nothing to read or embed. Raises MalformedPayloadError when
    the text is not WebVTT at all (an HTML error page, JSON, an SRT file, UTF-16).
    """
    vtt = _as_text(vtt)
    try:
        document = webvtt.from_string(_repair(vtt))
    except MalformedFileError as error:
        preview = vtt.lstrip("\ufeff")[:40]
        # NUL bytes between letters: the usual way a transcript saved by a Windows tool looks.
        hint = " (it looks UTF-16 encoded; WebVTT must be UTF-8)" if "\x00" in preview else ""
        raise MalformedPayloadError(
            f"transcript is not WebVTT: it must start with 'WEBVTT' but starts with {preview!r}{hint}"
        ) from error
    cues: list[Cue] = []
    for caption in document.captions:
        text = " ".join(html.unescape(caption.text).split())
        if text:
            cues.append(
                Cue(
                    start_ms=caption.start_time.in_milliseconds(),
                    end_ms=caption.end_time.in_milliseconds(),
                    text=text,
                    voice=caption.voice,
                )
            )
    return cues


def _repair(vtt: str) -> str:
    text = vtt.lstrip("\ufeff \t\r\n")
    if "," not in text:
        return text
    lines = [_COMMA_TIMESTAMP.sub(r"\1.\2", line) if "-->" in line else line for line in text.split("\n")]
    return "\n".join(lines)


def plain_text(cues: list[Cue]) -> str:
    """Spoken text only, one cue per line."""
    return CUE_SEPARATOR.join(cue.text for cue in cues)


def transcript_rows(
    test_id: str, session_id: str, vtt: str | bytes, extracted_at: datetime
) -> list[dict[str, Any]]:
    """One TRANSCRIPTS row: the VTT as served plus its plain text, cue count and duration.

    `vtt` is the text or the bytes as served (decoded by `decode_transcript`). duration_ms is the
    latest cue end (null without cues).
    """
    vtt = _as_text(vtt)
    cues = parse_cues(vtt)
    return [
        table_row(
            TRANSCRIPTS,
            test_id=test_id,
            session_id=session_id,
            transcript_vtt=vtt,
            transcript_plain_text=plain_text(cues),
            cue_count=len(cues),
            duration_ms=max((cue.end_ms for cue in cues), default=None),
            extracted_at=extracted_at,
        )
    ]


def chunk_rows(
    test_id: str,
    session_id: str,
    cues: list[Cue],
    extracted_at: datetime,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[dict[str, Any]]:
    """TRANSCRIPT_CHUNKS rows: consecutive cues packed greedily into chunks of at most max_chars.

    Cue texts in a chunk are joined with newlines, so the chunk texts joined with newlines give the
    plain text back. No overlap between chunks: every cue's text is in exactly one chunk. A cue longer
    than max_chars is cut at word boundaries (a single longer word is cut hard) into pieces that all
    carry the cue's times and are packed like cues, because embedding inputs need the bound to hold.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    pieces: list[Cue] = []
    for cue in cues:
        pieces.extend(_split_cue(cue, max_chars))

    groups: list[list[Cue]] = []
    size = 0
    for piece in pieces:
        added = len(piece.text) + (len(CUE_SEPARATOR) if groups and groups[-1] else 0)
        if groups and size + added <= max_chars:
            groups[-1].append(piece)
            size += added
        else:
            groups.append([piece])
            size = len(piece.text)
    return [
        table_row(
            TRANSCRIPT_CHUNKS,
            test_id=test_id,
            session_id=session_id,
            chunk_index=index,
            start_ms=group[0].start_ms,
            end_ms=group[-1].end_ms,
            text=plain_text(group),
            extracted_at=extracted_at,
        )
        for index, group in enumerate(groups)
    ]


def _split_cue(cue: Cue, max_chars: int) -> list[Cue]:
    if len(cue.text) <= max_chars:
        return [cue]
    parts: list[str] = []
    current = ""
    for word in cue.text.split(" "):
        while len(word) > max_chars:
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:max_chars])
            word = word[max_chars:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= max_chars:
            current = f"{current} {word}"
        else:
            parts.append(current)
            current = word
    if current:
        parts.append(current)
    return [Cue(cue.start_ms, cue.end_ms, part, cue.voice) for part in parts]
