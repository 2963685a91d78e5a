"""Properties of the payload normalizers over payloads generated from the vendor's OpenAPI spec.

Payloads come from the component schemas of integrations/dagster-usertesting/dagster_usertesting_tests/specs/results-v2-openapi.yml, widened
with what a live API can still send and the normalizers promise to tolerate: nulls or missing keys
anywhere, unknown enum values and extra keys, any JSON where an answer or response is opaque, hostile
strings (lone surrogates, NUL, huge) and numbers (beyond BIGINT and double, NaN, numeric strings).
Those must always give rows; replacing any value anywhere by any JSON must give rows or
MalformedPayloadError, never another exception. Rows must load into real DuckDB tables and read back
equal, JSON text columns must parse back to what was served, and details_json must be the served text.

hypothesis-jsonschema (0.23.1, its latest release) relies on Hypothesis internals that current
Hypothesis no longer has, so the OpenAPI subset the spec uses is turned into strategies here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_usertesting_tests.normalize.as_dicts import rows_by_column, rows_of_body
from dagster_usertesting_tests.normalize.as_dicts import served as body_of
from hypothesis import example, given
from hypothesis import strategies as st

from dagster_usertesting.lib.normalize import MalformedPayloadError, listing_rows, qx_score_rows, read_details
from dagster_usertesting.lib.schema import (
    DEMOGRAPHICS,
    QX_SCORES,
    RAW_SESSIONS,
    SESSION_DETAILS,
    SESSIONS,
    TASK_GROUPS,
    TASKS,
)

SPEC = Path(__file__).resolve().parents[1] / "specs" / "results-v2-openapi.yml"
TEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SESSION_ID = "f3c00502-256d-4693-b1b3-7dbd7eb64ca9"
AT = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

# Properties the normalizers keep whole as JSON text whatever their shape, so any JSON is fair there.
OPAQUE = {
    ("TaskResponseDataDto", "answer"),
    ("TaskGroupItemDto", "response"),
    ("QxScoreItemDto", "components"),
    ("QxScoreItemDto", "values"),
    ("QxScoreValuesDto", "behavioral"),
}
# The OpenAPI keywords the spec uses; another one means the spec grew a construct to generate.
_KEYWORDS = {"description", "example", "required", "nullable", "$ref", "allOf", "oneOf", "anyOf", "enum"}
_KEYWORDS |= {"type", "format", "properties", "items", "minimum", "maximum"}

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "lone \udfff surrogate",
        "\ufeffBOM",
        "\u202eRTL override",
        "e\u0301\u0301\u0301",
        "👩‍👩‍👧‍👦",
        "\r\n\t",
        "null",
        "NaN",
        "1e999",
        "15000.0",
        "true",
        "a,b,,c, ",
        '"\\',
    ]
) | st.just(5_000).map("x".__mul__)
TEXT = st.text(max_size=30) | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3)
NASTY_NUMBERS = st.sampled_from(
    [0, -1, -0.0, 0.5, 2**63, -(2**63) - 1, 10**400, -(10**400), 1e308, 5e-324, math.nan, math.inf, -math.inf]
)
NUMBERS = st.integers() | st.floats() | NASTY_NUMBERS


def through_json(value: Any) -> Any:
    """A value as the client hands it over: parsed from JSON text.

    The trip is what makes generated values realistic: a surrogate pair written as two escapes
    comes back as one character, while a lone surrogate stays a lone surrogate.
    """
    return json.loads(json.dumps(value))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
).map(through_json)


def served(name: str, tolerant: bool = True) -> st.SearchStrategy[Any]:
    """Payloads of schema `name` as the client hands them over."""
    return payloads(name, tolerant).map(through_json)


@cache
def _schemas() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]


@cache
def payloads(name: str, tolerant: bool = True) -> st.SearchStrategy[Any]:
    """Values of component schema `name`; `tolerant` adds what the normalizers promise to accept."""
    return _node(_schemas()[name], name, tolerant)


def _node(node: dict[str, Any], owner: str, tolerant: bool) -> st.SearchStrategy[Any]:
    strategy = _base(node, owner, tolerant)
    return st.one_of(strategy, st.none()) if node.get("nullable") else strategy


def _base(node: dict[str, Any], owner: str, tolerant: bool) -> st.SearchStrategy[Any]:
    unknown = set(node) - _KEYWORDS
    if unknown:
        raise NotImplementedError(f"{owner}: OpenAPI keywords {sorted(unknown)} are not generated yet")
    if "$ref" in node:
        return payloads(node["$ref"].rsplit("/", 1)[-1], tolerant)
    if "allOf" in node:
        [only] = node["allOf"]  # the spec uses allOf only to attach a description to a $ref
        return _node(only, owner, tolerant)
    if "oneOf" in node or "anyOf" in node:
        return st.one_of([_node(n, owner, tolerant) for n in node.get("oneOf", node.get("anyOf"))])
    if "enum" in node:
        known = st.sampled_from(node["enum"])
        return st.one_of(known, TEXT, NASTY_TEXT) if tolerant else known
    kind = node.get("type")
    if kind == "object":
        return _object(node, owner, tolerant)
    if kind == "array":
        return st.lists(_node(node["items"], owner, tolerant), max_size=3)
    if kind == "string":
        fitting = _string(node.get("format"))
        return st.one_of(fitting, TEXT, NASTY_TEXT) if tolerant else fitting
    if kind == "number":
        low, high = node.get("minimum"), node.get("maximum")
        fitting = st.integers(low, high) | st.floats(low, high, allow_nan=False, allow_infinity=False)
        return (
            st.one_of(fitting, NUMBERS, st.sampled_from(["15000.0", "7", "", "true"]))
            if tolerant
            else fitting
        )
    if kind == "boolean":
        return st.booleans() | st.sampled_from(["true", "False", 0, 1, "yes"]) if tolerant else st.booleans()
    raise NotImplementedError(f"{owner}: schema {node} is not generated yet")


def _string(format_: str | None) -> st.SearchStrategy[str]:
    if format_ == "uuid":
        return st.uuids().map(str)
    if format_ == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat(timespec="milliseconds"))
    return st.text()


def _object(node: dict[str, Any], owner: str, tolerant: bool) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties")
    if properties is None:
        # An untyped object: the spec says nothing of its shape (task answers), so anything goes.
        return JSON_VALUES if tolerant else st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=3)
    fields = {}
    for key, schema in properties.items():
        field = _node(schema, owner, tolerant)
        if tolerant:
            field = field | st.none()
            if (owner, key) in OPAQUE:
                field = field | JSON_VALUES
        fields[key] = field
    required = set(node.get("required", []))
    if not tolerant:
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    # Any key may be missing and unknown keys may appear: newer API versions add fields.
    extra = st.dictionaries(st.text(max_size=8).map(lambda k: f"x-{k}"), JSON_VALUES, max_size=2)
    return st.builds(lambda known, more: {**more, **known}, st.fixed_dictionaries({}, optional=fields), extra)


@st.composite
def anything_replaced(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """A payload with values anywhere (containers and list items included) replaced by any JSON."""

    def walk(value: Any) -> Any:
        if draw(st.integers(0, 11)) == 0:
            return draw(JSON_VALUES)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return through_json(walk(draw(base)))


def _as_served(value: Any) -> Any:
    """What JSON text can hold of a value: non-finite numbers are documented to become null."""
    return json.loads(json.dumps(value), parse_constant=lambda _: None)


def _json_column(text: str | None, served: Any) -> None:
    """A JSON text column: SQL null for a null value, else text that parses back to what was served."""
    if served is None:
        assert text is None
    else:
        assert text is not None
        assert json.loads(text) == _as_served(served)


def _text_column(text: str | None, served: Any) -> None:
    """A STRING column read from a served string: the same text, lone surrogates (which no warehouse
    text type can hold) as U+FFFD."""
    if isinstance(served, str):
        assert text == "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in served)


def _check_details(
    payload: dict[str, Any], body: bytes, tables: dict[str, list[dict[str, Any]]], load: Callable
) -> None:
    """Rows of `payload`, served as `body`: one per item served, loadable, the body's text kept whole."""
    assert set(tables) == {
        SESSION_DETAILS.name,
        SESSIONS.name,
        DEMOGRAPHICS.name,
        TASK_GROUPS.name,
        TASKS.name,
    }
    [details] = tables[SESSION_DETAILS.name]
    assert details["details_json"].encode() == body
    load(SESSION_DETAILS, [details])
    participant = payload.get("sessionParticipant") or {}
    served = {
        SESSIONS.name: [payload],
        DEMOGRAPHICS.name: participant.get("demographicsInfo") or [],
        TASK_GROUPS.name: payload.get("taskGroups") or [],
        TASKS.name: payload.get("tasks") or [],
    }
    for table in (SESSIONS, DEMOGRAPHICS, TASK_GROUPS, TASKS):
        rows = tables[table.name]
        assert len(rows) == len(served[table.name])
        for row in rows:
            assert list(row) == table.column_names
            assert (row["test_id"], row["session_id"]) == (TEST_ID, SESSION_ID)
            _text_column(row["participant_id"], participant.get("participantId"))
        load(table, rows)
    [session] = tables[SESSIONS.name]
    assert (session["task_count"], session["task_group_count"], session["demographic_count"]) == (
        len(served[TASKS.name]),
        len(served[TASK_GROUPS.name]),
        len(served[DEMOGRAPHICS.name]),
    )
    for row, item in zip(tables[DEMOGRAPHICS.name], served[DEMOGRAPHICS.name], strict=True):
        _text_column(row["value"], item.get("value"))
        values = None if row["values_json"] is None else json.loads(row["values_json"])
        assert values is None or all(isinstance(v, str) and v.strip() == v and v for v in values)
    for row, item in zip(tables[TASK_GROUPS.name], served[TASK_GROUPS.name], strict=True):
        _json_column(row["task_group_response"], item.get("response"))
        assert row["qx_score"] is None or 0 <= row["qx_score"] <= 100
    for row, item in zip(tables[TASKS.name], served[TASKS.name], strict=True):
        _text_column(row["task_text"], item.get("text"))
        response = item.get("response") or {}
        _json_column(row["answer_json"], response.get("answer"))
        assert row["nps_score"] is None or 0 <= row["nps_score"] <= 10
        assert row["duration_ms"] is None or row["duration_ms"] >= 0


