"""Transcripts as served (bytes): never a crash, always loadable, nothing said is lost.

"Faithfully" for a text column means: valid UTF-8 is kept exactly (it encodes back to the bytes
served, BOM included); an invalid byte sequence reads as U+FFFD, as in a browser's WebVTT parser,
and costs that character only, not the session. The bytes as served stay in the landing area.
Anything that is not WebVTT at all is MalformedPayloadError, which the asset records as a failed
session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dagster_usertesting.lib.normalize import (
    Cue,
    MalformedPayloadError,
    chunk_rows,
    decode_transcript,
    parse_cues,
    plain_text,
    transcript_rows,
)
from dagster_usertesting.lib.schema import TRANSCRIPT_CHUNKS, TRANSCRIPTS

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

VALID_TIMESTAMPS = st.one_of(
    st.builds(
        "{:02d}:{:02d}:{:02d}.{:03d}".format,
        st.integers(0, 10**9),
        st.integers(0, 59),
        st.integers(0, 59),
        st.integers(0, 999),
    ),
    st.builds("{:02d}:{:02d}.{:03d}".format, st.integers(0, 59), st.integers(0, 59), st.integers(0, 999)),
)
# Valid forms are repeated so that most generated transcripts have cues to check.
TIMESTAMPS = st.one_of(
    VALID_TIMESTAMPS,
    VALID_TIMESTAMPS,
    VALID_TIMESTAMPS,
    st.builds("{:02d}:{:02d},{:03d}".format, st.integers(0, 59), st.integers(0, 59), st.integers(0, 999)),
    st.sampled_from(["00:00:99.000", "1:2:3", "-00:01.000", ""]),
    st.text(max_size=12),
)
TIMING = st.builds(
    "{} --> {}{}".format, TIMESTAMPS, TIMESTAMPS, st.sampled_from(["", " align:start line:0", " -->"])
).map(str.encode)
CUE_TEXT = st.one_of(
    st.text(min_size=1, max_size=60),
    st.text(min_size=1, max_size=60),
    st.text(min_size=1, max_size=60),
    st.sampled_from(
        ["<v Moderator>So</v>", "&amp; &lt;b&gt; &nbsp;", "<c.x><i></i></c>", "<00:00:01.000>", ""]
    ),
    st.just(5_000).map("word ".__mul__),
).map(str.encode)
# Bytes that are not UTF-8: a lone continuation byte, Latin-1 "é", a truncated emoji, an overlong
# encoding, a UTF-16 surrogate encoded in UTF-8, a byte no UTF-8 ever holds.
BAD_BYTES = st.sampled_from([b"\x80", b"caf\xe9", b"\xf0\x9f\x98", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff"])
TEXT_LINE = st.one_of(
    CUE_TEXT, CUE_TEXT, st.builds(bytes.__add__, CUE_TEXT, BAD_BYTES), st.binary(max_size=20)
)
# A cue (optional identifier, timing line, text lines), a NOTE/STYLE block or stray lines.
BLOCK = st.one_of(
    st.builds(
        lambda ident, timing, lines: [*ident, timing, *lines],
        st.sampled_from([[], [b"intro-1"], [b"2"]]),
        TIMING,
        st.lists(TEXT_LINE, min_size=1, max_size=3),
    ),
    st.sampled_from([[b"NOTE a note", b"on two lines"], [b"STYLE", b"::cue { color: red }"], [b"-->"]]),
    st.lists(TEXT_LINE, min_size=1, max_size=2),
)
WEBVTT_HEADERS = st.sampled_from([b"WEBVTT", b"\xef\xbb\xbfWEBVTT", b"WEBVTT - title \xe9", b"\n\nWEBVTT"])
OTHER_HEADERS = st.sampled_from([b"WEBVTTX", b"", b"\xff\xfeW\x00E\x00", b"<html>", b"1"])


def transcripts_as_served(headers: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda header, blocks, separators, newline: newline.join(
            [
                header,
                *(
                    line
                    for block, blank in zip(blocks, separators, strict=False)
                    for line in [*blank, *block]
                ),
            ]
        ),
        headers,
        st.lists(BLOCK, min_size=1, max_size=6),
        # Blank lines before each block: usually one, sometimes none (cues run together) or several.
        st.lists(st.sampled_from([[b""], [], [b"", b""]]), min_size=6, max_size=6),
        st.sampled_from([b"\n", b"\r\n", b"\r"]),
    )


def _words(text: str) -> str:
    return "".join(text.split())


@given(body=transcripts_as_served(WEBVTT_HEADERS), max_chars=st.integers(1, 80))
@example(body=b"WEBVTT\n\n00:01.000 --> 00:02.000\ncaf\xe9 \xf0\x9f\x98 ok\n", max_chars=5)
@example(
    body=b"\xef\xbb\xbfWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\n\r\n00:02.000 --> 00:03.000\r\nhi",
    max_chars=1,
)
def test_a_webvtt_transcript_always_gives_rows_that_load(
    body: bytes, max_chars: int, warehouse: Callable[..., Any]
) -> None:
    [row] = transcript_rows(TEST_ID, SESSION_ID, body, AT)
    text = decode_transcript(body)
    assert row["transcript_vtt"] == text
    cues = parse_cues(body)
    assert cues == parse_cues(text)
    assert (row["cue_count"], row["transcript_plain_text"]) == (len(cues), plain_text(cues))
    assert all(cue.text and cue.text == " ".join(cue.text.split()) for cue in cues)
    warehouse(TRANSCRIPTS, [row])

    chunks = chunk_rows(TEST_ID, SESSION_ID, cues, AT, max_chars)
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c["text"]) <= max_chars for c in chunks)
    # Every non-blank character said is in exactly one chunk, in order.
    assert _words("".join(c["text"] for c in chunks)) == _words(row["transcript_plain_text"])
    warehouse(TRANSCRIPT_CHUNKS, chunks)


@given(body=transcripts_as_served(OTHER_HEADERS) | st.binary(max_size=200))
def test_anything_else_gives_rows_or_says_it_is_not_webvtt(body: bytes) -> None:
    try:
        transcript_rows(TEST_ID, SESSION_ID, body, AT)
    except MalformedPayloadError as error:
        assert "transcript is not WebVTT" in str(error)


def test_valid_utf8_is_kept_byte_for_byte() -> None:
    body = "\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nTrès bien 👍🏽 漢字\r\n".encode()
    [row] = transcript_rows(TEST_ID, SESSION_ID, body, AT)
    assert row["transcript_vtt"].encode("utf-8") == body
    assert row["transcript_plain_text"] == "Très bien 👍🏽 漢字"


def test_invalid_bytes_cost_one_character_not_the_session(warehouse: Callable[..., Any]) -> None:
    body = b"WEBVTT\n\n00:01.000 --> 00:02.000\ncaf\xe9 cr\xe8me\n\n00:02.000 --> 00:03.000\nfine \xff\n"
    [row] = transcript_rows(TEST_ID, SESSION_ID, body, AT)
    assert row["transcript_plain_text"] == "caf\ufffd cr\ufffdme\nfine \ufffd"
    assert row["cue_count"] == 2
    warehouse(TRANSCRIPTS, [row])


def test_a_utf16_transcript_is_a_failed_session_that_says_why() -> None:
    body = "WEBVTT\n\n00:01.000 --> 00:02.000\nhello\n".encode("utf-16")
    with pytest.raises(MalformedPayloadError, match="looks UTF-16 encoded; WebVTT must be UTF-8"):
        transcript_rows(TEST_ID, SESSION_ID, body, AT)


def test_lone_surrogates_in_text_become_replacement_characters(warehouse: Callable[..., Any]) -> None:
    [row] = transcript_rows(TEST_ID, SESSION_ID, "WEBVTT\n\n00:01.000 --> 00:02.000\nbad \ud800 text\n", AT)
    assert row["transcript_plain_text"] == "bad \ufffd text"
    warehouse(TRANSCRIPTS, [row])


def test_empty_cues_and_a_transcript_of_only_empty_cues() -> None:
    body = b"WEBVTT\n\n00:01.000 --> 00:02.000\n\n00:02.000 --> 00:03.000\n<i> </i>&nbsp;\n"
    [row] = transcript_rows(TEST_ID, SESSION_ID, body, AT)
    assert (row["cue_count"], row["transcript_plain_text"], row["duration_ms"]) == (0, "", None)
    assert chunk_rows(TEST_ID, SESSION_ID, parse_cues(body), AT) == []


def test_huge_cues_are_chunked_within_bounds_and_lose_nothing(warehouse: Callable[..., Any]) -> None:
    # A 3 MB cue of words and a 1 MB "word" without spaces (cut hard), as one transcript.
    words = " ".join(f"mot{i}" for i in range(400_000))
    body = f"WEBVTT\n\n00:00.000 --> 00:10.000\n{words}\n\n00:10.000 --> 00:20.000\n{'x' * 1_000_000}\n"
    cues = parse_cues(body.encode())
    chunks = chunk_rows(TEST_ID, SESSION_ID, cues, AT, max_chars=1500)
    assert [cue.text for cue in cues] == [words, "x" * 1_000_000]
    assert all(len(c["text"]) <= 1500 for c in chunks)
    assert _words("".join(c["text"] for c in chunks)) == _words(words + "x" * 1_000_000)
    assert chunks[0]["start_ms"] == 0 and chunks[-1]["end_ms"] == 20_000
    warehouse(TRANSCRIPT_CHUNKS, chunks)


def test_bytes_and_text_give_the_same_rows() -> None:
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>Hello</v>\n"
    assert transcript_rows(TEST_ID, SESSION_ID, text.encode(), AT) == transcript_rows(
        TEST_ID, SESSION_ID, text, AT
    )
    assert parse_cues(text.encode()) == [Cue(1000, 2000, "Hello", "Ann")]
