"""Client side of the élus' procedures, and the collectivités with their staff.

``ElusClient`` starts the three workflows (idempotent: a retried start with the same reference
returns the running procedure), sends their Updates and reads their state; refusals come back as
``core.cases.CaseActionRefused`` and unknown procedures as ``CaseNotFound``, the errors the API
already maps to HTTP. The collectivités (a commune, a département, a région, with the address
requests are sent to) and the collectivités each staff account serves live in the app database.

Refusals (``DomainError``) of the collectivités' functions::

    invalid_identifier     a collectivité id that is not opaque (lower-case, digits, dashes)
    invalid_departement    a département code that does not exist
    invalid_email          an address that is not one
    prefecture_unknown     no collectivité with this id (when granting it to an account)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.cases import CaseActionRefused, CaseNotFound
from core.db import account_collectivites, collectivites
from domain import visibility
from domain.elus import (
    WORKFLOW_TYPES,
    CandidateProtectionState,
    CollectiviteInfo,
    DecideAlertButtonInput,
    ElusAction,
    ElusActionResult,
    ElusStage,
    FileProtectionRequestInput,
    LoanState,
    Procedure,
    ProtectionState,
    RequestStateProtectionInput,
    procedure_of,
    procedure_workflow_id,
)
from domain.errors import MESSAGES, DomainError, ErrorCode
from domain.identifiers import is_opaque_id, is_valid_departement

STAGE_KEY = SearchAttributeKey.for_keyword(visibility.STAGE)
DEPARTEMENT_KEY = SearchAttributeKey.for_keyword(visibility.DEPARTEMENT)
COLLECTIVITE_KEY = SearchAttributeKey.for_keyword(visibility.COLLECTIVITE)
REQUESTER_KEY = SearchAttributeKey.for_keyword(visibility.REQUESTER)

ProcedureState = ProtectionState | LoanState | CandidateProtectionState
STATE_TYPES: dict[Procedure, type[BaseModel]] = {
    Procedure.FUNCTIONAL_PROTECTION: ProtectionState,
    Procedure.ALERT_BUTTON: LoanState,
    Procedure.CANDIDATE_PROTECTION: CandidateProtectionState,
}


class ElusClient:
    """Starts, acts on and reads the élus' procedures.

    Args:
        client: A client from ``core.temporal.connect``.
        task_queue: The task queue the workers poll.
    """

    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    def handle(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id)

    async def start(
        self,
        procedure: Procedure,
        reference: str,
        input: FileProtectionRequestInput | DecideAlertButtonInput | RequestStateProtectionInput,
        *,
        stage: ElusStage,
        departement: str,
        collectivite: str | None = None,
        requester: str | None = None,
    ) -> str:
        """Start a procedure unless it runs already; returns its workflow id.

        Raises:
            CaseActionRefused: ``case_closed``, a procedure with this reference has ended.
        """
        workflow_id = procedure_workflow_id(procedure, reference)
        pairs: list[SearchAttributePair[Any]] = [
            SearchAttributePair(STAGE_KEY, stage.value),
            SearchAttributePair(DEPARTEMENT_KEY, departement),
        ]
        if collectivite is not None:
            pairs.append(SearchAttributePair(COLLECTIVITE_KEY, collectivite))
        if requester is not None:
            pairs.append(SearchAttributePair(REQUESTER_KEY, requester))
        try:
            await self.client.start_workflow(
                WORKFLOW_TYPES[procedure],
                input,
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # Set at once, so that scoped lists see the procedure before its first task.
                search_attributes=TypedSearchAttributes(pairs),
            )
        except WorkflowAlreadyStartedError:
            raise CaseActionRefused(
                ErrorCode.CASE_CLOSED.value, "Cette procédure est close : elle n'évolue plus."
            ) from None
        return workflow_id

    async def act(
        self,
        workflow_id: str,
        action: ElusAction,
        input: BaseModel,
        *,
        request_id: str | None = None,
    ) -> ElusActionResult:
        """Send one human action; returns the stage after it.

        Raises:
            CaseActionRefused: the workflow refused it (nothing changed).
            CaseNotFound: no such procedure.
        """
        try:
            result = await self.handle(workflow_id).execute_update(
                action.value, input, id=request_id, result_type=ElusActionResult
            )
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            raise await self._not_found_or_closed(workflow_id, error) from None
        if not isinstance(result, ElusActionResult):
            raise TypeError(f"expected ElusActionResult, got {type(result).__name__}")
        return result

    async def state(self, workflow_id: str) -> ProcedureState:
        """The procedure as its workflow holds it (closed ones too).

        Raises:
            CaseNotFound: no such procedure (or an id of no élus' procedure).
        """
        procedure = procedure_of(workflow_id)
        if procedure is None:
            raise CaseNotFound(workflow_id)
        try:
            state = await self.handle(workflow_id).query(
                "state", result_type=STATE_TYPES[procedure]
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise CaseNotFound(workflow_id) from None
            raise
        if not isinstance(state, ProtectionState | LoanState | CandidateProtectionState):
            raise TypeError(f"unexpected state {type(state).__name__}")
        return state

    async def _not_found_or_closed(self, workflow_id: str, error: RPCError) -> Exception:
        if error.status != RPCStatusCode.NOT_FOUND:
            return error
        try:
            await self.handle(workflow_id).describe()
        except RPCError as described:
            if described.status == RPCStatusCode.NOT_FOUND:
                return CaseNotFound(workflow_id)
            raise
        return CaseActionRefused(
            ErrorCode.CASE_CLOSED.value, "Cette procédure est close : elle n'évolue plus."
        )


def _refusal(error: WorkflowUpdateFailedError) -> CaseActionRefused:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        details = cause.details[0] if cause.details else None
        field = details.get("field") if isinstance(details, dict) else None
        if cause.type in {code.value for code in ErrorCode}:
            return CaseActionRefused(cause.type, cause.message, field)
    return CaseActionRefused(ErrorCode.INVALID_INPUT.value, MESSAGES[ErrorCode.INVALID_INPUT])


# --- Collectivités --------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def save_collectivite(engine: AsyncEngine, collectivite: CollectiviteInfo) -> None:
    """Add a collectivité, or change its name, département or service address.

    Raises:
        DomainError: ``invalid_identifier``, ``invalid_departement``.
    """
    if not is_opaque_id(collectivite.collectivite_id):
        raise DomainError(ErrorCode.INVALID_IDENTIFIER, field="collectivite_id")
    if not is_valid_departement(collectivite.departement):
        raise DomainError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
    values = {
        "name": collectivite.name,
        "departement": collectivite.departement,
        "email": collectivite.email,
        "updated_at": _now(),
    }
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(collectivites)
            .where(collectivites.c.collectivite_id == collectivite.collectivite_id)
            .values(**values)
        )
        if changed.rowcount == 0:
            await connection.execute(
                insert(collectivites).values(collectivite_id=collectivite.collectivite_id, **values)
            )


async def get_collectivite(engine: AsyncEngine, collectivite_id: str) -> CollectiviteInfo | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(collectivites).where(collectivites.c.collectivite_id == collectivite_id)
            )
        ).first()
    if row is None:
        return None
    return CollectiviteInfo(
        collectivite_id=row.collectivite_id,
        name=row.name,
        departement=row.departement,
        email=row.email,
    )


async def list_collectivites(engine: AsyncEngine) -> list[CollectiviteInfo]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(collectivites).order_by(collectivites.c.name))
        ).all()
    return [
        CollectiviteInfo(
            collectivite_id=row.collectivite_id,
            name=row.name,
            departement=row.departement,
            email=row.email,
        )
        for row in rows
    ]


async def grant_collectivite(engine: AsyncEngine, account_id: str, collectivite_id: str) -> None:
    """Let a collectivité staff account act for ``collectivite_id`` (idempotent).

    Raises:
        DomainError: ``prefecture_unknown`` when the collectivité does not exist.
    """
    if await get_collectivite(engine, collectivite_id) is None:
        raise DomainError(
            ErrorCode.PREFECTURE_UNKNOWN,
            field="collectivite_id",
            message="Cette collectivité n'est pas enregistrée dans Sécu'Pol.",
        )
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(account_collectivites).values(
                    account_id=account_id, collectivite_id=collectivite_id
                )
            )
    except IntegrityError:
        return  # already granted


async def revoke_collectivite(engine: AsyncEngine, account_id: str, collectivite_id: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(account_collectivites).where(
                account_collectivites.c.account_id == account_id,
                account_collectivites.c.collectivite_id == collectivite_id,
            )
        )


async def collectivites_of(engine: AsyncEngine, account_id: str) -> list[str]:
    """The collectivités a staff account serves, sorted."""
    async with engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    select(account_collectivites.c.collectivite_id)
                    .where(account_collectivites.c.account_id == account_id)
                    .order_by(account_collectivites.c.collectivite_id)
                )
            ).scalars()
        )