@given(payload=served("SessionResultsV3ResponseDto", tolerant=False))
def test_payloads_fitting_the_spec_give_rows_that_load(
    payload: dict[str, Any], warehouse: Callable[..., Any]
) -> None:
    _check_details(payload, body_of(payload), rows_by_column(TEST_ID, SESSION_ID, payload, AT), warehouse)


@given(payload=served("SessionResultsV3ResponseDto"))
# Each found by this property: lone surrogates could not be written to a text column, and numbers
# beyond a double's range raised OverflowError instead of reading as "no number".
@example(payload={"tasks": [{"text": "\ud800", "response": {"answer": {"written": "\udfff"}}}]})
@example(payload={"sessionParticipant": {"demographicsInfo": [{"value": ["\ud800"]}]}})
@example(payload={"tasks": [{"response": {"answer": {"ratingScale": 10**400}}}]})
@example(payload={"taskGroups": [{"type": "QX_SCORE", "response": {"score": -(10**400)}}]})
def test_tolerated_payloads_always_give_rows_that_load(
    payload: dict[str, Any], warehouse: Callable[..., Any]
) -> None:
    _check_details(payload, body_of(payload), rows_by_column(TEST_ID, SESSION_ID, payload, AT), warehouse)


@given(payload=anything_replaced(served("SessionResultsV3ResponseDto")))
@example(payload=[])
@example(payload={"tasks": [None]})
@example(payload={"sessionParticipant": {"demographicsInfo": "Male"}})
def test_any_payload_gives_rows_or_says_what_is_malformed(
    payload: Any, warehouse: Callable[..., Any]
) -> None:
    try:
        tables = rows_by_column(TEST_ID, SESSION_ID, payload, AT)
    except MalformedPayloadError as error:
        assert SESSION_ID in str(error)
        return
    _check_details(payload, body_of(payload), tables, warehouse)


