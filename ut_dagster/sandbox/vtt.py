"""WebVTT transcripts with the variety real files have.

Features are keyed on the session's ordinal so every transcript study is sure to contain each one:
header text after WEBVTT or metadata lines, NOTE and STYLE blocks, cue identifiers, cue settings,
voice tags (closed or not), <i>/<b> tags, multi-line cues, mm:ss.ttt short timestamps, hours past 1:00
in long live conversations, overlapping cues, HTML entities, CRLF line endings, extra blank lines,
a byte order mark (ordinal 3) and a transcript without a single cue (ordinal 7).
"""

from __future__ import annotations

from datetime import timedelta
from random import Random

from .config import LIVE_CONVERSATION
from .models import SessionRecord

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
    if short and hours == 0:
        return f"{minutes:02d}:{seconds:02d}.{millis:03d}"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _decorate(text: str, rng: Random) -> str:
    words = text.split(" ")
    if len(words) > 3 and rng.random() < 0.2:
        at = rng.randrange(len(words))
        tag = rng.choice("ib")
        words[at] = f"<{tag}>{words[at]}</{tag}>"
    if len(words) > 6 and rng.random() < 0.4:
        middle = len(words) // 2
        return " ".join(words[:middle]) + "\n" + " ".join(words[middle:])
    text = " ".join(words)
    if rng.random() < 0.08:
        text += " <i>[inaudible]</i>"
    return text


def _cue_text(speaker: str | None, rng: Random) -> str:
    pool = MODERATOR_LINES if speaker == "Moderator" else SPOKEN_LINES
    text = _decorate(_escape(rng.choice(pool)), rng)
    if rng.random() < 0.05:
        text = text.replace("€", "&nbsp;€", 1) if "€" in text else text + "&nbsp;…"
    if speaker is None:
        return text
    closing = "</v>" if rng.random() < 0.2 else ""
    return f"<v {speaker}>{text}{closing}"


def _duration_ms(record: SessionRecord) -> int:
    if record.finish_time is None:
        return 20 * 60_000
    return max(60_000, int((record.finish_time - record.start_time) / timedelta(milliseconds=1)))


def _cues(record: SessionRecord, kind: str, rng: Random, ordinal: int) -> list[str]:
    live = kind == LIVE_CONVERSATION
    short = ordinal % 3 == 0
    count = rng.randint(8, 24)
    step = _duration_ms(record) // (count + 1)
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
    separator = "\n\n\n" if ordinal % 6 == 5 else "\n\n"
    text = separator.join(blocks) + "\n"
    if ordinal % 4 == 1:
        text = text.replace("\n", "\r\n")
    if ordinal == 3:
        text = "\ufeff" + text
    return text
