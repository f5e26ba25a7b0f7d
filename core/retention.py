"""The retention purge: find the closed cases whose delay ran out, and remove their personal data.

Where closures come from
    A case ends when its ``CandidateCaseWorkflow`` completes in a terminal stage; its last
    ``SecupolStage`` and its close time stay in Temporal visibility. ``record_closures`` reads
    them there (``ExecutionStatus = 'Completed'``) and writes one ``case_closures`` row per case,
    with the purge due date of its outcome. We chose this over an activity called by the case
    workflow at its end because it needs no change to the case workflow (no patch, nothing for
    running cases to replay differently), it sees the cases that closed before this job existed,
    and a closure can never be lost by a failed activity: the next run finds it again. Its one
    condition: the namespace's retention (``TEMPORAL_RETENTION``, 720 h in the compose file) must
    be longer than the interval between runs (a day), or Temporal would forget a closed case
    before it is recorded. Once recorded, the row is what counts: the execution can go.

The élus' procedures
    A closed ``FunctionalProtectionWorkflow``, ``AlertButtonLoanWorkflow`` or
    ``CandidateProtectionWorkflow`` is recorded and purged the same way, its procedure id where a
    case id goes, its outcome its terminal stage (``domain.retention.OUTCOME_OF_ELUS_STAGE``). Its
    id does not name its requester, so the closure keeps the requester's account id (from
    ``SecupolRequester``) until the purge, which removes that account when no other case or
    procedure names it, and clears the id.

What a purge removes
    ``domain.retention.PURGED_RECORDS``. The steps are ordered so that a purge cut half way
    (a crash, a database outage) is simply run again: objects before their rows (a row is what
    tells which objects belong to the case), Temporal runs before the ``purged_at`` mark, and the
    audit row written with the mark in one transaction.

Error tree::

    RetentionError
      CaseNotClosed         no closure row for this id, or its workflow still runs
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from core.db import (
    account_collectivites,
    account_departements,
    accounts,
    audit_log,
    case_closures,
    case_mandates,
    case_messages,
    codec_sessions,
    documents,
    elections,
    email_outbox,
    invoice_claims,
    sessions,
    sign_in_links,
)
from core.settings import Settings
from core.storage.stores import ObjectStore
from domain import visibility
from domain.elus import WORKFLOW_TYPES as ELUS_WORKFLOW_TYPES
from domain.ids import CASE_ID_PREFIX, CASE_WORKFLOW_TYPE
from domain.retention import (
    RETENTION_SCHEDULE_ID,
    RETENTION_WORKFLOW_TYPE,
    ClosureOutcome,
    PurgeCaseResult,
    RetentionPolicy,
    RetentionPurgeInput,
    is_due,
    outcome_of,
)
from domain.stages import Role

log = logging.getLogger(__name__)

STAGE_KEY = SearchAttributeKey.for_keyword(visibility.STAGE)
REQUESTER_KEY = SearchAttributeKey.for_keyword(visibility.REQUESTER)
CLOSING_WORKFLOW_TYPES = (CASE_WORKFLOW_TYPE, *ELUS_WORKFLOW_TYPES.values())
"""The workflows whose completion is a closure: the case and the three élus' procedures."""
REMOVABLE_ROLES = frozenset({Role.CANDIDATE.value, Role.THIRD_PARTY.value, Role.ELU.value})
"""The accounts a purge may remove (never staff)."""
_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,119}")
"""Case ids are opaque (``case-<election>-<candidate>``); checked before they go into a query."""
RECORD_MARGIN = dt.timedelta(days=1)
"""Visibility is eventually consistent: each scan looks back this far before the last closure."""
RECORD_CHUNK = 500
PURGE_ACTION = "purge"
"""The ``action`` of the audit row of each purge."""


class RetentionError(Exception):
    """Base of the retention errors."""


class CaseNotClosed(RetentionError):
    """The case has no closure on record, or a run of its workflow is still open."""


