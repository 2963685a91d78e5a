"""WebVTT transcripts to cues, transcript rows and bounded chunks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagster_usertesting.lib.normalize import (
    Cue,
    MalformedPayloadError,
    chunk_rows,
    parse_cues,
    transcript_rows,
)
from dagster_usertesting.lib.schema import TRANSCRIPT_CHUNKS, TRANSCRIPTS

TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

SPEC_EXAMPLE = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello, World!\n\n"
    "00:00:02.000 --> 00:00:04.000\nThis is a VTT example"
)

# Everything real files throw at a parser, in one transcript.
VARIED = "\r\n".join(
    [
        "\ufeffWEBVTT - Session transcript",
        "Kind: captions",
        "Language: en",
        "",
        "NOTE This transcript was machine generated",
        "and reviewed.",
        "",
        "STYLE",
        "::cue { color: yellow }",
        "",
        "REGION",
        "id:speaker width:40% lines:3",
        "",
        "intro-1",
        "00:01.000 --> 00:04.500 align:start position:10% line:0",
        "<v Participant>So I'd click <i>here</i> &amp; then</v>",
        "<c.highlight>wait&nbsp;for it</c> &lt;3 &gt;",
        "",
        "NOTE a note between cues",
        "",
        "2",
        "01:00:05.250 --> 01:00:07.000",
        "<v.loud Moderator Jane>Thanks! <b>Bold</b> <u>move</u> <00:00:06.000>there.",
        "",
        "00:00:99.000 --> 00:01:00.000",
        "a cue with a bad timestamp",
        "",
        "00:08.000 --> 00:09.000",
        "<i></i>",
        "",
        "00:10.000 --> 00:11.000",
        "   spaced     out   ",
        "",
    ]
)


def test_spec_example() -> None:
    assert parse_cues(SPEC_EXAMPLE) == [
        Cue(0, 2000, "Hello, World!"),
        Cue(2000, 4000, "This is a VTT example"),
    ]


def test_real_world_variety() -> None:
    assert parse_cues(VARIED) == [
        Cue(
            1000, 4500, "So I'd click here & then wait\u00a0for it <3 >".replace("\u00a0", " "), "Participant"
        ),
        Cue(3_605_250, 3_607_000, "Thanks! Bold move there.", "Moderator Jane"),
        Cue(10_000, 11_000, "spaced out"),
    ]


def test_plain_text_has_no_markup() -> None:
    [row] = transcript_rows(TEST_ID, SESSION_ID, VARIED, AT)
    text = row["transcript_plain_text"]
    assert text == "So I'd click here & then wait for it <3 >\nThanks! Bold move there.\nspaced out"
    for markup in (
        "-->",
        "NOTE",
        "WEBVTT",
        "<i>",
        "<v",
        "</v>",
        "&amp;",
        "&nbsp;",
        "align:",
        "::cue",
        "intro-1",
    ):
        assert markup not in text


def test_transcript_row() -> None:
    assert transcript_rows(TEST_ID, SESSION_ID, VARIED, AT) == [
        {
            "test_id": TEST_ID,
            "session_id": SESSION_ID,
            "transcript_vtt": VARIED,  # exactly as given, BOM and CRLF included
            "transcript_plain_text": "So I'd click here & then wait for it <3 >\nThanks! Bold move there.\nspaced out",
            "cue_count": 3,
            "duration_ms": 3_607_000,  # the latest cue end, even when cues are out of order
            "extracted_at": AT,
        }
    ]


@pytest.mark.parametrize(
    "vtt", ["WEBVTT", "WEBVTT\n", "\ufeffWEBVTT\r\n\r\n", "WEBVTT\n\nNOTE nothing said\n"]
)
def test_empty_transcript(vtt: str) -> None:
    assert parse_cues(vtt) == []
    [row] = transcript_rows(TEST_ID, SESSION_ID, vtt, AT)
    assert (row["transcript_plain_text"], row["cue_count"], row["duration_ms"]) == ("", 0, None)
    assert list(row) == TRANSCRIPTS.column_names


def test_cues_without_blank_lines_between_them() -> None:
    vtt = "WEBVTT\n00:00:01.000 --> 00:00:02.000\na\n00:00:02.000 --> 00:00:03.000\nb\n"
    assert [c.text for c in parse_cues(vtt)] == ["a", "b"]


def test_cr_only_line_ends() -> None:
    assert parse_cues("WEBVTT\r\r00:01.000 --> 00:02.000\rone\rtwo\r") == [Cue(1000, 2000, "one two")]


def test_leading_blank_lines_and_srt_style_commas_are_tolerated() -> None:
    vtt = "\n\nWEBVTT\n\n00:00:01,500 --> 00:00:02,000\ncomma times\n"
    assert parse_cues(vtt) == [Cue(1500, 2000, "comma times")]


def test_escaped_tags_stay_text() -> None:
    # Tags are stripped before entities are decoded, so escaped markup is kept as the words said.
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\n&lt;b&gt; is a tag &amp;amp; a &quot;quote&quot;\n"
    assert parse_cues(vtt)[0].text == '<b> is a tag &amp; a "quote"'


def test_only_bad_cues_give_no_cues() -> None:
    vtt = "WEBVTT\n\n00:00:61.000 --> 00:00:62.000\nbad\n\nxx --> yy\nworse\n"
    assert parse_cues(vtt) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<html><body>502 Bad Gateway</body></html>",
        '{"errorCode": 404}',
        "1\n00:00:01,000 --> 00:00:02,000\nan SRT file\n",
    ],
)
def test_not_webvtt_raises(text: str) -> None:
    with pytest.raises(MalformedPayloadError, match="transcript is not WebVTT"):
        parse_cues(text)


def test_non_text_raises() -> None:
    with pytest.raises(MalformedPayloadError, match="transcript is null, expected WebVTT text"):
        parse_cues(None)  # type: ignore[arg-type]


def cues_of(*texts: str) -> list[Cue]:
    return [Cue(i * 1000, i * 1000 + 900, text) for i, text in enumerate(texts)]


def test_chunks_pack_consecutive_cues_up_to_max_chars() -> None:
    cues = cues_of("a" * 10, "b" * 10, "c" * 10, "d" * 25, "e" * 5)
    out = chunk_rows(TEST_ID, SESSION_ID, cues, AT, max_chars=32)

    assert [r["text"] for r in out] == [
        "a" * 10 + "\n" + "b" * 10 + "\n" + "c" * 10,
        "d" * 25 + "\n" + "e" * 5,
    ]
    assert [r["chunk_index"] for r in out] == [0, 1]
    assert [(r["start_ms"], r["end_ms"]) for r in out] == [(0, 2900), (3000, 4900)]
    assert all(list(r) == TRANSCRIPT_CHUNKS.column_names for r in out)
    assert all((r["test_id"], r["session_id"], r["extracted_at"]) == (TEST_ID, SESSION_ID, AT) for r in out)


def test_chunks_cover_every_cue_once_in_order() -> None:
    cues = cues_of(*[f"cue number {i} " + "word " * (i % 7) for i in range(200)])
    cues = [Cue(c.start_ms, c.end_ms, c.text.strip()) for c in cues]
    out = chunk_rows(TEST_ID, SESSION_ID, cues, AT, max_chars=120)

    assert all(len(r["text"]) <= 120 for r in out)
    assert "\n".join(r["text"] for r in out) == "\n".join(c.text for c in cues)
    assert [r["chunk_index"] for r in out] == list(range(len(out)))
    assert [r["start_ms"] for r in out] == sorted(r["start_ms"] for r in out)
    assert out[0]["start_ms"] == 0 and out[-1]["end_ms"] == cues[-1].end_ms


def test_a_cue_longer_than_max_chars_is_split_at_words() -> None:
    long_cue = Cue(5000, 9000, "alpha beta gamma delta epsilon " + "x" * 25)
    out = chunk_rows(
        TEST_ID, SESSION_ID, [Cue(0, 1000, "hi"), long_cue, Cue(9000, 9500, "bye")], AT, max_chars=12
    )

    assert [r["text"] for r in out] == [
        "hi",
        "alpha beta",
        "gamma delta",
        "epsilon",
        "x" * 12,
        "x" * 12,
        "x\nbye",
    ]
    assert all(len(r["text"]) <= 12 for r in out)
    assert [(r["start_ms"], r["end_ms"]) for r in out[1:6]] == [(5000, 9000)] * 5
    assert out[-1]["end_ms"] == 9500
    assert " ".join(r["text"] for r in out[1:4]) == "alpha beta gamma delta epsilon"


def test_default_chunk_size_and_empty_input() -> None:
    assert chunk_rows(TEST_ID, SESSION_ID, [], AT) == []
    out = chunk_rows(TEST_ID, SESSION_ID, cues_of(*["w" * 99] * 100), AT)
    assert [len(r["text"]) for r in out] == [1499] * 6 + [999]  # 15 cues of 99 chars + 14 newlines per chunk


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_rows(TEST_ID, SESSION_ID, cues_of("a"), AT, max_chars=0)


def test_parse_then_chunk_reads_back_the_plain_text() -> None:
    [row] = transcript_rows(TEST_ID, SESSION_ID, VARIED, AT)
    chunks = chunk_rows(TEST_ID, SESSION_ID, parse_cues(VARIED), AT, max_chars=30)
    assert "\n".join(c["text"] for c in chunks).split() == row["transcript_plain_text"].split()
