"""What a route does with a case: check the caller may see it, read it, act on it, list cases.

Scope rules (someone else's case answers 404 ``case_not_found``, never 403, so that nobody learns
which cases exist):

- a candidate sees the cases whose id ends with their candidate id;
- a mandated third party sees the case they hold a current mandate for;
- prefecture staff see the cases of their départements (read from the case's search attributes);
- CNCCFP reviewers see every case whose threat was recognised, or that waits for them after its
  deadline passed (rule 9); the operator sees every case, without personal data.

What each role then sees of a case is ``case_view``'s, of its documents ``document_visible``'s.

The workflow checks the same rules again in its validators; this layer exists so that a refusal
for scope looks the same whether or not the case exists, and whether or not it is closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api import audit
from api.deps import CurrentUser, Services
from api.errors import ApiError, InputRefused, OutcomeUnknown, TemporalUnavailable, error_code
from api.schemas import (
    ActionPublic,
    CasePublic,
    CaseSummaryPublic,
    ContactPublic,
    DecisionPublic,
    DuplicateInvoicePublic,
    ElectionOfCase,
    EvaluationPublic,
    EvaluationRequestPublic,
    ExpenseLinePublic,
    LateWindowPublic,
    LineCheckPublic,
    LineVerdictPublic,
    NotificationPublic,
    PaymentPublic,
    RoundPublic,
    SealPublic,
    StageChangePublic,
    ThirdPartyPublic,
)
from core import invoices
from core.cases import (
    DEPARTEMENT_KEY,
    DEPOSIT_DEADLINE_KEY,
    ELECTION_KEY,
    NEXT_DEADLINE_KEY,
    STAGE_KEY,
    CaseActionRefused,
    CaseClient,
    CaseNotFound,
)
from domain.contracts import (
    ActionInput,
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CaseState,
    EvaluationRequest,
    MandateThirdPartyInput,
    RecordEvaluationInput,
    ReevaluateThreatInput,
    RequestEvaluationInput,
    RequestReevaluationInput,
)
from domain.documents import DocumentInfo, DocumentKind
from domain.errors import DomainError, ErrorCode, problems_from_validation_error
from domain.identifiers import is_candidate_id, is_opaque_id
from domain.ids import CASE_ID_PREFIX, CASE_WORKFLOW_TYPE
from domain.registries import LineCheck
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
    elif isinstance(input, AnswerObservationsInput | RequestReevaluationInput):
        found += [("document_refs", ref) for ref in input.document_refs]
    elif isinstance(input, ReevaluateThreatInput):
        found.append(("decision_document", input.decision_document))
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


CANDIDATE_SIDE = frozenset({Role.CANDIDATE, Role.THIRD_PARTY})
REVIEW_SIDE = CANDIDATE_SIDE | {Role.CNCCFP}
"""Who sees the claim itself: expense lines, checks, verdicts, observations, the seal."""
PREFECTURE_DOCUMENT_KINDS = frozenset(
    {
        DocumentKind.COMPLAINT_REPORT,
        DocumentKind.CANDIDACY_PROOF,
        DocumentKind.EVALUATION_DECISION,
        DocumentKind.BANK_DETAILS,
    }
)
"""Documents prefecture staff see, besides those of the evaluation requests and their own."""
CNCCFP_HIDDEN_KINDS = frozenset({DocumentKind.COMPLAINT_REPORT, DocumentKind.CANDIDACY_PROOF})
"""Never shown to the CNCCFP (rule 9), nor the other documents of an evaluation request."""


def visible_to_cnccfp(state: CaseState) -> bool:
    """The CNCCFP sees a case from the recognition of the threat on, or when it must act on a
    case whose deadline passed while it waited on the administration (rule 9, rule 3)."""
    return state.threat_recognised or state.stage == Stage.AWAITING_ADMINISTRATION


def _request_documents(request: EvaluationRequest) -> dict[str, None]:
    """The documents of one evaluation request, once each, in order."""
    proof = [request.candidacy_proof_ref] if request.candidacy_proof_ref else []
    return dict.fromkeys([*request.complaint_document_refs, *proof, *request.document_refs])


def evaluation_request_documents(state: CaseState) -> set[str]:
    """Every document the evaluation requests refer to (threat evidence, candidacy proof)."""
    found: set[str] = set()
    for request in state.evaluation_requests:
        found.update(_request_documents(request))
    return found


def document_visible(info: DocumentInfo, state: CaseState | None, user_id: str, role: Role) -> bool:
    """Whether ``role`` may list and download a document of the case (rule 9).

    ``state`` is None only for the candidate side (before the case exists, or unread).
    """
    if role in CANDIDATE_SIDE:
        return True
    if state is None:
        return False
    if role == Role.CNCCFP:
        return (
            info.kind not in CNCCFP_HIDDEN_KINDS
            and info.document_id not in evaluation_request_documents(state)
        )
    if role == Role.PREFECTURE:
        return (
            info.kind in PREFECTURE_DOCUMENT_KINDS
            or info.uploaded_by == user_id
            or info.document_id in evaluation_request_documents(state)
        )
    return False


def _line_check(check: LineCheck) -> LineCheckPublic:
    return LineCheckPublic(
        line_id=check.line_id,
        cnaps=check.cnaps.outcome if check.cnaps else None,
        sirene=check.sirene.outcome if check.sirene else None,
        checked_at=check.checked_at,
        manual_valid=check.manual.valid if check.manual else None,
        manual_note=check.manual.note if check.manual else None,
        needs_manual_verification=check.needs_manual_verification,
    )


def case_view(
    state: CaseState, role: Role, duplicates: Mapping[str, list[str]] | None = None
) -> CasePublic:
    """The case as ``role`` may see it (rule 9), with what they may do now.

    One schema for everyone: a section the role may not see is empty or null.

    - candidate and mandated third party: the whole case (operator notes are nobody's view);
    - prefecture staff: the evaluation (requests with their documents, decisions) and the
      payment facts (decided amount and date, payment); no expense line, check, verdict, round
      of observations or seal;
    - CNCCFP: the identity, the level, the decision documents and the claim with its review, and
      the invoices claimed in other cases (``duplicates``); of the evaluation requests only that
      they were made (no document, no facts);
    - operator: stages, dates, deadlines and the emails' statuses; no name, no address, no line
      content, no text.

    Args:
        state: The case.
        role: Who reads it.
        duplicates: For the CNCCFP, line id to the other cases claiming the same invoice.
    """
    candidate_side = role in CANDIDATE_SIDE
    reviewer = role == Role.CNCCFP
    prefecture = role == Role.PREFECTURE
    operator = role == Role.OPERATOR
    sees_claim = role in REVIEW_SIDE
    decision = state.decision
    view = CasePublic(
        case_id=state.case_id,
        election=ElectionOfCase.model_validate(state.election, from_attributes=True),
        candidate_id=state.candidate_id,
        candidate=None
        if operator
        else ContactPublic(name=state.candidate.name, email=state.candidate.email),
        departement=state.departement,
        stage=state.stage,
        stage_label=STAGE_LABELS[state.stage],
        opened_at=state.opened_at,
        candidacy_declared_on=None if operator else state.candidacy_declared_on,
        deposit_deadline=state.deposit_deadline,
        evaluation_requests=[
            EvaluationRequestPublic(
                number=request.number,
                requested_at=request.requested_at,
                reevaluation=request.reevaluation,
                document_refs=list(_request_documents(request))
                if candidate_side or prefecture
                else [],
                new_facts=request.new_facts if candidate_side or prefecture else None,
            )
            for request in state.evaluation_requests
        ],
        evaluations=[
            EvaluationPublic(
                number=evaluation.number,
                recognised=evaluation.recognised,
                level=evaluation.level,
                decided_on=evaluation.decided_on,
                decision_document=None if operator else evaluation.decision_document,
                recorded_at=evaluation.recorded_at,
                recorded_by=evaluation.recorded_by if prefecture or reviewer else None,
                reevaluation=evaluation.reevaluation,
                reason=None if operator else evaluation.reason,
                ceiling_cents=evaluation.ceiling_cents,
                candidacy_declared_on=None if operator else evaluation.candidacy_declared_on,
            )
            for evaluation in state.evaluations
        ],
        ceiling_cents=state.ceiling_cents,
        third_party=ThirdPartyPublic.model_validate(state.third_party, from_attributes=True)
        if state.third_party is not None and (candidate_side or reviewer)
        else None,
        space_opened_at=state.space_opened_at,
        expense_lines=[
            ExpenseLinePublic.model_validate(line, from_attributes=True)
            for line in state.expense_lines
        ]
        if sees_claim
        else [],
        line_count=len(state.expense_lines) if sees_claim or operator else 0,
        claimed_cents=state.claimed_cents if sees_claim else None,
        rounds_attended=state.rounds_attended if sees_claim else None,
        rounds_corrections=list(state.rounds_corrections) if sees_claim else [],
        submitted_at=state.submitted_at,
        decision_due=state.decision_due,
        seal=SealPublic.model_validate(state.seal, from_attributes=True)
        if state.seal is not None and sees_claim
        else None,
        line_checks=[_line_check(check) for check in state.line_checks] if sees_claim else [],
        line_verdicts=[
            LineVerdictPublic.model_validate(verdict, from_attributes=True)
            for verdict in state.line_verdicts
        ]
        if sees_claim
        else [],
        duplicate_invoices=[
            DuplicateInvoicePublic(line_id=line_id, other_case_ids=others)
            for line_id, others in sorted((duplicates or {}).items())
            if others
        ]
        if reviewer
        else [],
        rounds=[RoundPublic.model_validate(item, from_attributes=True) for item in state.rounds]
        if sees_claim
        else [],
        decision=None
        if decision is None
        else DecisionPublic(
            amount_cents=None if operator else decision.amount_cents,
            claimed_cents=None if operator else decision.claimed_cents,
            ceiling_cents=None if operator else decision.ceiling_cents,
            outcome=decision.outcome,
            reasons=decision.reasons if sees_claim else None,
            decided_at=decision.decided_at,
        ),
        prefecture_contacted_at=state.prefecture_contacted_at,
        payment=PaymentPublic.model_validate(state.payment, from_attributes=True)
        if state.payment is not None and not operator
        else None,
        awaited_stage=state.awaited_stage,
        late_windows=[
            LateWindowPublic(
                opened_at=window.opened_at,
                previous_deadline=window.previous_deadline,
                deposit_deadline=window.deposit_deadline,
                reason=None if operator else window.reason,
            )
            for window in state.late_windows
        ],
        closing_reason=None if operator else state.closing_reason,
        notifications=[
            NotificationPublic.model_validate(record, from_attributes=True)
            for record in state.notifications
        ]
        if operator
        else [],
        history=[
            StageChangePublic.model_validate(change, from_attributes=True)
            for change in state.history
        ],
        closed_at=state.closed_at,
        available_actions=[
            ActionPublic(action=action, label=RULES[action].label)
            for action in actions_for(state.stage, role)
        ],
    )
    return view


class _Step(enum.Enum):
    """How far an update got before the request stopped waiting."""

    NOT_SENT = enum.auto()
    SENDING = enum.auto()
    """The call is under way: the server may have admitted the update."""
    ACCEPTED = enum.auto()
    """The workflow accepted it: it is in the history and will run."""
    SETTLED = enum.auto()
    """Its outcome is known."""


def _outcome_unknown(step: _Step, error: BaseException) -> bool:
    """Whether an update stopped at ``step`` by ``error`` may stand although nobody saw it end.

    While sending, an RPC error means the server did not take it (unreachable); a wait cut short
    (timeout, cancellation) may have left it admitted. Once accepted, only a refusal is an answer.
    """
    cut_short = (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, asyncio.CancelledError)
    if step == _Step.SENDING:
        return isinstance(error, cut_short)
    if step == _Step.ACCEPTED:
        return not isinstance(error, CaseActionRefused | CaseNotFound)
    return False


class CaseGateway:
    """Scoped access to cases for one request."""

    def __init__(self, services: Services):
        self._services = services

    async def ensure_visible(self, user: CurrentUser, case_id: str) -> CaseState | None:
        """Refuse (404) a case outside the caller's scope, or that does not exist for them.

        For candidates and third parties nothing is asked of Temporal: their scope is in the id
        or the database. Prefecture staff need the case's département: a missing case is 404.
        The CNCCFP needs the case's state (rule 9: a case whose threat was never recognised is
        not theirs to see, unless it waits for them after its deadline): the state read is
        returned, so that the caller need not read it again.
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
        elif actor.role == Role.CNCCFP:
            if candidate_of(case_id) is None:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
            state = await self._query(case_id)
            if not visible_to_cnccfp(state):
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
            return state
        elif actor.role == Role.OPERATOR:
            if candidate_of(case_id) is None:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
        else:
            raise ApiError(ErrorCode.FORBIDDEN_ROLE)
        return None

    async def _query(self, case_id: str) -> CaseState:
        try:
            cases = await self._services.cases()
            async with asyncio.timeout(self._services.settings.api_request_timeout_s):
                return await cases.state(case_id)
        except CaseNotFound:
            raise ApiError(ErrorCode.CASE_NOT_FOUND) from None

    async def read(self, user: CurrentUser, case_id: str) -> CaseState:
        state = await self.ensure_visible(user, case_id)
        return state if state is not None else await self._query(case_id)

    async def read_listed(self, user: CurrentUser, summary: CaseSummaryPublic) -> CaseState:
        """A case that ``list`` found with a query scoped to ``user``, read in one query to its
        workflow. A prefecture's scope is the case's département, which the listing matched
        and which never changes, so it is not asked of Temporal again; the CNCCFP's depends on
        the state, checked as ``read`` checks it."""
        if user.role == Role.PREFECTURE:
            if summary.departement not in user.actor.departements:
                raise ApiError(ErrorCode.CASE_NOT_FOUND)
            return await self._query(summary.case_id)
        return await self.read(user, summary.case_id)

    async def view(self, user: CurrentUser, state: CaseState) -> CasePublic:
        """The case as the caller may see it; for the CNCCFP, with the invoices claimed in other
        cases (the claims are brought in line with the case first)."""
        return (await self.views(user, [state]))[0]

    async def views(self, user: CurrentUser, states: list[CaseState]) -> list[CasePublic]:
        """``view`` of many cases, with the same few database statements whatever their number
        (the CNCCFP's invoice claims are synced and read once for all of them)."""
        if user.role != Role.CNCCFP:
            return [case_view(state, user.role, None) for state in states]
        engine = self._services.engine
        await invoices.sync_cases(engine, {state.case_id: state.expense_lines for state in states})
        duplicates = await invoices.duplicates_of(engine, [state.case_id for state in states])
        return [case_view(state, user.role, duplicates.get(state.case_id, {})) for state in states]

    async def act(
        self,
        user: CurrentUser,
        case_id: str,
        action: Action,
        make_input: Callable[[], ActionInput],
        idempotency_key: str | None,
        *,
        received_at: dt.datetime | None = None,
        on_settled: audit.OnSettled | None = None,
    ) -> CaseState:
        """Send one action as a Temporal update, with its audit row (see ``send``).

        The input is built after the scope check, so that a stranger's request is 404 whatever
        it carries. It carries the time the API received the request (``received_at``, now by
        default): deadlines are judged on it, not on when the workflow runs it (rule 4).
        ``on_settled`` runs with the outcome if it becomes known only after the request.
        """
        received_at = received_at or dt.datetime.now(dt.UTC)
        await self.ensure_visible(user, case_id)
        input = build_input(make_input)
        if input.received_at is None:
            input = input.model_copy(update={"received_at": received_at})
        await self.check_documents(case_id, input)
        # Always an update id of our own: the outcome can be asked for again by it.
        update_id = f"{action.value}:{user.actor.id}:{idempotency_key or uuid.uuid4().hex}"
        return await self.send(
            user.actor,
            action.value,
            case_id,
            idempotency_key=idempotency_key,
            update_id=update_id,
            start=lambda cases: cases.start_action(case_id, action, input, request_id=update_id),
            on_settled=on_settled,
        )

    async def send(
        self,
        actor: Actor,
        name: str,
        case_id: str,
        *,
        idempotency_key: str | None,
        update_id: str,
        start: Callable[[CaseClient], Awaitable[WorkflowUpdateHandle[CaseState]]],
        then: Callable[[CaseClient, CaseState], Awaitable[CaseState]] | None = None,
        on_settled: audit.OnSettled | None = None,
    ) -> CaseState:
        """Send one update to a case with its audit row: the one place that decides the row's
        outcome from what happened (``ok``, the code the caller is answered, or ``pending``).

        The wait is bounded by ``api_request_timeout_s``. When it ends, or Temporal is lost,
        after the update may have reached the case, nobody can tell whether the action stands:
        the row stays ``pending``, the caller gets ``OutcomeUnknown`` (503, "check the case"),
        and the app's ``OutcomeWatcher`` completes the row once the outcome of ``update_id`` is
        known, then runs ``on_settled`` with it.

        Args:
            actor: Who acts.
            name: The action's name in the audit log.
            case_id: The case.
            idempotency_key: The client's key, recorded with the row.
            update_id: The update's id, by which its outcome can be asked for again.
            start: Sends the update and returns once the workflow has accepted it.
            then: Runs once the outcome is ``ok``, within the same wait (a refusal it raises is
                the row's outcome).
            on_settled: Run with the outcome when the watcher learns it after the request.
        """
        services = self._services
        entry = await audit.begin(
            services.engine, actor, name, case_id=case_id, request_id=idempotency_key
        )
        step = _Step.NOT_SENT
        try:
            cases = await services.cases()
            async with asyncio.timeout(services.settings.api_request_timeout_s):
                step = _Step.SENDING
                update = await start(cases)
                step = _Step.ACCEPTED
                state = await cases.outcome(update)
                step = _Step.SETTLED
                if then is not None:
                    state = await then(cases, state)
        except BaseException as error:
            if _outcome_unknown(step, error):
                services.outcomes.watch(entry, self._outcome_fetch(case_id, update_id), on_settled)
                if isinstance(error, Exception):
                    raise OutcomeUnknown from error
                raise
            # Once the action is settled ``ok`` it stands, whatever fails after; ``then`` may
            # still refuse the request.
            applied = step == _Step.SETTLED and not isinstance(error, CaseActionRefused)
            await audit.finish(services.engine, entry, audit.OK if applied else error_code(error))
            raise
        await audit.finish(services.engine, entry, audit.OK)
        return state

    def _outcome_fetch(self, case_id: str, update_id: str) -> audit.OutcomeFetch:
        services = self._services

        async def fetch() -> str | None:
            try:
                cases = await services.cases()
                await cases.action_outcome(case_id, update_id)
            except CaseActionRefused as refusal:
                return refusal.code
            except CaseNotFound:
                # The update never reached the case: nothing was applied, as during an outage.
                return ErrorCode.SERVICE_UNAVAILABLE.value
            except (TemporalUnavailable, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                return None
            return audit.OK

        return fetch

    async def check_evaluation_proofs(
        self, case_id: str, complaint_refs: list[str], candidacy_proof_ref: str | None
    ) -> None:
        """Refuse (422 ``evaluation_proofs_required``) an evaluation request without a complaint
        report and a proof of candidacy of those kinds, uploaded to this case (rule 6)."""
        complaints = [await self._document(case_id, ref) for ref in complaint_refs]
        proof = await self._document(case_id, candidacy_proof_ref) if candidacy_proof_ref else None
        if not any(info and info.kind == DocumentKind.COMPLAINT_REPORT for info in complaints):
            raise ApiError(ErrorCode.EVALUATION_PROOFS_REQUIRED, field="complaint_document_refs")
        if proof is None or proof.kind != DocumentKind.CANDIDACY_PROOF:
            raise ApiError(ErrorCode.EVALUATION_PROOFS_REQUIRED, field="candidacy_proof_ref")

    async def _document(self, case_id: str, reference: str) -> DocumentInfo | None:
        try:
            info = await self._services.storage.get(reference)
        except DomainError:
            return None
        return info if info.case_id == case_id else None

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
