"""The élus' three procedures on the real dev server, with delays a few seconds long.

Each path is a recorded history (``make histories``): the functional protection made final and
the one withdrawn, an alert-button loan through its overdue escalation and renewal to the return,
a candidate's State-protection request refused (and another withdrawn), and the members' request
to convene the council with its convocation, and the reminder of a request left without one.
"""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowHistory

from api.elus_gateway import view
from core.cases import CaseActionRefused
from core.elus import ElusClient
from domain.calendar import PARIS, french_date
from domain.elus import (
    ELUS_RULES,
    WORKFLOW_TYPES,
    DecideStateProtectionInput,
    ElusAction,
    ElusActor,
    ElusStage,
    FileProtectionRequestInput,
    Procedure,
    ProtectionState,
    RecordConveningRequestInput,
    RecordCouncilConvenedInput,
    RecordDeliberationInput,
    RecordHandoverInput,
    RecordObligationInput,
    RecordReturnInput,
    RenewLoanInput,
    WithdrawStateProtectionInput,
    convening_deadline,
)
from domain.errors import ErrorCode
from domain.protection import add_months
from domain.stages import Role
from embedded.mailbox import MailServer
from tests.elus_helpers import (
    COLLECTIVITE,
    COLLECTIVITE_STAFF,
    DAY,
    OTHER_COLLECTIVITE_STAFF,
    PREFECTURE_60,
    PREFECTURE_75,
    SECONDS,
    assert_refused,
    loan_decision,
    protection_request,
    state_protection_request,
)
from tests.helpers import TestCaseClient, assert_eventually, paris_today, utcnow
from tests.workflows.steps import HISTORIES


@pytest.fixture
def elus(cases: TestCaseClient, client: Client) -> ElusClient:
    """A client of the élus' procedures on the task queue of ``cases``' worker."""
    return ElusClient(client, cases.task_queue)


def subjects(mail_server: MailServer, address: str) -> list[str]:
    return [str(message["Subject"]) for message in mail_server.store.for_recipient(address)]


async def _file(elus: ElusClient, request: FileProtectionRequestInput) -> str:
    """Start a functional-protection procedure as filed with the collectivité of the 60."""
    return await elus.start(
        Procedure.FUNCTIONAL_PROTECTION,
        request.request_id,
        request,
        stage=ElusStage.FP_RECEIVED,
        departement="60",
    )


@pytest.mark.record_history("elus_protection_final")
async def test_protection_in_time_begins_at_the_end_of_the_delay_then_becomes_final(
    elus: ElusClient, mail_server: MailServer
) -> None:
    # Protection begins 10 s after filing: the refusals and both obligations are recorded before
    # it, even on a loaded machine.
    request = protection_request(starts_in=10 * SECONDS, window=3 * SECONDS)
    workflow_id = await elus.start(
        Procedure.FUNCTIONAL_PROTECTION,
        request.request_id,
        request,
        stage=ElusStage.FP_RECEIVED,
        departement="60",
        collectivite=COLLECTIVITE.collectivite_id,
        requester="elu-1",
    )
    today = paris_today()
    # The official's receipt, then the collectivité's reminder of its two obligations.
    await assert_eventually(
        lambda: _has(mail_server, request.official.email, "Accusé de réception")
    )
    await assert_eventually(lambda: _has(mail_server, COLLECTIVITE.email, "à transmettre"))

    # Wrong role, wrong collectivité, a day in the future: refused, nothing recorded.
    elu = ElusActor(role=Role.ELU, id="elu-1")
    done = RecordObligationInput(actor=COLLECTIVITE_STAFF, done_on=today)
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_TRANSMISSION,
        done.model_copy(update={"actor": elu}),
        ErrorCode.FORBIDDEN_ROLE,
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_TRANSMISSION,
        done.model_copy(update={"actor": OTHER_COLLECTIVITE_STAFF}),
        ErrorCode.OUT_OF_SCOPE,
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_TRANSMISSION,
        done.model_copy(update={"done_on": today + DAY}),
        ErrorCode.INVALID_DATE_RANGE,
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_DELIBERATION,
        RecordDeliberationInput(
            actor=COLLECTIVITE_STAFF, kind="retrait", deliberation_on=today, reason="Motifs."
        ),
        ErrorCode.WRONG_STAGE,
    )

    first = await elus.act(workflow_id, ElusAction.RECORD_TRANSMISSION, done)
    assert first.stage == ElusStage.FP_RECEIVED
    await assert_refused(
        elus, workflow_id, ElusAction.RECORD_TRANSMISSION, done, ErrorCode.WRONG_STAGE
    )
    second = await elus.act(workflow_id, ElusAction.RECORD_COUNCIL_INFORMATION, done)
    assert second.stage == ElusStage.FP_SCHEDULED
    state = await elus.state(workflow_id)
    assert state.starts_on == request.delay_ends_on + DAY  # type: ignore[union-attr]
    await assert_eventually(lambda: _has(mail_server, request.prefecture_email, "Transmission"))

    await assert_eventually(
        lambda: _has(mail_server, request.official.email, "a commencé"), timeout=20
    )
    await assert_eventually(
        lambda: _has(mail_server, request.official.email, "définitive"), timeout=20
    )
    await elus.handle(workflow_id).result()
    state = await elus.state(workflow_id)
    assert state.stage == ElusStage.FP_FINAL
    assert [change.action for change in state.history] == [
        ElusAction.FILE_PROTECTION_REQUEST,
        ElusAction.RECORD_TRANSMISSION,
        ElusAction.RECORD_COUNCIL_INFORMATION,
        ElusAction.PROTECTION_BEGINS,
        ElusAction.WITHDRAWAL_WINDOW_ENDS,
    ]