@dataclass(frozen=True)
class ClosureRecord:
    """One row of ``case_closures`` (no personal data)."""

    case_id: str
    outcome: ClosureOutcome
    closed_at: dt.datetime
    purge_due_at: dt.datetime
    purged_at: dt.datetime | None
    requester_id: str | None = None
    """An élus' procedure's requester account (None for a case, and once purged)."""


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _record(row: object) -> ClosureRecord:
    purged_at = row.purged_at  # type: ignore[attr-defined]
    return ClosureRecord(
        case_id=row.case_id,  # type: ignore[attr-defined]
        outcome=ClosureOutcome(row.outcome),  # type: ignore[attr-defined]
        closed_at=_utc(row.closed_at),  # type: ignore[attr-defined]
        purge_due_at=_utc(row.purge_due_at),  # type: ignore[attr-defined]
        purged_at=_utc(purged_at) if purged_at is not None else None,
        requester_id=row.requester_id,  # type: ignore[attr-defined]
    )


def _checked(case_id: str) -> str:
    if not _SAFE_ID.fullmatch(case_id):
        raise ValueError("not a case id")
    return case_id


def _candidate_of(case_id: str) -> str | None:
    # case-<election>-<candidate>; the candidate id has no dash (domain.ids).
    if not case_id.startswith(CASE_ID_PREFIX):
        return None
    return case_id.rsplit("-", 1)[-1]


