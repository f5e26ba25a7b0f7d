"""How the staff pages read their forms into the JSON routes' bodies (pure, no stack)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import pytest
from starlette.datastructures import FormData

from api.errors import ApiError, InputRefused
from api.schemas import ClosingBody, LateWindowBody, ObservationsBody
from api.web.routes_staff import STEPS, cents_of, filters_of, overdue_first, query_of
from domain.calendar import PARIS
from tests.api.case_rows import ROWS


async def _body(step: str, fields: list[tuple[str, str]]) -> Any:
    return await STEPS[step].body(None, None, "", FormData(fields))  # type: ignore[arg-type]


def test_euros_as_typed_become_cents() -> None:
    assert cents_of("8 400,50", "amount_cents") == 840_050
    assert cents_of("8400.5", "amount_cents") == 840_050
    assert cents_of("8\u202f400 €", "amount_cents") == 840_000
    assert cents_of("0", "amount_cents") == 0
    for wrong in ("", "huit", "-5", "1,234", "12,5,0"):
        with pytest.raises(ApiError) as refused:
            cents_of(wrong, "amount_cents")
        assert refused.value.field == "amount_cents"


async def test_a_late_window_is_read_in_paris_time() -> None:
    body = await _body(
        "delai-tardif", [("deposit_deadline", "2027-01-15T18:00"), ("reason", "Retard.")]
    )
    assert isinstance(body, LateWindowBody)
    assert body.deposit_deadline == dt.datetime(2027, 1, 15, 18, 0, tzinfo=PARIS)
    closing = await _body("cloture", [("reason", "Abandon.")])
    assert isinstance(closing, ClosingBody) and closing.reason == "Abandon."
    with pytest.raises(InputRefused):
        await _body("cloture", [("reason", "")])


async def test_observations_carry_the_lines_contested() -> None:
    body = await _body(
        "observations",
        [("observations", "Précisez."), ("contested_line_ids", "l1"), ("contested_line_ids", "l2")],
    )
    assert isinstance(body, ObservationsBody) and body.contested_line_ids == ["l1", "l2"]


def test_filters_round_trip_and_refusals() -> None:
    params = FormData(
        [
            ("election_id", "muni-2026"),
            ("departement", "2A"),
            ("stage", "submitted"),
            ("decision_due_before", "2026-12-31"),
            ("flag", "overdue"),
        ]
    )
    filters = filters_of(params)
    assert filters_of(FormData(list(_pairs(query_of(filters))))) == filters
    for name, value in (("stage", "nope"), ("departement", "999x"), ("flag", "x")):
        with pytest.raises(ApiError) as refused:
            filters_of(FormData([(name, value)]))
        assert refused.value.field == name


def _pairs(query: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(query)


def test_overdue_cases_come_first() -> None:
    ordered = [row.case_id for row in overdue_first(ROWS)]
    assert ordered[0] == "c" and ordered[-1] == "a"  # late first; paid (closed) last
