"""What a route does with a case: check the caller may see it, read it, act on it, list cases.

Scope rules (someone else's case answers 404 ``case_not_found``, never 403, so that nobody learns
which cases exist):

- a candidate sees the cases whose id ends with their candidate id;
- a mandated third party sees the case they hold a current mandate for;
- prefecture staff see the cases of their départements (read from the case's search attributes);
- CNCCFP reviewers see every case.

The workflow checks the same rules again in its validators; this layer exists so that a refusal
for scope looks the same whether or not the case exists, and whether or not it is closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api import audit
from api.deps import CurrentUser, Services
from api.errors import ApiError, InputRefused
from api.schemas import (
    ActionPublic,
    CasePublic,
    CaseSummaryPublic,
    LineCheckPublic,
)
from core.cases import (
    DEPARTEMENT_KEY,
    DEPOSIT_DEADLINE_KEY,
    ELECTION_KEY,
    NEXT_DEADLINE_KEY,
    STAGE_KEY,
    CaseActionRefused,
    CaseNotFound,
)
from domain.contracts import (
    ActionInput,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CaseState,
    MandateThirdPartyInput,
    RecordEvaluationInput,
    RequestEvaluationInput,
)
from domain.errors import DomainError, ErrorCode, problems_from_validation_error
from domain.identifiers import is_candidate_id, is_opaque_id
from domain.ids import CASE_ID_PREFIX, CASE_WORKFLOW_TYPE
from domain.stages import RULES, STAGE_LABELS, Action, Role, Stage, actions_for

_STAGE_VALUES = {stage.value for stage in Stage}

InputT = TypeVar("InputT", bound=BaseModel)


def build_input(make: Callable[[], InputT]) -> InputT:
    """Build a domain contract from request data; its validation errors become one 422."""
    try:
        return make()
    except ValidationError as error:
        raise InputRefused(problems_from_validation_error(error)) from None


def referenced_documents(input: BaseModel) -> list[tuple[str, str]]:
    """The (field, document id) pairs an action's input refers to."""
    found: list[tuple[str, str]] = []
    if isinstance(input, RequestEvaluationInput):
        found += [("complaint_document_refs", ref) for ref in input.complaint_document_refs]
        if input.candidacy_proof_ref:
            found.append(("candidacy_proof_ref", input.candidacy_proof_ref))
    elif isinstance(input, RecordEvaluationInput):
        found.append(("decision_document", input.decision_document))
    elif isinstance(input, MandateThirdPartyInput):
        found.append(("mandate_document", input.mandate_document))
    elif isinstance(input, AddExpenseLineInput):
        found += [("document_refs", ref) for ref in input.line.document_refs]
    elif isinstance(input, AnswerObservationsInput):
        found += [("document_refs", ref) for ref in input.document_refs]
    return found


def candidate_of(case_id: str) -> str | None:
    """The candidate id a case id ends with, if it is a well-formed case id."""
    if not case_id.startswith(CASE_ID_PREFIX) or not is_opaque_id(case_id):
        return None
    election, _, candidate = case_id[len(CASE_ID_PREFIX) :].rpartition("-")
    if not election or not is_candidate_id(candidate):
        return None
    return candidate


def election_of(case_id: str) -> str | None:
    if candidate_of(case_id) is None:
        return None
    return case_id[len(CASE_ID_PREFIX) :].rpartition("-")[0]


def case_public(state: CaseState, role: Role) -> CasePublic:
    """The case as its reader sees it, with what they may do now."""
    public = CasePublic.model_validate(
        {
            **{
                name: getattr(state, name)
                for name in CasePublic.model_fields
                if hasattr(state, name)
            },
            "claimed_cents": state.claimed_cents,
            "stage_label": STAGE_LABELS[state.stage],
            "line_checks": [
                LineCheckPublic(
                    line_id=check.line_id,
                    cnaps=check.cnaps.outcome if check.cnaps else None,
                    sirene=check.sirene.outcome if check.sirene else None,
                    checked_at=check.checked_at,
                    manual_valid=check.manual.valid if check.manual else None,
                    manual_note=check.manual.note if check.manual else None,
                    needs_manual_verification=check.needs_manual_verification,
                )
                for check in state.line_checks
            ],
            "available_actions": [
                ActionPublic(action=action, label=RULES[action].label)
                for action in actions_for(state.stage, role)
            ],
        },
        from_attributes=True,
    )
    return public


