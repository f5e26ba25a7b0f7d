"""The exports (CSV, XLSX) and the statistics, read back as a spreadsheet would read them.

Three cases of the test's own: one paid, one submitted that claims the same invoice as the
first (both are flagged to the CNCCFP), one opened in another département and never evaluated.
Other tests of the package add cases to the same election: the checks look at these three rows.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from api.exports import COLUMNS
from core.accounts import Accounts
from core.db import audit_log
from domain.stages import Role
from tests.api.conftest import ApiStack
from tests.api.flow import decide, new_email, open_case, pay, record_evaluation, submitted_case
from tests.helpers import assert_eventually

COLUMN = {title: index for index, title in enumerate(COLUMNS)}


@dataclass
class Exported:
    paid: str
    submitted: str
    elsewhere: str
    emails: list[str]


@pytest.fixture(scope="package")
async def exported(api: ApiStack) -> Exported:
    tag = uuid.uuid4().hex[:6]
    shared = f"F-EXP-{tag}"
    emails = [new_email("export") for _ in range(3)]
    tokens = [await api.sign_in(email, name="Dominique Exportée") for email in emails]
    token, paid, _ = await submitted_case(api, [(shared, 840_000)], token=tokens[0])
    await decide(api, paid, 840_000)
    case = await pay(api, token, paid, 840_000, reference=f"VIR-{tag}")
    assert case["stage"] == "paid"
    _, submitted, _ = await submitted_case(
        api, [(shared, 300_000), (f"F-EXP-{tag}-2", 150_000)], token=tokens[1]
    )
    elsewhere = (await open_case(api, tokens[2], departement="75"))["case_id"]
    return Exported(paid=paid, submitted=submitted, elsewhere=elsewhere, emails=emails)


async def _get(api: ApiStack, token: str, path: str, **params: Any) -> httpx.Response:
    async with api.http(token) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response


def _csv_rows(response: httpx.Response) -> dict[str, list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith("\ufeff".encode())
    reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    header, *rows = list(reader)
    assert tuple(header) == COLUMNS
    return {row[0]: row for row in rows}


def _xlsx_rows(response: httpx.Response) -> dict[str, tuple[Any, ...]]:
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == COLUMNS
    return {str(row[0]): row for row in rows}


async def _cnccfp_csv(api: ApiStack, **params: Any) -> dict[str, list[str]]:
    response = await _get(
        api, api.staff["cnccfp"], "/exports/cases.csv", election_id=api.election_id, **params
    )
    return _csv_rows(response)


async def test_the_cnccfp_csv_has_the_figures_of_its_cases_and_nothing_personal(
    api: ApiStack, exported: Exported
) -> None:
    response = await _get(
        api, api.staff["cnccfp"], "/exports/cases.csv", election_id=api.election_id
    )
    rows = _csv_rows(response)
    assert exported.elsewhere not in rows  # never recognised: not the CNCCFP's (rule 9)
    paid = rows[exported.paid]
    assert paid[COLUMN["Département"]] == "60"
    assert paid[COLUMN["Code de l'étape"]] == "paid"
    assert paid[COLUMN["Étape"]] == "Remboursement payé"
    assert paid[COLUMN["Montant demandé (€)"]] == "8400,00"
    assert paid[COLUMN["Montant arrêté (€)"]] == "8400,00"
    assert paid[COLUMN["Montant payé (€)"]] == "8400,00"
    assert paid[COLUMN["Niveau de menace"]] == "1"
    today = dt.date.today().isoformat()
    assert paid[COLUMN["Payé le"]] == today
    assert paid[COLUMN["Menace évaluée le"]] == today
    for column in ("Ouvert le", "Demande déposée le", "Décision due le", "Décision le"):
        dt.datetime.strptime(paid[COLUMN[column]], "%Y-%m-%d %H:%M")
    submitted = rows[exported.submitted]
    assert submitted[COLUMN["Code de l'étape"]] == "submitted"
    assert submitted[COLUMN["Montant demandé (€)"]] == "4500,00"
    assert submitted[COLUMN["Montant arrêté (€)"]] == ""
    assert submitted[COLUMN["Montant payé (€)"]] == ""
    for row in (paid, submitted):
        assert "Facture présentée dans un autre dossier" in row[COLUMN["Signalements"]]
    text = response.content.decode("utf-8-sig")
    assert "Dominique" not in text and "@" not in text and "VIR-" not in text


async def test_the_xlsx_holds_numbers_as_numbers_and_dates_as_dates(
    api: ApiStack, exported: Exported
) -> None:
    response = await _get(
        api, api.staff["cnccfp"], "/exports/cases.xlsx", election_id=api.election_id
    )
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = _xlsx_rows(response)
    assert exported.elsewhere not in rows
    paid = rows[exported.paid]
    for column in ("Montant demandé (€)", "Montant arrêté (€)", "Montant payé (€)"):
        assert paid[COLUMN[column]] == 8400
    assert paid[COLUMN["Niveau de menace"]] == 1
    for column in ("Ouvert le", "Demande déposée le", "Décision due le", "Payé le"):
        assert isinstance(paid[COLUMN[column]], dt.datetime), column
    assert paid[COLUMN["Payé le"]].date() == dt.date.today()
    submitted = rows[exported.submitted]
    assert submitted[COLUMN["Montant demandé (€)"]] == 4500
    assert submitted[COLUMN["Montant arrêté (€)"]] is None


async def test_the_filters_apply_to_the_export(api: ApiStack, exported: Exported) -> None:
    async def by_stage() -> None:
        rows = await _cnccfp_csv(api, stage="submitted")
        assert exported.submitted in rows and exported.paid not in rows

    await assert_eventually(by_stage)
    rows = await _cnccfp_csv(api, flag="duplicate_invoice")
    assert {exported.paid, exported.submitted} <= set(rows)
    in_a_year = (dt.date.today() + dt.timedelta(days=366)).isoformat()
    rows = await _cnccfp_csv(api, decision_due_before=in_a_year)
    assert exported.submitted in rows and exported.paid not in rows  # the paid one is decided
    rows = await _cnccfp_csv(api, decision_due_before=dt.date.today().isoformat())
    assert exported.submitted not in rows  # due in six months
    rows = await _cnccfp_csv(api, departement="75")
    assert not rows.keys() & {exported.paid, exported.submitted}
    async with api.http(api.staff["cnccfp"]) as http:
        response = await http.get("/exports/cases.csv", params={"flag": "nope"})
    assert response.status_code == 422


async def test_the_prefecture_exports_its_departements_without_the_claim(
    api: ApiStack, exported: Exported
) -> None:
    response = await _get(
        api, api.staff["pref60"], "/exports/cases.xlsx", election_id=api.election_id
    )
    rows = _xlsx_rows(response)
    assert {exported.paid, exported.submitted} <= set(rows)
    assert exported.elsewhere not in rows
    paid = rows[exported.paid]
    # What the prefecture's view of a case holds (rule 9): the decision and the payment.
    assert paid[COLUMN["Montant demandé (€)"]] is None
    assert paid[COLUMN["Montant arrêté (€)"]] == 8400
    assert paid[COLUMN["Montant payé (€)"]] == 8400
    assert rows[exported.submitted][COLUMN["Signalements"]] in ("", None)
    response = await _get(
        api, api.staff["pref75"], "/exports/cases.csv", election_id=api.election_id
    )
    rows75 = _csv_rows(response)
    assert exported.elsewhere in rows75 and exported.paid not in rows75
    assert rows75[exported.elsewhere][COLUMN["Code de l'étape"]] == "evaluation_requested"


async def test_every_export_is_in_the_audit_log(api: ApiStack, exported: Exported) -> None:
    async with api.engine.connect() as connection:
        before = len(
            (
                await connection.execute(
                    select(audit_log).where(audit_log.c.action == "export_cases")
                )
            ).all()
        )
    await _get(api, api.staff["cnccfp"], "/exports/cases.csv", election_id=api.election_id)
    async with api.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(audit_log)
                .where(audit_log.c.action == "export_cases")
                .order_by(audit_log.c.entry_id)
            )
        ).all()
    assert len(rows) == before + 1
    assert rows[-1].actor_role == "cnccfp" and rows[-1].outcome == "ok"


async def test_the_statistics_agree_with_the_export(api: ApiStack, exported: Exported) -> None:
    rows = await _cnccfp_csv(api)
    response = await _get(api, api.staff["cnccfp"], "/statistics", election_id=api.election_id)
    figures = response.json()
    assert figures["total"] == len(rows)
    assert sum(item["count"] for item in figures["by_stage"]) == len(rows)
    assert sum(item["count"] for item in figures["by_departement"]) == len(rows)

    def total(column: str) -> int:
        return sum(
            round(float(row[COLUMN[column]].replace(",", ".")) * 100)
            for row in rows.values()
            if row[COLUMN[column]]
        )

    assert figures["claimed_cents"] == total("Montant demandé (€)")
    assert figures["decided_cents"] == total("Montant arrêté (€)")
    assert figures["paid_cents"] == total("Montant payé (€)") >= 840_000
    stages = {item["key"]: item["count"] for item in figures["by_stage"]}
    assert stages["paid"] >= 1 and stages["submitted"] >= 1


async def test_many_cases_are_exported_with_a_few_statements(
    api: ApiStack, exported: Exported
) -> None:
    """The database is read in the same few statements whatever the number of cases (the
    invoice claims of all of them at once); only the workflows are asked one by one."""

    accounts = Accounts(api.engine, api.settings)

    async def recognised() -> str:
        # Accounts made as the demonstration makes them: the sign-in path has its own tests.
        account = await accounts.create(
            email=new_email("nombreux"), display_name="Camille Martin", role=Role.CANDIDATE
        )
        await accounts.confirm(account.account_id)
        token = await accounts.open_session(account.account_id)
        case_id: str = (await open_case(api, token))["case_id"]
        await record_evaluation(api, case_id)
        return case_id

    many = await asyncio.gather(*(recognised() for _ in range(8)))
    seen: list[str] = []

    def count(*args: Any) -> None:
        if "invoice_claims" in args[2]:
            seen.append(args[2])

    async def all_listed() -> dict[str, list[str]]:
        seen.clear()
        rows = await _cnccfp_csv(api)
        assert set(many) <= set(rows)
        return rows

    event.listen(Engine, "before_cursor_execute", count)
    try:
        rows = await assert_eventually(all_listed)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(rows) >= len(many) + 2
    assert len(seen) <= 3, seen  # claims read, duplicates read (and, once, missing ones made)
