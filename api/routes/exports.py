"""What staff take out of the cases: exports (CSV, XLSX) and statistics, filters applied.

Reserved to the CNCCFP (the cases it sees, rule 9) and prefecture staff (the cases of their
départements). Each export is a line of the audit log (``export_cases``), as data leave the
service with it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api import audit
from api.deps import Allow, CurrentUser, ServicesDep
from api.errors import PROBLEM_RESPONSES, error_code
from api.exports import CaseFilters, Flag, case_rows, to_csv, to_xlsx
from api.schemas import CountPublic, StatisticsPublic
from api.statistics import compute
from domain.calendar import PARIS
from domain.stages import STAGE_LABELS, Role, Stage

router = APIRouter(tags=["Exports et statistiques"])

_STAFF = Allow(Role.PREFECTURE, Role.CNCCFP)
Staff = Annotated[CurrentUser, Depends(_STAFF)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_RESPONSES[code] for code in (401, 403, 422, 503)
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def case_filters(
    election_id: Annotated[
        str | None, Query(max_length=64, description="Identifiant de l'élection.")
    ] = None,
    departement: Annotated[str | None, Query(max_length=3, description="Département.")] = None,
    stage: Annotated[Stage | None, Query(description="Étape.")] = None,
    decision_due_before: Annotated[
        dt.date | None,
        Query(description="Dossiers non décidés dont la décision est due au plus tard ce jour."),
    ] = None,
    flag: Annotated[
        list[Flag] | None,
        Query(
            description="Signalements exigés (répétable) : duplicate_invoice (facture présentée "
            "dans un autre dossier), overdue (échéance dépassée)."
        ),
    ] = None,
) -> CaseFilters:
    return CaseFilters(
        election_id=election_id or None,
        departement=departement or None,
        stage=stage,
        decision_due_before=decision_due_before,
        flags=frozenset(flag or ()),
    )


Filters = Annotated[CaseFilters, Depends(case_filters)]


def _attachment(extension: str) -> dict[str, str]:
    stamp = dt.datetime.now(PARIS).strftime("%Y%m%d-%H%M")
    return {
        "Content-Disposition": f'attachment; filename="secupol-dossiers-{stamp}.{extension}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


async def export_cases(
    services: ServicesDep, user: CurrentUser, filters: CaseFilters, extension: str
) -> Response:
    """The export of the cases in ``user``'s scope, in ``extension`` (csv or xlsx), audited."""
    entry = await audit.begin(services.engine, user.actor, "export_cases")
    outcome = audit.OK
    try:
        rows = await case_rows(services, user, filters)
        if extension == "csv":
            response = Response(
                to_csv(rows), media_type="text/csv; charset=utf-8", headers=_attachment("csv")
            )
        else:
            response = Response(to_xlsx(rows), media_type=XLSX_TYPE, headers=_attachment("xlsx"))
    except Exception as error:
        outcome = error_code(error)
        raise
    finally:
        await audit.finish(services.engine, entry, outcome)
    return response


_EXPORT_DESCRIPTION = (
    "Les dossiers que la personne connectée peut voir, filtres appliqués : identifiant, "
    "élection, département, étape, dates (ouverture, évaluation, date limite de dépôt, dépôt, "
    "décision due, décision, paiement), montants demandé, arrêté et payé (en euros), niveau de "
    "menace et signalements. Ni nom, ni adresse, ni pièce, ni message. La préfecture ne voit pas "
    "le montant demandé. Chaque export est inscrit au journal d'audit."
    "\n\nRéservé à : préfecture, CNCCFP."
)


@router.get(
    "/exports/cases.csv",
    response_class=Response,
    summary="Exporter les dossiers (CSV)",
    description=_EXPORT_DESCRIPTION + " CSV en UTF-8 avec BOM, séparateur « ; », virgule "
    "décimale, heures de Paris : il s'ouvre tel quel dans un tableur français.",
    responses={**_RESPONSES, 200: {"content": {"text/csv": {}}}},
)
async def export_cases_csv(services: ServicesDep, user: Staff, filters: Filters) -> Response:
    return await export_cases(services, user, filters, "csv")


@router.get(
    "/exports/cases.xlsx",
    response_class=Response,
    summary="Exporter les dossiers (XLSX)",
    description=_EXPORT_DESCRIPTION + " Classeur XLSX : montants en nombres, dates en dates "
    "(heure de Paris).",
    responses={**_RESPONSES, 200: {"content": {XLSX_TYPE: {}}}},
)
async def export_cases_xlsx(services: ServicesDep, user: Staff, filters: Filters) -> Response:
    return await export_cases(services, user, filters, "xlsx")


@router.get(
    "/statistics",
    response_model=StatisticsPublic,
    summary="Statistiques des dossiers",
    description="Nombre de dossiers par étape et par département, montants demandés, arrêtés et "
    "payés, décisions dues ce mois-ci et dossiers en retard, sur les dossiers que la personne "
    "connectée peut voir, filtres appliqués.\n\nRéservé à : préfecture, CNCCFP.",
    responses=_RESPONSES,
)
async def read_statistics(services: ServicesDep, user: Staff, filters: Filters) -> StatisticsPublic:
    now = dt.datetime.now(dt.UTC)
    figures = compute(await case_rows(services, user, filters, now), now)
    return StatisticsPublic(
        total=figures.total,
        by_stage=[
            CountPublic(key=stage.value, label=STAGE_LABELS[stage], count=count)
            for stage, count in figures.by_stage
        ],
        by_departement=[
            CountPublic(key=code, label=code, count=count) for code, count in figures.by_departement
        ],
        claimed_cents=figures.claimed_cents,
        decided_cents=figures.decided_cents,
        paid_cents=figures.paid_cents,
        decisions_due_this_month=figures.decisions_due_this_month,
        overdue=figures.overdue,
    )