class Retention:
    """Records closures and purges cases.

    Args:
        engine: The app database.
        client: A Temporal client (``core.temporal.connect``) of the cases' namespace.
        store: The object store of the documents (local disk or S3, ``core.storage``).
        policy: The retention delay of each outcome (``Settings.retention_policy``).
    """

    def __init__(
        self, engine: AsyncEngine, client: Client, store: ObjectStore, policy: RetentionPolicy
    ):
        self._engine = engine
        self._client = client
        self._store = store
        self._policy = policy

    # --- Closures --------------------------------------------------------------------------

    async def record_closures(self, now: dt.datetime) -> int:
        """Record the cases that closed since the last scan; returns how many are new.

        Args:
            now: When the scan runs (the recording time of new rows).
        """
        async with self._engine.connect() as connection:
            last = (await connection.execute(select(func.max(case_closures.c.closed_at)))).scalar()
        types = ", ".join(f"'{name}'" for name in CLOSING_WORKFLOW_TYPES)
        query = f"WorkflowType IN ({types}) AND ExecutionStatus = 'Completed'"
        if last is not None:
            since = (_utc(last) - RECORD_MARGIN).astimezone(dt.UTC)
            query += f" AND CloseTime >= '{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        found: dict[str, tuple[ClosureOutcome, dt.datetime]] = {}
        requesters: dict[str, str | None] = {}
        async for execution in self._client.list_workflows(query):
            outcome = outcome_of(execution.typed_search_attributes.get(STAGE_KEY))
            if outcome is None or execution.close_time is None:
                # Ended by hand (a terminated duplicate): not a closure the procedure knows.
                continue
            found[execution.id] = (outcome, execution.close_time)
            requesters[execution.id] = execution.typed_search_attributes.get(REQUESTER_KEY)
        recorded = 0
        ids = sorted(found)
        # In chunks: a first scan of a busy namespace can find more ids than a statement takes.
        for start in range(0, len(ids), RECORD_CHUNK):
            chunk = ids[start : start + RECORD_CHUNK]
            async with self._engine.begin() as connection:
                known = set(
                    (
                        await connection.execute(
                            select(case_closures.c.case_id).where(
                                case_closures.c.case_id.in_(chunk)
                            )
                        )
                    ).scalars()
                )
                new = [
                    {
                        "case_id": case_id,
                        "outcome": found[case_id][0].value,
                        "closed_at": found[case_id][1],
                        "recorded_at": now,
                        "purge_due_at": self._policy.purge_due_at(*found[case_id]),
                        "requester_id": requesters[case_id],
                    }
                    for case_id in chunk
                    if case_id not in known
                ]
                if new:
                    await connection.execute(insert(case_closures), new)
            recorded += len(new)
        return recorded

    async def closures(
        self,
        now: dt.datetime,
        *,
        limit: int | None = None,
        before_due: bool = False,
        case_id: str | None = None,
    ) -> list[ClosureRecord]:
        """Cases not purged yet whose delay ran out at ``now`` (every one with ``before_due``),
        soonest due first.

        Args:
            now: The time the delays are compared to.
            limit: Most rows returned.
            before_due: Also the cases whose delay has not run out (an operator's decision).
            case_id: Only this case.
        """
        query = (
            select(case_closures)
            .where(case_closures.c.purged_at.is_(None))
            .order_by(case_closures.c.purge_due_at, case_closures.c.case_id)
        )
        if not before_due:
            query = query.where(case_closures.c.purge_due_at <= now)
        if case_id is not None:
            query = query.where(case_closures.c.case_id == case_id)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        # Compared again in Python: SQLite compares datetimes as text.
        return [
            record
            for record in map(_record, rows)
            if is_due(record.purge_due_at, now, before_due=before_due)
        ]

    async def closure(self, case_id: str) -> ClosureRecord | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(case_closures).where(case_closures.c.case_id == case_id)
                )
            ).first()
        return _record(row) if row is not None else None

    async def orphans(self) -> list[str]:
        """Case ids that still have records here but neither a closure nor a Temporal execution.

        Nothing purges them: Temporal forgot the case before it was recorded (the namespace's
        retention was shorter than the interval between scans), or the case was terminated by
        hand. An operator looks at each (``retention list`` shows them).
        """
        async with self._engine.connect() as connection:
            seen: set[str] = set()
            for column in (
                documents.c.case_id,
                case_messages.c.case_id,
                invoice_claims.c.case_id,
                case_mandates.c.case_id,
            ):
                seen |= set((await connection.execute(select(column).distinct())).scalars())
            closed = set((await connection.execute(select(case_closures.c.case_id))).scalars())
        candidates = sorted(case_id for case_id in seen - closed if _SAFE_ID.fullmatch(case_id))
        found: list[str] = []
        for start in range(0, len(candidates), 50):
            chunk = candidates[start : start + 50]
            listed = ", ".join(f"'{case_id}'" for case_id in chunk)
            existing = {
                execution.id
                async for execution in self._client.list_workflows(f"WorkflowId IN ({listed})")
            }
            found += [case_id for case_id in chunk if case_id not in existing]
        return found

    # --- Purge -----------------------------------------------------------------------------

    async def purge(
        self,
        case_id: str,
        now: dt.datetime,
        *,
        actor_id: str,
        actor_role: Role = Role.SYSTEM,
    ) -> PurgeCaseResult:
        """Remove the personal data and the documents of one closed case (idempotent).

        Args:
            case_id: The case's workflow id; it must have a closure row.
            now: The purge time (``purged_at`` and the audit row).
            actor_id: Who purges (the schedule, or the admin command), for the audit row.
            actor_role: Their role.

        Raises:
            CaseNotClosed: no closure row, or a run of the workflow is still open.
        """
        _checked(case_id)
        closure = await self.closure(case_id)
        if closure is None:
            raise CaseNotClosed(case_id)
        if closure.purged_at is not None:
            return PurgeCaseResult(case_id=case_id, already_purged=True)
        runs = await self._runs(case_id)
        if any(status == WorkflowExecutionStatus.RUNNING for _, status in runs):
            raise CaseNotClosed(case_id)
        result = PurgeCaseResult(case_id=case_id)
        await self._purge_documents(case_id, result)
        mandated = await self._purge_rows(case_id, result)
        result.workflow_runs = await self._delete_runs(case_id, [run_id for run_id, _ in runs])
        result.accounts = await self._purge_accounts(case_id, mandated, closure.requester_id)
        async with self._engine.begin() as connection:
            await connection.execute(
                update(case_closures)
                .where(case_closures.c.case_id == case_id)
                .values(purged_at=now, requester_id=None)
            )
            await connection.execute(
                insert(audit_log).values(
                    at=now,
                    actor_id=actor_id,
                    actor_role=actor_role.value,
                    case_id=case_id,
                    action=PURGE_ACTION,
                    outcome="ok",
                )
            )
        log.info(
            "purged case %s: %d documents, %d runs, %d accounts",
            case_id,
            result.document_rows,
            result.workflow_runs,
            result.accounts,
        )
        return result

    async def _purge_documents(self, case_id: str, result: PurgeCaseResult) -> None:
        async with self._engine.connect() as connection:
            keys = set(
                (
                    await connection.execute(
                        select(documents.c.object_key).where(documents.c.case_id == case_id)
                    )
                ).scalars()
            )
            # Objects are content-addressed: one another case also holds stays for that case.
            shared = (
                set(
                    (
                        await connection.execute(
                            select(documents.c.object_key).where(
                                documents.c.object_key.in_(list(keys)),
                                documents.c.case_id != case_id,
                            )
                        )
                    ).scalars()
                )
                if keys
                else set()
            )
        for key in sorted(keys - shared):
            await self._store.delete(key)
            result.document_objects += 1
        async with self._engine.begin() as connection:
            deleted = await connection.execute(
                delete(documents).where(documents.c.case_id == case_id)
            )
        result.document_rows = deleted.rowcount

    async def _purge_rows(self, case_id: str, result: PurgeCaseResult) -> set[str]:
        """Messages, the case's emails, invoice claims and mandates; returns the mandated."""
        async with self._engine.begin() as connection:
            mandated = set(
                (
                    await connection.execute(
                        select(case_mandates.c.account_id).where(case_mandates.c.case_id == case_id)
                    )
                ).scalars()
            )
            # Plain DELETE: whatever columns a message has (plain or encrypted), all go.
            result.messages = (
                await connection.execute(
                    delete(case_messages).where(case_messages.c.case_id == case_id)
                )
            ).rowcount
            # Every email of a case has an idempotency key "<case id>:…" (workflows/case.py).
            result.emails = (
                await connection.execute(
                    delete(email_outbox).where(
                        email_outbox.c.idempotency_key.startswith(f"{case_id}:", autoescape=True)
                    )
                )
            ).rowcount
            result.invoice_claims = (
                await connection.execute(
                    delete(invoice_claims).where(invoice_claims.c.case_id == case_id)
                )
            ).rowcount
            result.mandates = (
                await connection.execute(
                    delete(case_mandates).where(case_mandates.c.case_id == case_id)
                )
            ).rowcount
        return mandated

    async def _runs(self, case_id: str) -> list[tuple[str, WorkflowExecutionStatus | None]]:
        """Every run of the case's workflow (a continued-as-new case has several)."""
        return [
            (execution.run_id, execution.status)
            async for execution in self._client.list_workflows(f"WorkflowId = '{case_id}'")
        ]

    async def _delete_runs(self, case_id: str, run_ids: list[str]) -> int:
        """Delete each run: its history (encrypted payloads included) and visibility record."""
        deleted = 0
        for run_id in run_ids:
            request = DeleteWorkflowExecutionRequest(
                namespace=self._client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=case_id, run_id=run_id),
            )
            try:
                await self._client.workflow_service.delete_workflow_execution(request)
            except RPCError as error:
                # Already deleted (a retried purge) or removed by the namespace's retention.
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue
            deleted += 1
        return deleted

    async def _purge_accounts(
        self, case_id: str, mandated: set[str], requester_id: str | None = None
    ) -> int:
        """The candidate's, the third parties' and the élus' procedure's requester's accounts that
        no other case or procedure names.

        A candidate's account goes only when no other case of theirs exists in any election
        (in Temporal, or closed and not yet purged, or with documents) and no élus' procedure
        names them; an official's only when no other procedure names them; a third party's only
        when they hold no other mandate. Staff accounts are never removed here.
        """
        removable: list[str] = []
        people = {_candidate_of(case_id), requester_id}
        for person_id in sorted(person for person in people if person is not None):
            if not await self._candidate_has_other_case(
                person_id, case_id
            ) and not await self._named_by_other_procedure(person_id, case_id):
                removable.append(person_id)
        for account_id in sorted(mandated):
            async with self._engine.connect() as connection:
                other = (
                    await connection.execute(
                        select(case_mandates.c.case_id)
                        .where(case_mandates.c.account_id == account_id)
                        .limit(1)
                    )
                ).first()
            if other is None:
                removable.append(account_id)
        removed = 0
        for account_id in removable:
            async with self._engine.begin() as connection:
                row = (
                    await connection.execute(
                        select(accounts.c.email, accounts.c.role).where(
                            accounts.c.account_id == account_id
                        )
                    )
                ).first()
                if row is None or row.role not in REMOVABLE_ROLES:
                    continue
                # Explicit deletes: SQLite does not enforce the foreign keys' cascades here.
                for table in (
                    sessions,
                    sign_in_links,
                    account_departements,
                    account_collectivites,
                    case_mandates,
                    codec_sessions,
                ):
                    await connection.execute(delete(table).where(table.c.account_id == account_id))
                # Sign-in links and account emails kept the address in the outbox.
                await connection.execute(
                    delete(email_outbox).where(email_outbox.c.recipient == row.email)
                )
                await connection.execute(
                    delete(accounts).where(accounts.c.account_id == account_id)
                )
            removed += 1
        return removed

    async def _named_by_other_procedure(self, account_id: str, case_id: str) -> bool:
        """Whether an élus' procedure other than ``case_id`` names ``account_id`` as its
        requester: closed and not yet purged, or still in Temporal (open or closed)."""
        async with self._engine.connect() as connection:
            closed = (
                await connection.execute(
                    select(case_closures.c.case_id)
                    .where(
                        case_closures.c.requester_id == account_id,
                        case_closures.c.case_id != case_id,
                        case_closures.c.purged_at.is_(None),
                    )
                    .limit(1)
                )
            ).first()
        if closed is not None:
            return True
        if not _SAFE_ID.fullmatch(account_id):
            return True  # not an id this query can carry: keep the account, never guess
        count = await self._client.count_workflows(
            f"{visibility.REQUESTER} = '{account_id}' AND WorkflowId != '{case_id}'"
        )
        return count.count > 0

    async def _candidate_has_other_case(self, candidate_id: str, case_id: str) -> bool:
        suffix = f"-{candidate_id}"
        async with self._engine.connect() as connection:
            # Closed and not yet purged, or with documents, or held by a mandate.
            for column, extra in (
                (case_closures.c.case_id, case_closures.c.purged_at.is_(None)),
                (documents.c.case_id, None),
                (case_mandates.c.case_id, None),
                (case_messages.c.case_id, None),
            ):
                query = select(column).where(
                    column.endswith(suffix, autoescape=True), column != case_id
                )
                if extra is not None:
                    query = query.where(extra)
                if (await connection.execute(query.limit(1))).first() is not None:
                    return True
            election_ids = list(
                (await connection.execute(select(elections.c.election_id))).scalars()
            )
        candidates = (f"{CASE_ID_PREFIX}{election_id}{suffix}" for election_id in election_ids)
        others = [other for other in candidates if other != case_id and _SAFE_ID.fullmatch(other)]
        # Open or closed cases in Temporal, in every election known (a handful).
        for start in range(0, len(others), 50):
            chunk = others[start : start + 50]
            listed = ", ".join(f"'{other}'" for other in chunk)
            count = await self._client.count_workflows(f"WorkflowId IN ({listed})")
            if count.count > 0:
                return True
        return False