@given(sessions=st.lists(served("SessionSummaryResultItemDto") | JSON_VALUES, max_size=4))
@example(sessions=[{"sessionId": "a"}, {"sessionId": "a", "status": "\ud800"}])
@example(sessions=[{"sessionId": "\ud800"}])
def test_listing_gives_one_row_per_session_or_says_which_is_malformed(
    sessions: list[Any], warehouse: Callable[..., Any]
) -> None:
    try:
        rows = listing_rows(TEST_ID, sessions, AT)
    except MalformedPayloadError as error:
        bad = [
            s
            for s in sessions
            if not isinstance(s, dict)
            or not isinstance(s.get("sessionId"), str)
            or not s["sessionId"].strip()
            or any("\ud800" <= c <= "\udfff" for c in s["sessionId"])
        ]
        assert bad, f"raised for a listing whose every session has a usable sessionId: {error}"
        return
    first: dict[str, dict[str, Any]] = {}
    for session in sessions:
        first.setdefault(session["sessionId"], session)
    assert [r["session_id"] for r in rows] == list(first)
    for row, session in zip(rows, first.values(), strict=True):
        assert list(row) == RAW_SESSIONS.column_names
        _text_column(row["status"], session.get("status"))
    warehouse(RAW_SESSIONS, rows)