@pytest.mark.record_history("elus_protection_withdrawn")
async def test_protection_done_late_begins_at_once_and_is_withdrawn_by_deliberation(
    elus: ElusClient, mail_server: MailServer
) -> None:
    # Received eight days ago: both obligations done today, late; the window stays open.
    request = protection_request(received_days_ago=8, window=None)
    workflow_id = await _file(elus, request)
    today = paris_today()
    done = RecordObligationInput(actor=COLLECTIVITE_STAFF, done_on=today)
    await elus.act(workflow_id, ElusAction.RECORD_COUNCIL_INFORMATION, done)
    started = await elus.act(workflow_id, ElusAction.RECORD_TRANSMISSION, done)
    assert started.stage == ElusStage.FP_PROTECTED
    state = await elus.state(workflow_id)
    assert state.starts_on == today  # type: ignore[union-attr]
    await assert_eventually(lambda: _has(mail_server, request.official.email, "a commencé"))

    deliberation = RecordDeliberationInput(
        actor=COLLECTIVITE_STAFF,
        kind="abrogation",
        deliberation_on=today,
        reason="Les faits sont étrangers à l'exercice du mandat.",
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_DELIBERATION,
        deliberation.model_copy(update={"deliberation_on": today - 30 * DAY}),
        ErrorCode.INVALID_DATE_RANGE,
    )
    withdrawn = await elus.act(workflow_id, ElusAction.RECORD_DELIBERATION, deliberation)
    assert withdrawn.stage == ElusStage.FP_WITHDRAWN
    await elus.handle(workflow_id).result()
    body = _body(mail_server, request.official.email, "Délibération")
    assert "abrogation" in body and "étrangers à l'exercice du mandat" in body
    await assert_refused(
        elus, workflow_id, ElusAction.RECORD_DELIBERATION, deliberation, ErrorCode.CASE_CLOSED
    )


