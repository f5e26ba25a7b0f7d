"""``python -m api.admin retention …``: the operators' view of the retention purge.

Subcommands::

    retention list
        record the cases closed since the last scan, then list those whose delay ran out
        (case id, outcome, closing date, due date): a dry run, nothing is purged
    retention purge [--case-id ID] [--dry-run] [--before-due]
        purge the cases due (or one case); ``--dry-run`` only says what would go;
        ``--before-due`` (with ``--case-id`` only) purges a case before its delay ran out,
        for an erasure the DPO granted
    retention schedule [--trigger]
        show the Temporal Schedule of the daily purge (created by the worker); ``--trigger``
        starts a run now

Output holds case ids, outcomes, dates and counts only: never a name, an address or a file name.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode

from core.retention import CaseNotClosed, ClosureRecord, Retention
from core.settings import Settings
from core.storage.stores import build_store
from core.temporal import connect
from domain.calendar import PARIS
from domain.errors import DomainError, ErrorCode
from domain.retention import RETENTION_SCHEDULE_ID, PurgeCaseResult
from domain.stages import Role

CLI_ACTOR_ID = "admin-cli"
"""The actor of the ``purge`` audit rows this command writes (as ``api.admin.CLI_ACTOR``)."""

OUTCOME_LABELS = {
    "paid": "payé",
    "rejected": "rejeté",
    "withdrawn": "retiré",
    "time_barred": "forclos",
    "closed": "clos par la Commission",
    "fp_final": "protection fonctionnelle définitive",
    "fp_withdrawn": "protection fonctionnelle retirée",
    "ab_returned": "bouton d'appel restitué",
    "cp_granted": "protection de l'État accordée",
    "cp_refused": "protection de l'État refusée",
    "cp_withdrawn": "protection de l'État : demande retirée",
}
"""One French label per ``domain.retention.ClosureOutcome`` (cases and élus' procedures)."""


def add_retention_commands(commands: Any) -> None:
    """Add ``retention`` and its subcommands to the ``api.admin`` parser."""
    retention = commands.add_parser(
        "retention", help="conservation des données : dossiers clos à purger"
    )
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="dossiers dont le délai de conservation est écoulé (rien n'est purgé)"
    )
    listing.set_defaults(handler=list_command)
    purge = actions.add_parser("purge", help="purger les dossiers échus, ou un dossier")
    purge.add_argument("--case-id", default=None, metavar="ID", help="un seul dossier")
    purge.add_argument(
        "--dry-run", action="store_true", help="dire ce qui serait purgé, sans rien purger"
    )
    purge.add_argument(
        "--before-due",
        action="store_true",
        help="purger ce dossier avant la fin de son délai (avec --case-id uniquement)",
    )
    purge.set_defaults(handler=purge_command)
    schedule = actions.add_parser("schedule", help="la purge planifiée dans Temporal")
    schedule.add_argument("--trigger", action="store_true", help="lancer une purge maintenant")
    schedule.set_defaults(handler=schedule_command)


@contextlib.asynccontextmanager
async def _retention(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Retention]:
    client = await connect(settings)
    store = build_store(settings)
    try:
        yield Retention(engine, client, store, settings.retention_policy())
    finally:
        await store.aclose()


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m/%Y")


def _lines(records: list[ClosureRecord]) -> list[str]:
    return [
        f"  {record.case_id}  {OUTCOME_LABELS[record.outcome.value]}  clos le "
        f"{_day(record.closed_at)}  purge prévue le {_day(record.purge_due_at)}"
        for record in records
    ]


async def list_command(settings: Settings, engine: AsyncEngine, _: argparse.Namespace) -> str:
    """``retention list``: a dry run of the next purge."""
    now = dt.datetime.now(dt.UTC)
    async with _retention(settings, engine) as retention:
        recorded = await retention.record_closures(now)
        due = await retention.closures(now)
        orphans = await retention.orphans()
    lines = [
        f"Clôtures nouvellement enregistrées : {recorded}",
        f"Dossiers dont le délai de conservation est écoulé : {len(due)}",
        *_lines(due),
    ]
    if orphans:
        lines.append(
            f"À examiner : {len(orphans)} dossier(s) avec des données mais ni exécution "
            "Temporal ni clôture enregistrée (jamais purgés automatiquement)"
        )
        lines += [f"  {case_id}" for case_id in orphans]
    return "\n".join(lines)


def _summary(result: PurgeCaseResult) -> str:
    if result.already_purged:
        return f"  {result.case_id}  déjà purgé"
    return (
        f"  {result.case_id}  purgé : {result.document_rows} document(s), "
        f"{result.document_objects} fichier(s), {result.messages} message(s), "
        f"{result.emails} courriel(s), {result.invoice_claims} facture(s), "
        f"{result.mandates} mandat(s), {result.workflow_runs} exécution(s) Temporal, "
        f"{result.accounts} compte(s)"
    )


async def purge_command(settings: Settings, engine: AsyncEngine, args: argparse.Namespace) -> str:
    """``retention purge``: purge what is due (or one case), or say what would be."""
    if args.before_due and args.case_id is None:
        raise DomainError(ErrorCode.INVALID_INPUT)
    now = dt.datetime.now(dt.UTC)
    async with _retention(settings, engine) as retention:
        return await _purge(retention, now, args)


async def _purge(retention: Retention, now: dt.datetime, args: argparse.Namespace) -> str:
    await retention.record_closures(now)
    if args.case_id is not None:
        closure = await retention.closure(args.case_id)
        if closure is None:
            raise DomainError(ErrorCode.CASE_NOT_CLOSED)
        due = await retention.closures(now, case_id=args.case_id, before_due=args.before_due)
        if not due and closure.purged_at is None:
            raise DomainError(ErrorCode.RETENTION_NOT_DUE)
    else:
        due = await retention.closures(now)
    if args.dry_run:
        return "\n".join(
            [f"Seraient purgés (essai, rien n'est modifié) : {len(due)}", *_lines(due)]
        )
    lines = [f"Dossiers à purger : {len(due)}"]
    for record in due:
        try:
            result = await retention.purge(
                record.case_id, now, actor_id=CLI_ACTOR_ID, actor_role=Role.ADMIN
            )
        except CaseNotClosed:
            lines.append(f"  {record.case_id}  non purgé : une exécution du dossier est en cours")
            continue
        lines.append(_summary(result))
    return "\n".join(lines)


async def schedule_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``retention schedule``: the Schedule's state, its next and last runs; or a run now."""
    client = await connect(settings)
    handle = client.get_schedule_handle(RETENTION_SCHEDULE_ID)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return (
            "Aucune purge planifiée : le worker la crée à son démarrage "
            "(SECUPOL_RETENTION_SCHEDULE_ENABLED)."
        )
    if args.trigger:
        await handle.trigger()
        return f"Purge lancée maintenant (planification {RETENTION_SCHEDULE_ID})."
    state = description.schedule.state
    info = description.info
    lines = [
        f"Planification : {RETENTION_SCHEDULE_ID}",
        f"  cron (UTC)   : {settings.retention_cron}",
        f"  état         : {'en pause' if state.paused else 'active'}",
    ]
    lines += [
        f"  prochaine    : {moment.astimezone(PARIS):%d/%m/%Y %H:%M}"
        for moment in info.next_action_times[:3]
    ]
    for action in info.recent_actions[-3:]:
        run = action.action
        label = run.workflow_id if isinstance(run, ScheduleActionExecutionStartWorkflow) else ""
        lines.append(
            f"  dernière     : {action.started_at.astimezone(PARIS):%d/%m/%Y %H:%M} {label}"
        )
    return "\n".join(lines)
