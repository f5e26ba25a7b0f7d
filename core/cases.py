"""Client side of a case: open it, act on it, read it. Used by the API, the bench and the tests.

Actions travel as Temporal Updates named after ``domain.stages.Action``; a refusal comes back as
``CaseActionRefused`` carrying the stable code and the French message the validator gave.

Error tree::

    CaseError
      CaseActionRefused       the workflow refused the action (wrong stage, actor, input)
      CaseNotFound            no case with that id

An action is sent in two steps, so that a caller knows whether it reached the case: ``start_*``
returns once the workflow has accepted it (it is then in the history and will run), and
``outcome`` waits for its result. An action whose outcome was not received can be asked for
again by its update id (``action_outcome``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import visibility
from domain.contracts import CaseState, OpenCaseInput, OperatorInput, RequestEvaluationInput
from domain.errors import MESSAGES, ErrorCode
from domain.ids import CASE_WORKFLOW_TYPE, case_workflow_id
from domain.stages import Action, Stage

STAGE_KEY = SearchAttributeKey.for_keyword(visibility.STAGE)
DEPARTEMENT_KEY = SearchAttributeKey.for_keyword(visibility.DEPARTEMENT)
ELECTION_KEY = SearchAttributeKey.for_keyword(visibility.ELECTION)
DEPOSIT_DEADLINE_KEY = SearchAttributeKey.for_datetime(visibility.DEPOSIT_DEADLINE)
NEXT_DEADLINE_KEY = SearchAttributeKey.for_datetime(visibility.NEXT_DEADLINE)
DECISION_DUE_KEY = SearchAttributeKey.for_datetime(visibility.DECISION_DUE)
RECOGNISED_KEY = SearchAttributeKey.for_bool(visibility.RECOGNISED)


class CaseError(Exception):
    """Base of the errors of a case action."""


class CaseActionRefused(CaseError):
    """The workflow refused the action; nothing was changed."""

    def __init__(self, code: str, message: str, field: str | None = None):
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{code}: {message}")


class CaseNotFound(CaseError):
    """No running or closed case has this id."""


class CaseClient:
    """Acts on ``CandidateCaseWorkflow`` executions.

    Args:
        client: A client from ``core.temporal.connect``.
        task_queue: The task queue the case workers poll.
    """

    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    def handle(self, case_id: str) -> WorkflowHandle[object, object]:
        return self.client.get_workflow_handle(case_id)

    async def open_case(
        self,
        input: OpenCaseInput,
        request: RequestEvaluationInput,
        *,
        request_id: str | None = None,
    ) -> CaseState:
        """Start the case if it does not exist, and ask for the threat evaluation, in one call.

        A retried call with the same ``request_id`` returns the first call's result: it neither
        duplicates the case nor fails.
        """
        return await self.outcome(await self.start_opening(input, request, request_id=request_id))

    @staticmethod
    def opening_update_id(case_id: str, request_id: str | None) -> str:
        """The update id of a case's opening (the same for every retry of one request)."""
        return request_id or f"{case_id}:open"

    async def start_opening(
        self,
        input: OpenCaseInput,
        request: RequestEvaluationInput,
        *,
        request_id: str | None = None,
    ) -> WorkflowUpdateHandle[CaseState]:
        """``open_case`` up to the workflow's acceptance of the evaluation request."""
        case_id = case_workflow_id(input.election.election_id, input.candidate_id)
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            CASE_WORKFLOW_TYPE,
            input,
            id=case_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A case that has ended is not opened again under the same id.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Set at once (the workflow upserts them too), so that lists scoped by département
            # see the case before its first workflow task.
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(STAGE_KEY, Stage.OPENED.value),
                    SearchAttributePair(DEPARTEMENT_KEY, input.departement),
                    SearchAttributePair(ELECTION_KEY, input.election.election_id),
                ]
            ),
        )
        try:
            handle: WorkflowUpdateHandle[
                CaseState
            ] = await self.client.start_update_with_start_workflow(
                Action.REQUEST_EVALUATION.value,
                request,
                start_workflow_operation=start,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                id=self.opening_update_id(case_id, request_id),
                result_type=CaseState,
            )
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except WorkflowAlreadyStartedError:
            raise CaseActionRefused(
                ErrorCode.CASE_CLOSED.value, MESSAGES[ErrorCode.CASE_CLOSED]
            ) from None
        finally:
            _collect_start_error(start)
        return handle

    async def act(
        self, case_id: str, action: Action, input: BaseModel, *, request_id: str | None = None
    ) -> CaseState:
        """Send one human action; returns the new state or raises ``CaseActionRefused``.

        Args:
            case_id: The workflow id.
            action: The action (its value names the update).
            input: The action's typed input.
            request_id: Idempotency key: a retry with the same id is not applied twice.
        """
        return await self.outcome(
            await self.start_action(case_id, action, input, request_id=request_id)
        )

    async def start_action(
        self, case_id: str, action: Action, input: BaseModel, *, request_id: str | None = None
    ) -> WorkflowUpdateHandle[CaseState]:
        """``act`` up to the workflow's acceptance of the action (refusals raise here or from
        ``outcome``)."""
        try:
            return await self.handle(case_id).start_update(
                action.value,
                input,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                id=request_id,
                result_type=CaseState,
            )
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            raise await self._not_found_or_closed(case_id, error) from None

    async def outcome(self, update: WorkflowUpdateHandle[CaseState]) -> CaseState:
        """The state an accepted action left, or ``CaseActionRefused``."""
        try:
            state = await update.result()
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            raise await self._not_found_or_closed(update.workflow_id, error) from None
        return _as_state(state)

    async def action_outcome(self, case_id: str, update_id: str) -> CaseState:
        """The outcome of an action sent earlier, by its update id (waits until it is known).

        Raises:
            CaseActionRefused: The workflow refused it.
            CaseNotFound: The case, or an action with this id in it, does not exist: the action
                was never accepted.
        """
        update = self.handle(case_id).get_update_handle(update_id, result_type=CaseState)
        try:
            state = await update.result()
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            raise _not_found_or(error) from None
        return _as_state(state)

    async def _not_found_or_closed(self, case_id: str, error: RPCError) -> Exception:
        if error.status != RPCStatusCode.NOT_FOUND:
            return error
        # NOT_FOUND covers both a case that never existed and one that has ended.
        if await self._exists(case_id):
            return CaseActionRefused(ErrorCode.CASE_CLOSED.value, MESSAGES[ErrorCode.CASE_CLOSED])
        return CaseNotFound(case_id)

    async def _exists(self, case_id: str) -> bool:
        try:
            await self.handle(case_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def signal(self, case_id: str, action: Action, input: OperatorInput) -> None:
        """Send an operator correction (fire and forget)."""
        try:
            await self.handle(case_id).signal(action.value, input)
        except RPCError as error:
            raise _not_found_or(error) from None

    async def state(self, case_id: str) -> CaseState:
        """The case as the workflow holds it (works on closed cases too)."""
        try:
            state = await self.handle(case_id).query("state", result_type=CaseState)
        except RPCError as error:
            raise _not_found_or(error) from None
        return _as_state(state)

    async def wait_closed(self, case_id: str, timeout: timedelta | None = None) -> None:
        """Wait until the case's workflow has completed."""
        await self.handle(case_id).result(rpc_timeout=timeout)


def _as_state(value: object) -> CaseState:
    # The converter already built the model from ``result_type``; this narrows the type.
    if not isinstance(value, CaseState):
        raise TypeError(f"expected CaseState, got {type(value).__name__}")
    return value


def _refusal(error: WorkflowUpdateFailedError) -> CaseActionRefused:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        details = cause.details[0] if cause.details else None
        field = details.get("field") if isinstance(details, dict) else None
        known = {code.value for code in ErrorCode}
        if cause.type in known:
            return CaseActionRefused(cause.type, cause.message, field)
    # Input the workflow could not even read (the payload failed its contract).
    return CaseActionRefused(ErrorCode.INVALID_INPUT.value, MESSAGES[ErrorCode.INVALID_INPUT])


def _collect_start_error(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Retrieve the error the SDK leaves on an operation whose start failed or was cancelled.

    Nobody awaits the operation's workflow handle here; without this, asyncio logs "Future
    exception was never retrieved" for every opening cut by a timeout or an outage.
    """
    waiter = asyncio.ensure_future(start.workflow_handle())
    waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
    # The SDK sets the error before the call returns, or never (an error of another kind): the
    # waiter's first step reads it if it is there; otherwise this cancel ends the waiter.
    asyncio.get_running_loop().call_soon(waiter.cancel)


def _not_found_or(error: RPCError) -> Exception:
    if error.status == RPCStatusCode.NOT_FOUND:
        return CaseNotFound(str(error.message))
    return error