@pytest.mark.record_history("elus_protection_convened")
async def test_members_request_to_convene_the_council_and_its_convocation_are_recorded(
    elus: ElusClient,
) -> None:
    request = protection_request(received_days_ago=8, window=None)
    workflow_id = await _file(elus, request)
    today = paris_today()
    asked = RecordConveningRequestInput(actor=COLLECTIVITE_STAFF, requested_on=today)
    # Nothing to convene about before the protection is known.
    await assert_refused(
        elus, workflow_id, ElusAction.RECORD_CONVENING_REQUEST, asked, ErrorCode.WRONG_STAGE
    )
    done = RecordObligationInput(actor=COLLECTIVITE_STAFF, done_on=today)
    await elus.act(workflow_id, ElusAction.RECORD_COUNCIL_INFORMATION, done)
    await elus.act(workflow_id, ElusAction.RECORD_TRANSMISSION, done)
    state = await elus.state(workflow_id)
    assert isinstance(state, ProtectionState)
    deadline = convening_deadline(state)
    assert deadline == add_months(today, 4) - DAY

    recorded = await elus.act(workflow_id, ElusAction.RECORD_CONVENING_REQUEST, asked)
    assert recorded.stage == ElusStage.FP_PROTECTED
    await assert_refused(
        elus, workflow_id, ElusAction.RECORD_CONVENING_REQUEST, asked, ErrorCode.WRONG_STAGE
    )
    convened = RecordCouncilConvenedInput(
        actor=COLLECTIVITE_STAFF, convened_on=today, session_on=today + 10 * DAY
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_COUNCIL_CONVENED,
        convened.model_copy(update={"session_on": today - DAY}),
        ErrorCode.INVALID_DATE_RANGE,
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_COUNCIL_CONVENED,
        convened.model_copy(update={"actor": OTHER_COLLECTIVITE_STAFF}),
        ErrorCode.OUT_OF_SCOPE,
    )
    await elus.act(workflow_id, ElusAction.RECORD_COUNCIL_CONVENED, convened)
    state = await elus.state(workflow_id)
    assert isinstance(state, ProtectionState)
    assert (state.convening.requested_on, state.convening.session_on) == (
        today,
        today + 10 * DAY,
    )
    assert [change.action for change in state.history][-2:] == [
        ElusAction.RECORD_CONVENING_REQUEST,
        ElusAction.RECORD_COUNCIL_CONVENED,
    ]
    assert state.stage == ElusStage.FP_PROTECTED
    withdrawn = await elus.act(
        workflow_id,
        ElusAction.RECORD_DELIBERATION,
        RecordDeliberationInput(
            actor=COLLECTIVITE_STAFF, kind="retrait", deliberation_on=today, reason="Motifs."
        ),
    )
    assert withdrawn.stage == ElusStage.FP_WITHDRAWN
    await elus.handle(workflow_id).result()


@pytest.mark.record_history("elus_protection_convening_reminder")
async def test_a_convening_request_without_convocation_reminds_the_collectivite_once(
    elus: ElusClient, mail_server: MailServer
) -> None:
    # Protection begins 10 s after filing, the window lasts 12 s, and the reminder falls 8 s
    # before its end: 14 s after filing, while the request to convene has no convocation.
    request = protection_request(starts_in=10 * SECONDS, window=12 * SECONDS)
    request.policy.convening_reminder_before = 8 * SECONDS
    workflow_id = await _file(elus, request)
    today = paris_today()
    done = RecordObligationInput(actor=COLLECTIVITE_STAFF, done_on=today)
    await elus.act(workflow_id, ElusAction.RECORD_TRANSMISSION, done)
    await elus.act(workflow_id, ElusAction.RECORD_COUNCIL_INFORMATION, done)
    asked = RecordConveningRequestInput(actor=COLLECTIVITE_STAFF, requested_on=today)
    recorded = await elus.act(workflow_id, ElusAction.RECORD_CONVENING_REQUEST, asked)
    assert recorded.stage == ElusStage.FP_SCHEDULED
    assert not _has_now(mail_server, COLLECTIVITE.email, "Convocation du conseil")

    await assert_eventually(
        lambda: _has(mail_server, COLLECTIVITE.email, "Convocation du conseil"), timeout=30
    )
    body = _body(mail_server, COLLECTIVITE.email, "Convocation du conseil")
    assert "Aucune convocation n'est enregistrée" in body
    state = await elus.state(workflow_id)
    assert isinstance(state, ProtectionState)
    deadline = convening_deadline(state)
    assert deadline is not None and french_date(deadline) in body
    assert state.convening.reminded_at is not None
    # The collectivité's page says when it was reminded (the Paris day).
    shown = view(COLLECTIVITE_STAFF, state)
    assert shown.convening_reminded_on == state.convening.reminded_at.astimezone(PARIS).date()
    # The convocation recorded after the reminder changes nothing more; the protection ends
    # final, and the collectivité had that one reminder.
    await elus.act(
        workflow_id,
        ElusAction.RECORD_COUNCIL_CONVENED,
        RecordCouncilConvenedInput(
            actor=COLLECTIVITE_STAFF, convened_on=today, session_on=today + 3 * DAY
        ),
    )
    await elus.handle(workflow_id).result()
    final = await elus.state(workflow_id)
    assert final.stage == ElusStage.FP_FINAL
    reminders = [
        s for s in subjects(mail_server, COLLECTIVITE.email) if "Convocation du conseil" in s
    ]
    assert len(reminders) == 1