# --- The schedule ---------------------------------------------------------------------------


def purge_schedule(settings: Settings) -> Schedule:
    """The Schedule of the purge as the settings describe it (task queue, cron, batch size)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW_TYPE,
            RetentionPurgeInput(batch_size=settings.retention_batch_size),
            id=RETENTION_SCHEDULE_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[settings.retention_cron]),
        # A run still going when the next is due (a long backlog) is not doubled.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            paused=not settings.retention_schedule_enabled,
            note=None if settings.retention_schedule_enabled else SCHEDULE_DISABLED_NOTE,
        ),
    )


SCHEDULE_DISABLED_NOTE = "paused: SECUPOL_RETENTION_SCHEDULE_ENABLED=false"


async def ensure_schedule(client: Client, settings: Settings) -> None:
    """Create the purge's Schedule, or bring it to the settings (idempotent, every worker start).

    With ``retention_schedule_enabled`` false, the Schedule is paused with a note saying why
    (``SCHEDULE_DISABLED_NOTE``), or created paused: never deleted, so its recent runs stay
    visible and the operator sees in the Web UI that the purge is off on purpose.
    """
    wanted = purge_schedule(settings)
    try:
        await client.create_schedule(RETENTION_SCHEDULE_ID, wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def _update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(RETENTION_SCHEDULE_ID).update(_update)
