"""A session's media: its WebVTT transcript and its video bytes, made from the seed on demand."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from datetime import timedelta
from random import Random

from .config import LIVE_CONVERSATION
from .records import SessionRecord

# -- WebVTT transcripts ---------------------------------------------------------------------------
# The variety real files have, keyed on the session ordinal so every transcript study has each: header
# text or metadata after WEBVTT, NOTE and STYLE blocks, cue identifiers and settings, voice tags (closed
# or not), <i>/<b>, multi-line cues, mm:ss.ttt timestamps, hours in long interviews, overlapping cues,
# entities, CRLF, extra blank lines, a BOM (ordinal 3) and a transcript without a cue (ordinal 7).

SPOKEN_LINES = (
    "Okay, so I'm on the home page now.",
    "I'm looking for the running shoes… there's a menu at the top.",
    "Hmm, I expected the filter to be on the left.",
    "That was easier than I thought, honestly.",
    "I'd probably pay with PayPal & not a card.",
    "Wait, is this the total including shipping?",
    "C'est un peu confus, la page de paiement.",
    "この色はとても良いと思います。",
    "I really like this 👍",
    "Let me scroll down a bit.",
    "The button says <Continue> but nothing happens.",
    "¿Dónde está el carrito? Ah, there it is.",
    "Honestly I would leave the site at this point.",
    "So far so good, moving on to the next task.",
    "I can't tell whether the coupon worked — it still says €49.99.",
)
MODERATOR_LINES = (
    "Thanks for joining today. Can you see my screen?",
    "Tell me what you'd expect to happen when you click that.",
    "What would you call this feature in your own words?",
    "How does that compare with the app you use today?",
    "Great, let's move on to the sign-up flow.",
)
_HEADERS = ("WEBVTT", "WEBVTT - UserTesting transcript", "WEBVTT\nKind: captions\nLanguage: en-US")
_SETTINGS = ("align:start position:10%", "line:85% align:center", "position:50% size:80%")
_STYLE = (
    "STYLE\n::cue {\n  color: #ffffff;\n  background-color: rgba(0, 0, 0, 0.6);\n}\n"
    '::cue(v[voice="Participant"]) { color: yellow }'
)


def _timestamp(ms: int, short: bool) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return (f"{hours:02d}:" if hours or not short else "") + f"{minutes:02d}:{seconds:02d}.{millis:03d}"


def _cue_text(speaker: str | None, rng: Random) -> str:
    line = rng.choice(MODERATOR_LINES if speaker == "Moderator" else SPOKEN_LINES)
    words = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split(" ")
    if len(words) > 3 and rng.random() < 0.2:
        at, tag = rng.randrange(len(words)), rng.choice("ib")
        words[at] = f"<{tag}>{words[at]}</{tag}>"
    if len(words) > 6 and rng.random() < 0.4:
        text = " ".join(words[: len(words) // 2]) + "\n" + " ".join(words[len(words) // 2 :])
    else:
        text = " ".join(words) + (" <i>[inaudible]</i>" if rng.random() < 0.08 else "")
    if rng.random() < 0.05:
        text = text.replace("€", "&nbsp;€", 1) if "€" in text else text + "&nbsp;…"
    if speaker is None:
        return text
    return f"<v {speaker}>{text}{'</v>' if rng.random() < 0.2 else ''}"


def _cues(record: SessionRecord, kind: str, rng: Random, ordinal: int) -> list[str]:
    live, short = kind == LIVE_CONVERSATION, ordinal % 3 == 0
    duration = 20 * 60_000
    if record.finish_time is not None:
        duration = max(60_000, int((record.finish_time - record.start_time) / timedelta(milliseconds=1)))
    count = rng.randint(8, 24)
    step = duration // (count + 1)
    blocks, clock = [], 0
    for n in range(1, count + 1):
        length = rng.randint(1500, min(9000, max(1600, step)))
        start = max(clock, (n - 1) * step + rng.randint(500, max(600, step // 3)))
        if live and n > 1 and rng.random() < 0.15:
            start = max(0, clock - rng.randint(200, 1200))  # crosstalk: cues overlap
        end = start + length
        if live:
            speaker: str | None = "Moderator" if n % 2 else "Participant"
        else:
            speaker = "Participant" if rng.random() < 0.8 else None
        identifier = ("", f"{n}\n", f"cue-{n}\n")[(ordinal // 2 + n) % 3 if ordinal % 4 else 0]
        timing = f"{_timestamp(start, short)} --> {_timestamp(end, short)}"
        if rng.random() < 0.15:
            timing += " " + rng.choice(_SETTINGS)
        blocks.append(f"{identifier}{timing}\n{_cue_text(speaker, rng)}")
        if ordinal % 5 == 0 and n == count // 2:
            blocks.append("NOTE the participant switched tabs here")
        clock = end
    return blocks


def transcript(seed: int, record: SessionRecord, kind: str) -> str:
    """The WebVTT text served for one session, exactly as it goes on the wire (decoded as UTF-8)."""
    ordinal = record.ordinal
    rng = Random(f"{seed}:vtt:{record.session_id}")
    blocks = [_HEADERS[ordinal % 3]]
    if ordinal % 2 == 0:
        blocks.append("NOTE\nTranscribed automatically; speaker labels may be wrong.\nLanguage: en (94%)")
    if ordinal % 5 == 2:
        blocks.append(_STYLE)
    if ordinal != 7:
        blocks.extend(_cues(record, kind, rng, ordinal))
    text = ("\n\n\n" if ordinal % 6 == 5 else "\n\n").join(blocks) + "\n"
    if ordinal % 4 == 1:
        text = text.replace("\n", "\r\n")
    return "\ufeff" + text if ordinal == 3 else text


# -- video bytes ----------------------------------------------------------------------------------
# An MP4 skeleton (`ftyp` box, 64-bit `mdat` header) then pseudo-random bytes made on the fly, so a
# video of several GB costs one 1 MiB pattern. Each 64 KiB block starts with its own index: bytes
# written at the wrong offset change the checksum.

BLOCK = 64 * 1024
_PATTERN = 16 * BLOCK
_FTYP = struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"


def video_chunks(
    seed: int, session_id: str, size: int, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Bytes [start, end) of a session's video (end defaults to the size), in chunks of at most 64 KiB."""
    end = size if end is None else min(end, size)
    pattern = hashlib.shake_128(f"{seed}:video:{session_id}".encode()).digest(_PATTERN)
    header = _FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", max(0, size - len(_FTYP)))
    position = start
    while position < end:
        index, offset = divmod(position, BLOCK)
        base = (index * BLOCK) % _PATTERN
        block = struct.pack(">Q", index) + pattern[base + 8 : base + BLOCK]
        if index == 0:
            block = header + block[len(header) :]
        piece = block[offset : offset + (end - position)]
        yield piece
        position += len(piece)


def video_sha256(seed: int, session_id: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in video_chunks(seed, session_id, size):
        digest.update(chunk)
    return digest.hexdigest()
