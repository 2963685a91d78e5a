"""Typed convenience columns read out of task answers whose inner shape is undocumented.

The spec types `answer.nps`, `answer.ratingScale`, `answer.multipleChoice` and `answer.written` as
bare "object", so these readers guess from plausible shapes: a bare value, or an object with a
telling key (`score`, `value`, `selected`, `text`, ...), looked into at most two levels deep. Keys
are tried in the listed order and the first readable one wins. Anything unrecognised gives None;
`answer_json` always keeps the answer whole, so a wrong guess loses nothing.
"""

from __future__ import annotations

from typing import Any

from dagster_usertesting.lib.normalize.values import as_exact_int, as_float, as_number, valid_text

NPS_KEYS = ("score", "value", "rating", "selected", "selectedValue", "selectedOption", "answer", "nps")
RATING_KEYS = ("value", "score", "rating", "selected", "selectedValue", "selectedOption", "answer")
TEXT_KEYS = ("text", "value", "response", "transcript", "answer", "written")
# Keys that hold the participant's selection, as opposed to the options offered.
SELECTION_KEYS = (
    "selected",
    "selectedOptions",
    "selectedOption",
    "selectedValues",
    "selections",
    "selection",
    "choices",
    "answers",
    "values",
)
OPTION_LABEL_KEYS = ("label", "text", "value", "name", "title")
SELECTED_FLAG_KEYS = ("selected", "isSelected", "checked")
# Separator for several selected options; an option containing ", " makes the text ambiguous,
# which is why answer_json stays the source of truth.
CHOICE_SEPARATOR = ", "
_DEPTH = 2


def nps_score(answer: object) -> int | None:
    """The 0-10 Net Promoter answer from `answer.nps`; a fraction or out-of-range number is None."""
    if not isinstance(answer, dict):
        return None
    score = as_exact_int(_find_number(answer.get("nps"), NPS_KEYS, _DEPTH))
    return score if score is not None and 0 <= score <= 10 else None


def rating_value(answer: object) -> float | None:
    """The rating from `answer.ratingScale`; the scale's bounds are unknown, so any number counts."""
    if not isinstance(answer, dict):
        return None
    return as_float(_find_number(answer.get("ratingScale"), RATING_KEYS, _DEPTH))


def answer_text(answer: object) -> str | None:
    """Free text from `answer.written`, else the selected option(s) of `answer.multipleChoice`.

    Several selected options are joined with ", " in the order served.
    """
    if not isinstance(answer, dict):
        return None
    text = _find_text(answer.get("written"), _DEPTH)
    if text is None:
        text = _choice_text(answer.get("multipleChoice"), _DEPTH)
    return None if text is None else valid_text(text)


def _find_number(value: object, keys: tuple[str, ...], depth: int) -> int | float | None:
    if isinstance(value, dict):
        if depth <= 0:
            return None
        for key in keys:
            if key in value:
                found = _find_number(value[key], keys, depth - 1)
                if found is not None:
                    return found
        return None
    if isinstance(value, list):
        # A one-element list is a single answer in a list; several numbers are ambiguous.
        return _find_number(value[0], keys, depth) if len(value) == 1 else None
    return as_number(value)


def _find_text(value: object, depth: int) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    if isinstance(value, dict) and depth > 0:
        for key in TEXT_KEYS:
            found = _find_text(value.get(key), depth - 1)
            if found is not None:
                return found
    return None


def _choice_text(value: object, depth: int) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        labels = [_option_label(item) for item in _selected_only(value)]
        readable = [label for label in labels if label is not None]
        return CHOICE_SEPARATOR.join(readable) if readable else None
    if isinstance(value, dict) and depth > 0:
        for key in SELECTION_KEYS:
            found = _choice_text(value.get(key), depth - 1)
            if found is not None:
                return found
        # An `options` list is only a selection when its items say which ones were picked.
        options = value.get("options")
        if isinstance(options, list) and _has_selected_flags(options):
            return _choice_text(options, depth - 1)
        # The object may itself be the one selected option: {"id": ..., "label": "Blue"}.
        label = _option_label(value)
        if label is not None:
            return label
        for key in ("value", "answer"):
            found = _choice_text(value.get(key), depth - 1)
            if found is not None:
                return found
    return None


def _selected_only(options: list[Any]) -> list[Any]:
    if not _has_selected_flags(options):
        return options
    return [item for item in options if isinstance(item, dict) and _flag(item) is True]


def _has_selected_flags(options: list[Any]) -> bool:
    return any(isinstance(item, dict) and isinstance(_flag(item), bool) for item in options)


def _flag(option: dict[str, Any]) -> object:
    for key in SELECTED_FLAG_KEYS:
        if key in option:
            return option[key]
    return None


def _option_label(option: object) -> str | None:
    if isinstance(option, str):
        return option
    if isinstance(option, int | float) and not isinstance(option, bool):
        return str(option)
    if isinstance(option, dict):
        for key in OPTION_LABEL_KEYS:
            label = option.get(key)
            if isinstance(label, str):
                return label
    return None
