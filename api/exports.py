"""The cases as a table, for staff: the rows the exports (CSV, XLSX) and the statistics share.

The cases are listed as ``GET /cases`` lists them (the same scoped visibility query), and each is
read as its case view reads it (``CaseGateway.read`` then ``view``, that is ``case_view(state,
role)``): a row holds only what the reader's view holds (rule 9). The prefecture's view has no
claimed amount, so its rows have none. No row ever holds a name, an address, a document, a
message or a free text: identifiers, stages, dates, amounts, the threat level and flags.

File formats, chosen for French spreadsheets:

- CSV: UTF-8 with a byte order mark (so that Excel reads the accents), ``;`` as separator and
  ``,`` as decimal mark (what a French Excel expects), dates as ``AAAA-MM-JJ`` and times as
  ``AAAA-MM-JJ HH:MM`` in Paris time. A text that a spreadsheet would read as a formula starts
  with ``'``.
- XLSX: amounts are numbers (euros, ``# ##0,00 €``), dates and times are dates (Paris time, as
  a spreadsheet has no time zones), text cells are never formulas.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from api.deps import CurrentUser, Services
from api.errors import ApiError
from api.gateway import CaseGateway
from api.routes.cases import scoped_query
from api.schemas import CasePublic, CaseSummaryPublic
from domain.calendar import PARIS
from domain.contracts import CaseState
from domain.errors import ErrorCode
from domain.stages import STAGE_LABELS, Stage

EXPORT_LIMIT = 1000
"""The most cases one export or statistics page reads: each is one query to its workflow (the
database is read in the same few statements whatever their number)."""
_CONCURRENT_READS = 8
_TASK_QUEUE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class Flag(StrEnum):
    """What a reviewer filters cases on besides their stage."""

    DUPLICATE_INVOICE = "duplicate_invoice"
    """An invoice of the case is claimed in another case too (seen by the CNCCFP only)."""
    OVERDUE = "overdue"
    """Its next deadline passed and the case is still open, or it waits on the administration
    after its deposit deadline passed."""


FLAG_LABELS = {
    Flag.DUPLICATE_INVOICE: "Facture présentée dans un autre dossier",
    Flag.OVERDUE: "Échéance dépassée",
}


@dataclass(frozen=True)
class CaseRow:
    """One case as a row: no personal data, no document, no free text."""

    case_id: str
    election_id: str
    election_label: str
    departement: str
    stage: Stage
    opened_at: dt.datetime
    evaluated_on: dt.date | None
    deposit_deadline: dt.datetime
    submitted_at: dt.datetime | None
    decision_due: dt.datetime | None
    decided_at: dt.datetime | None
    paid_on: dt.date | None
    claimed_cents: int | None
    decided_cents: int | None
    paid_cents: int | None
    threat_level: int | None
    next_deadline: dt.datetime | None
    flags: frozenset[Flag] = field(default_factory=frozenset)

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[self.stage]


@dataclass(frozen=True)
class CaseFilters:
    """The filters of a list, an export or the statistics (all optional)."""

    election_id: str | None = None
    departement: str | None = None
    stage: Stage | None = None
    decision_due_before: dt.date | None = None
    """Cases whose decision is due on or before this day (Paris), still undecided."""
    flags: frozenset[Flag] = frozenset()
    """Cases with every one of these flags."""

    def matches(self, row: CaseRow) -> bool:
        """The filters the visibility query cannot apply (the others are in the query)."""
        if self.decision_due_before is not None:
            if row.decision_due is None or row.decided_at is not None:
                return False
            if row.decision_due.astimezone(PARIS).date() > self.decision_due_before:
                return False
        return self.flags <= row.flags


def is_overdue(stage: Stage, next_deadline: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an open case is late: its next deadline passed (a decision, an answer, a
    payment follow-up), or its deposit deadline passed while it waited on the administration."""
    if stage.is_terminal:
        return False
    if stage == Stage.AWAITING_ADMINISTRATION:
        return True
    return next_deadline is not None and next_deadline < now


def row_of(summary: CaseSummaryPublic, view: CasePublic, now: dt.datetime) -> CaseRow:
    """The row of a case, from its listing (next deadline) and its reader's view."""
    last = view.evaluations[-1] if view.evaluations else None
    flags = set()
    if view.duplicate_invoices:
        flags.add(Flag.DUPLICATE_INVOICE)
    if is_overdue(view.stage, summary.next_deadline, now):
        flags.add(Flag.OVERDUE)
    return CaseRow(
        case_id=view.case_id,
        election_id=view.election.election_id,
        election_label=view.election.label,
        departement=view.departement,
        stage=view.stage,
        opened_at=view.opened_at,
        evaluated_on=last.decided_on if last is not None else None,
        deposit_deadline=view.deposit_deadline,
        submitted_at=view.submitted_at,
        decision_due=view.decision_due,
        decided_at=view.decision.decided_at if view.decision is not None else None,
        paid_on=view.payment.paid_on if view.payment is not None else None,
        claimed_cents=view.claimed_cents,
        decided_cents=view.decision.amount_cents if view.decision is not None else None,
        paid_cents=view.payment.amount_cents if view.payment is not None else None,
        threat_level=int(last.level)
        if last is not None and last.recognised and last.level
        else None,
        next_deadline=summary.next_deadline,
        flags=frozenset(flags),
    )