class CaseGateway:
    """Scoped access to cases for one request."""

    def __init__(self, services: Services):
        self._services = services

    async def ensure_visible(self, user: CurrentUser, case_id: str) -> None:
        """Refuse (404) a case outside the caller's scope, or that does not exist for them.

        For candidates and third parties nothing is asked of Temporal: their scope is in the id
        or the database. Prefecture staff need the case's département: a missing case is 404.
        """
        actor = user.actor
        if actor.role == Role.CANDIDATE:
            if candidate_of(case_id) != actor.id:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
        elif actor.role == Role.THIRD_PARTY:
            if not is_opaque_id(case_id) or not await self._services.accounts.holds_mandate(
                case_id=case_id, account_id=actor.id
            ):
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
        elif actor.role == Role.PREFECTURE:
            if candidate_of(case_id) is None:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
            try:
                cases = await self._services.cases()
                description = await cases.handle(case_id).describe()
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    raise ApiError(ErrorCode.CASE_NOT_FOUND) from None
                raise
            if description.typed_search_attributes.get(DEPARTEMENT_KEY) not in actor.departements:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
        elif actor.role != Role.CNCCFP:
            raise ApiError(ErrorCode.FORBIDDEN_ROLE)
        elif candidate_of(case_id) is None:
            raise ApiError(ErrorCode.CASE_NOT_FOUND)

    async def read(self, user: CurrentUser, case_id: str) -> CaseState:
        await self.ensure_visible(user, case_id)
        try:
            cases = await self._services.cases()
            async with asyncio.timeout(self._services.settings.api_request_timeout_s):
                return await cases.state(case_id)
        except CaseNotFound:
            raise ApiError(ErrorCode.CASE_NOT_FOUND) from None

    async def act(
        self,
        user: CurrentUser,
        case_id: str,
        action: Action,
        make_input: Callable[[], ActionInput],
        idempotency_key: str | None,
    ) -> CaseState:
        """Send one action as a Temporal update, with its audit row.

        The input is built after the scope check, so that a stranger's request is 404 whatever
        it carries.
        """
        await self.ensure_visible(user, case_id)
        input = build_input(make_input)
        await self.check_documents(case_id, input)
        services = self._services
        request_id = (
            f"{action.value}:{user.actor.id}:{idempotency_key}" if idempotency_key else None
        )
        entry = await audit.begin(
            services.engine, user.actor, action.value, case_id=case_id, request_id=idempotency_key
        )
        outcome = "error"
        try:
            cases = await services.cases()
            async with asyncio.timeout(services.settings.api_request_timeout_s):
                state = await cases.act(case_id, action, input, request_id=request_id)
            outcome = audit.OK
        except CaseActionRefused as refusal:
            outcome = refusal.code
            raise
        except CaseNotFound:
            outcome = ErrorCode.CASE_NOT_FOUND.value
            raise
        except (TimeoutError, RPCError):
            outcome = ErrorCode.SERVICE_UNAVAILABLE.value
            raise
        finally:
            await audit.finish(services.engine, entry, outcome)
        return state

    async def check_documents(self, case_id: str, input: BaseModel) -> None:
        """Refuse (422 ``document_not_found``) a reference to a document not in this case.

        The workflow only holds references; checking them here tells the person at once,
        rather than when the dossier is sealed.
        """
        for field, reference in referenced_documents(input):
            try:
                info = await self._services.storage.get(reference)
            except DomainError:
                info = None
            if info is None or info.case_id != case_id:
                raise ApiError(ErrorCode.DOCUMENT_NOT_FOUND, field=field)

    async def list(self, query: str, limit: int) -> list[CaseSummaryPublic]:
        """Cases matching a visibility query (already scoped by the caller), by next deadline."""
        full = f"WorkflowType = '{CASE_WORKFLOW_TYPE}'" + (f" AND ({query})" if query else "")
        summaries: list[CaseSummaryPublic] = []
        cases = await self._services.cases()
        async with asyncio.timeout(self._services.settings.api_request_timeout_s):
            async for execution in cases.client.list_workflows(full, limit=limit):
                summaries.append(summary_of(execution))
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        summaries.sort(key=lambda s: (s.closed, s.next_deadline or far, s.case_id))
        return summaries


def summary_of(execution: WorkflowExecution) -> CaseSummaryPublic:
    attributes = execution.typed_search_attributes
    stage = attributes.get(STAGE_KEY)
    return CaseSummaryPublic(
        case_id=execution.id,
        election_id=attributes.get(ELECTION_KEY),
        departement=attributes.get(DEPARTEMENT_KEY),
        stage=Stage(stage) if stage in _STAGE_VALUES else None,
        deposit_deadline=attributes.get(DEPOSIT_DEADLINE_KEY),
        next_deadline=attributes.get(NEXT_DEADLINE_KEY),
        opened_at=execution.start_time,
        closed=execution.status != WorkflowExecutionStatus.RUNNING,
    )


def quoted(values: list[str]) -> str:
    """A visibility list literal of values already validated as safe identifiers."""
    return ", ".join(f"'{value}'" for value in values)