@pytest.mark.record_history("elus_alert_button")
async def test_alert_button_loan_escalates_when_a_period_ends_then_is_renewed_and_returned(
    elus: ElusClient, mail_server: MailServer
) -> None:
    decision = loan_decision(
        renewal_reminder_before=2 * SECONDS, overdue_reminder_every=2 * SECONDS
    )
    workflow_id = await elus.start(
        Procedure.ALERT_BUTTON,
        decision.loan_id,
        decision,
        stage=ElusStage.AB_DECIDED,
        departement="60",
        requester="elu-1",
    )
    today = paris_today()
    await assert_eventually(lambda: _has(mail_server, decision.official.email, "Attribution"))
    handover = RecordHandoverInput(
        actor=PREFECTURE_60, handed_over_on=today, period_ends_at=utcnow() + 3 * SECONDS
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RECORD_HANDOVER,
        handover.model_copy(update={"actor": PREFECTURE_75}),
        ErrorCode.OUT_OF_SCOPE,
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.RENEW_LOAN,
        RenewLoanInput(actor=PREFECTURE_60, renewed_on=today, period_ends_at=utcnow() + 90 * DAY),
        ErrorCode.WRONG_STAGE,
    )
    lent = await elus.act(workflow_id, ElusAction.RECORD_HANDOVER, handover)
    assert lent.stage == ElusStage.AB_LENT
    # The reminder before the end, then the end without renewal: escalation, repeated.
    prefecture = decision.prefecture_email
    await assert_eventually(lambda: _has(mail_server, prefecture, "Fin prochaine"))
    await assert_eventually(lambda: _count(mail_server, prefecture, "échu sans décision", 2))
    state = await elus.state(workflow_id)
    assert state.stage == ElusStage.AB_OVERDUE

    renewed = await elus.act(
        workflow_id,
        ElusAction.RENEW_LOAN,
        RenewLoanInput(actor=PREFECTURE_60, renewed_on=today, period_ends_at=utcnow() + 90 * DAY),
    )
    assert renewed.stage == ElusStage.AB_LENT
    await assert_eventually(lambda: _has(mail_server, decision.official.email, "Renouvellement"))
    returned = await elus.act(
        workflow_id,
        ElusAction.RECORD_RETURN,
        RecordReturnInput(actor=PREFECTURE_60, returned_on=today),
    )
    assert returned.stage == ElusStage.AB_RETURNED
    await elus.handle(workflow_id).result()
    state = await elus.state(workflow_id)
    assert [period.number for period in state.periods] == [1, 2]  # type: ignore[union-attr]
    await assert_eventually(lambda: _has(mail_server, decision.official.email, "Restitution"))


