"""The statistics and the export writers as pure functions of rows (no stack needed)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

from openpyxl import load_workbook

from api.exports import COLUMNS, CaseFilters, Flag, is_overdue, to_csv, to_xlsx
from api.statistics import Bar, bar_chart, compute, euros
from domain.calendar import PARIS
from domain.stages import Stage
from tests.api.case_rows import NOW, ROWS, row


def test_figures_by_stage_departement_and_amount() -> None:
    figures = compute(ROWS, NOW)
    assert figures.total == 4
    # In the procedure's order, stages without a case left out.
    assert figures.by_stage == [(Stage.SUBMITTED, 2), (Stage.UNDER_REVIEW, 1), (Stage.PAID, 1)]
    assert figures.by_departement == [("2A", 1), ("60", 2), ("75", 1)]
    assert figures.claimed_cents == 1_440_000
    assert figures.decided_cents == figures.paid_cents == 840_000
    assert figures.decisions_due_this_month == 1
    assert figures.overdue == 1
    assert compute([], NOW).total == 0


def test_overdue_and_filters() -> None:
    past = NOW - dt.timedelta(days=1)
    assert is_overdue(Stage.UNDER_REVIEW, past, NOW)
    assert not is_overdue(Stage.UNDER_REVIEW, NOW + dt.timedelta(days=1), NOW)
    assert not is_overdue(Stage.PAID, past, NOW)
    assert is_overdue(Stage.AWAITING_ADMINISTRATION, None, NOW)
    due = CaseFilters(decision_due_before=dt.date(2026, 11, 30))
    assert [r.case_id for r in ROWS if due.matches(r)] == ["b"]
    flagged = CaseFilters(flags=frozenset({Flag.DUPLICATE_INVOICE}))
    assert [r.case_id for r in ROWS if flagged.matches(r)] == ["b"]


def test_euros_are_written_the_french_way() -> None:
    assert euros(123_456_789) == "1\u202f234\u202f567,89\u00a0€"
    assert euros(5) == "0,05\u00a0€"


def test_a_chart_is_an_accessible_svg_image() -> None:
    figures = compute(ROWS, NOW)
    svg = bar_chart("stages", "Dossiers par étape <test>", figures.stage_bars())
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "stages-title stages-desc"
    assert root.find(f"{ns}title").text == "Dossiers par étape <test>"  # type: ignore[union-attr]
    description = root.find(f"{ns}desc").text  # type: ignore[union-attr]
    assert "Demande déposée : 2" in str(description)
    widths = [int(rect.get("width", "0")) for rect in root.iter(f"{ns}rect")]
    assert widths[0] > widths[1] > 0  # two submitted cases, one under review
    empty = ET.fromstring(bar_chart("none", "Vide", []))
    assert empty.find(f"{ns}desc").text == "Aucune donnée."  # type: ignore[union-attr]
    zero = ET.fromstring(bar_chart("zero", "Zéro", [Bar("Payé", 0, "0")]))
    assert [rect.get("width") for rect in zero.iter(f"{ns}rect")] == ["0"]


def test_no_cell_is_read_as_a_formula() -> None:
    hostile = [row("e", Stage.SUBMITTED, election_label='=HYPERLINK("http://x")')]
    text = to_csv(hostile).decode("utf-8-sig")
    record = list(csv.reader(io.StringIO(text), delimiter=";"))[1]
    assert record[COLUMNS.index("Intitulé de l'élection")].startswith("'=")
    sheet = load_workbook(io.BytesIO(to_xlsx(hostile))).active
    assert sheet is not None
    cell = sheet.cell(row=2, column=COLUMNS.index("Intitulé de l'élection") + 1)
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'
    # Dates are Paris wall-clock time.
    opened = sheet.cell(row=2, column=COLUMNS.index("Ouvert le") + 1).value
    assert opened == dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC).astimezone(PARIS).replace(
        tzinfo=None
    )