async def case_rows(
    services: Services, user: CurrentUser, filters: CaseFilters, now: dt.datetime | None = None
) -> list[CaseRow]:
    """The rows of the cases ``user`` may list that match ``filters``, by next deadline.

    A case listed but no longer readable by the caller (the index lags a second behind the case)
    is left out.
    """
    now = now or dt.datetime.now(dt.UTC)
    query = await scoped_query(
        services, user, filters.stage, filters.election_id, filters.departement
    )
    if query is None:
        return []
    queue = services.settings.task_queue
    if _TASK_QUEUE.fullmatch(queue):
        # Each row needs the case's state, which only a worker of this deployment's task queue
        # answers: a case of another deployment sharing the namespace (a test stack, a former
        # queue) would hold the export until the request's timeout.
        query = f"({query}) AND TaskQueue = '{queue}'"
    gateway = CaseGateway(services)
    summaries = await gateway.list(query, EXPORT_LIMIT)
    reads = asyncio.Semaphore(_CONCURRENT_READS)

    async def read(summary: CaseSummaryPublic) -> CaseState | None:
        async with reads:
            try:
                return await gateway.read_listed(user, summary)
            except ApiError as error:
                if error.code == ErrorCode.CASE_NOT_FOUND:
                    return None
                raise

    states = await asyncio.gather(*(read(summary) for summary in summaries))
    found = [(summary, state) for summary, state in zip(summaries, states, strict=True) if state]
    views = await gateway.views(user, [state for _, state in found])
    rows = [row_of(summary, view, now) for (summary, _), view in zip(found, views, strict=True)]
    return [row for row in rows if filters.matches(row)]


COLUMNS = (
    "Dossier",
    "Élection",
    "Intitulé de l'élection",
    "Département",
    "Code de l'étape",
    "Étape",
    "Ouvert le",
    "Menace évaluée le",
    "Date limite de dépôt",
    "Demande déposée le",
    "Décision due le",
    "Décision le",
    "Payé le",
    "Montant demandé (€)",
    "Montant arrêté (€)",
    "Montant payé (€)",
    "Niveau de menace",
    "Signalements",
)

Cell = str | int | float | dt.date | dt.datetime | None


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    """Paris wall-clock time without a zone (spreadsheets have none), to the minute."""
    if moment is None:
        return None
    return moment.astimezone(PARIS).replace(tzinfo=None, second=0, microsecond=0)


def _euros(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def cells(row: CaseRow) -> list[Cell]:
    """The row's values in ``COLUMNS`` order, typed (the writers format them)."""
    return [
        row.case_id,
        row.election_id,
        row.election_label,
        row.departement,
        row.stage.value,
        row.stage_label,
        _local(row.opened_at),
        row.evaluated_on,
        _local(row.deposit_deadline),
        _local(row.submitted_at),
        _local(row.decision_due),
        _local(row.decided_at),
        row.paid_on,
        _euros(row.claimed_cents),
        _euros(row.decided_cents),
        _euros(row.paid_cents),
        row.threat_level,
        " ; ".join(FLAG_LABELS[flag] for flag in Flag if flag in row.flags),
    ]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, int):
        return str(value)
    # A text a spreadsheet would run as a formula is kept as text (CSV injection).
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def to_csv(rows: Iterable[CaseRow]) -> bytes:
    """The rows as a CSV for a French spreadsheet (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_text(value) for value in cells(row)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_DATE_FORMAT = "dd/mm/yyyy"
_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
_EURO_FORMAT = '#,##0.00 "€"'


def to_xlsx(rows: Iterable[CaseRow]) -> bytes:
    """The rows as an XLSX workbook: numbers as numbers, dates as dates."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Dossiers"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(cells(row))
        for cell in sheet[sheet.max_row]:
            value = cell.value
            if isinstance(value, dt.datetime):
                cell.number_format = _DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = _DATE_FORMAT
            elif isinstance(value, float):
                cell.number_format = _EURO_FORMAT
            elif isinstance(value, str):
                # openpyxl reads a text starting with "=" as a formula: never here.
                cell.data_type = "s"
    sheet.freeze_panes = "B2"
    for index, title in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, min(40, len(title) + 2))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