@pytest.mark.record_history("elus_candidate_protection")
async def test_candidate_state_protection_reminded_then_refused_with_reasons(
    elus: ElusClient, mail_server: MailServer
) -> None:
    request = state_protection_request(reminder_every=2 * SECONDS)
    workflow_id = await elus.start(
        Procedure.CANDIDATE_PROTECTION,
        request.request_id,
        request,
        stage=ElusStage.CP_REQUESTED,
        departement="60",
        requester="cand1",
    )
    await assert_eventually(lambda: _has(mail_server, request.prefecture_email, "d'un candidat"))
    await assert_eventually(lambda: _has(mail_server, request.prefecture_email, "en attente"))
    decide = DecideStateProtectionInput(
        actor=PREFECTURE_60, granted=False, decided_on=paris_today()
    )
    await assert_refused(
        elus,
        workflow_id,
        ElusAction.DECIDE_STATE_PROTECTION,
        decide,
        ErrorCode.REASONS_REQUIRED,
    )
    refused = await elus.act(
        workflow_id,
        ElusAction.DECIDE_STATE_PROTECTION,
        decide.model_copy(update={"reasons": "Les faits sont antérieurs à la candidature."}),
    )
    assert refused.stage == ElusStage.CP_REFUSED
    await elus.handle(workflow_id).result()
    body = _body(mail_server, request.candidate.email, "Décision")
    assert "refuse" in body and "Voies et délais de recours" in body

    # Another request, withdrawn by the candidate (someone else's is not theirs to withdraw).
    other = state_protection_request()
    other_id = await elus.start(
        Procedure.CANDIDATE_PROTECTION,
        other.request_id,
        other,
        stage=ElusStage.CP_REQUESTED,
        departement="60",
    )
    await assert_refused(
        elus,
        other_id,
        ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST,
        WithdrawStateProtectionInput(actor=ElusActor(role=Role.CANDIDATE, id="cand2")),
        ErrorCode.NOT_YOUR_CASE,
    )
    withdrawn = await elus.act(
        other_id,
        ElusAction.WITHDRAW_STATE_PROTECTION_REQUEST,
        WithdrawStateProtectionInput(actor=ElusActor(role=Role.CANDIDATE, id="cand1")),
    )
    assert withdrawn.stage == ElusStage.CP_WITHDRAWN
    await elus.handle(other_id).result()


async def test_starting_twice_is_idempotent(elus: ElusClient) -> None:
    decision = loan_decision()

    async def start() -> str:
        return await elus.start(
            Procedure.ALERT_BUTTON,
            decision.loan_id,
            decision,
            stage=ElusStage.AB_DECIDED,
            departement="60",
        )

    first = await start()
    assert await start() == first
    await elus.act(
        first,
        ElusAction.RECORD_RETURN,
        RecordReturnInput(actor=PREFECTURE_60, returned_on=decision.decided_on),
    )
    await elus.handle(first).result()
    with pytest.raises(CaseActionRefused) as closed:
        await start()
    assert closed.value.code == ErrorCode.CASE_CLOSED


# --- Mail helpers ---------------------------------------------------------------------------------


async def _has(mail_server: MailServer, address: str, fragment: str) -> None:
    assert _has_now(mail_server, address, fragment), subjects(mail_server, address)


async def _count(mail_server: MailServer, address: str, fragment: str, at_least: int) -> None:
    found = [s for s in subjects(mail_server, address) if fragment in s]
    assert len(found) >= at_least, subjects(mail_server, address)


def _has_now(mail_server: MailServer, address: str, fragment: str) -> bool:
    return any(fragment in subject for subject in subjects(mail_server, address))


def _body(mail_server: MailServer, address: str, fragment: str) -> str:
    for message in mail_server.store.for_recipient(address):
        if fragment in str(message["Subject"]):
            return str(message.get_content())
    raise AssertionError(subjects(mail_server, address))


def test_histories_cover_every_elus_update_and_workflow() -> None:
    """Every élus' Update, its email activity and each of the three workflows are in a committed
    history (``test_replay.py`` replays them all), so that a replay-breaking edit fails there."""
    seen: set[str] = set()
    for path in sorted(HISTORIES.glob("*-elus_*.json")):
        for event in WorkflowHistory.from_json(path.stem, path.read_text()).events:
            if event.HasField("workflow_execution_update_accepted_event_attributes"):
                accepted = event.workflow_execution_update_accepted_event_attributes
                seen.add(accepted.accepted_request.input.name)
            elif event.HasField("activity_task_scheduled_event_attributes"):
                seen.add(event.activity_task_scheduled_event_attributes.activity_type.name)
            elif event.HasField("workflow_execution_started_event_attributes"):
                started = event.workflow_execution_started_event_attributes
                seen.add(f"workflow:{started.workflow_type.name}")
    expected = {
        action.value
        for action, rule in ELUS_RULES.items()
        if Role.SYSTEM not in rule.roles and rule.from_stages
    }
    expected |= {"send_elus_email"} | {f"workflow:{name}" for name in WORKFLOW_TYPES.values()}
    assert expected - seen == set(), "record them: make histories LABEL=v<latest>"