@given(payload=served("QxScoreResponseApi") | anything_replaced(served("QxScoreResponseApi")))
@example(payload={"qxScores": [{"qxScore": 10**400, "label": "\udc80"}], "meta": {"completes": 10**400}})
def test_qx_scores_give_rows_or_say_what_is_malformed(payload: Any, warehouse: Callable[..., Any]) -> None:
    try:
        rows = qx_score_rows(TEST_ID, payload, AT)
    except MalformedPayloadError as error:
        assert TEST_ID in str(error)
        return
    items = payload.get("qxScores") or []
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert list(row) == QX_SCORES.column_names
        _json_column(row["qx_json"], item)
        values = item.get("values")
        _json_column(
            row["behavioral_values_json"], values.get("behavioral") if isinstance(values, dict) else None
        )
        _text_column(row["label"], item.get("label"))
        scores = [
            row[c]
            for c in ("qx_score", "behavioral", "attitudinal", "usability", "trust", "appearance", "loyalty")
        ]
        assert all(score is None or 0 <= score <= 100 for score in scores)
    warehouse(QX_SCORES, rows)


@pytest.mark.parametrize("shape", ["text", "object"])
def test_multi_megabyte_written_answer_loads_faithfully(shape: str, warehouse: Callable[..., Any]) -> None:
    # ~6 MB of UTF-8 mixing every width of character, JSON escapes, NUL and line ends.
    piece = 'Très "bien" \\ 👍🏽 नमस्ते 漢字 \x00 tab\there\r\nnew line, comma; ' * 1000
    written_text = piece * 70
    assert len(written_text.encode("utf-8")) > 5_000_000
    written = written_text if shape == "text" else {"text": written_text, "language": "fr"}
    answer = {"written": written}
    payload = {"tasks": [{"uuid": "t1", "type": "WRITTEN", "response": {"answer": answer}}]}

    tables = rows_by_column(TEST_ID, SESSION_ID, payload, AT)
    [loaded] = warehouse(TASKS, tables[TASKS.name])
    row = dict(zip(TASKS.column_names, loaded, strict=True))
    assert json.loads(row["answer_json"]) == answer
    assert row["answer_text"] == written_text
    [details] = warehouse(SESSION_DETAILS, tables[SESSION_DETAILS.name])
    assert details[SESSION_DETAILS.column_names.index("details_json")].encode() == body_of(payload)


def _deepest_json_accepted(make: Callable[[int], str]) -> int:
    """The deepest nesting json.loads accepts here: what the client could hand over at this stack depth."""
    depth = 100
    while True:
        try:
            json.loads(make(depth + 50))
        except RecursionError:
            return depth
        depth += 50


@pytest.mark.parametrize("leaf", ["5", "NaN"])
def test_deeply_nested_answers_give_rows_or_a_malformed_payload(
    leaf: str, warehouse: Callable[..., Any]
) -> None:
    # A Python walk of the answer (two frames a level) once hit the recursion limit at half the depth
    # json.loads accepts, and RecursionError is not a ValueError: it failed the whole asset.
    def make(depth: int) -> str:
        return '{"tasks": [{"response": {"answer": {"written": ' + "[" * depth + leaf + "]" * depth + "}}}]}"

    for depth in (400, _deepest_json_accepted(make)):
        body = make(depth).encode()
        try:
            tables = rows_of_body(TEST_ID, SESSION_ID, body, AT)
        except MalformedPayloadError as error:
            assert "nested too deeply" in str(error)
            continue
        _check_details(json.loads(body), body, tables, warehouse)


@given(payload=served("SessionResultsV3ResponseDto"), bom=st.booleans())
def test_a_details_body_as_served_parses_to_its_payload(payload: dict[str, Any], bom: bool) -> None:
    raw = (b"\xef\xbb\xbf" if bom else b"") + body_of(payload)
    text, parsed = read_details(SESSION_ID, raw)
    assert _as_served(parsed) == _as_served(payload)
    assert text.encode() == body_of(payload)  # the served text, less the BOM that marks its encoding


@given(body=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
@example(body=json.dumps({"tasks": []}).encode("utf-16"))
@example(body=b'{"tasks": "caf\xe9"}')
@example(body=b"[" * 100_000)
@example(body=b"<html>502 Bad Gateway</html>")
def test_any_details_body_parses_or_says_why_not(body: bytes) -> None:
    try:
        text, payload = read_details(SESSION_ID, body)
    except MalformedPayloadError as error:
        assert str(error).startswith(f"session {SESSION_ID}: the details")
        return
    assert isinstance(payload, dict)
    assert text.encode() == body.removeprefix(b"\xef\xbb\xbf")
