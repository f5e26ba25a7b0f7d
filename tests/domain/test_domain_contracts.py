"""Message contracts: their checks, and their round trip through Temporal's pydantic converter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.calendar import PARIS, deposit_deadline
from domain.contracts import (
    Actor,
    CandidateContact,
    CasePolicy,
    CaseResult,
    CaseState,
    DecideInput,
    Decision,
    ElectionInfo,
    EmailTemplate,
    Evaluation,
    EvaluationRequest,
    MandateThirdPartyInput,
    NotificationRecord,
    NotificationStatus,
    ObservationRound,
    OpenCaseInput,
    OperatorNote,
    Payment,
    RecipientKind,
    RecordEvaluationInput,
    RecordPaymentInput,
    SendObservationsInput,
    StageChange,
    ThirdParty,
)
from domain.errors import problems_from_validation_error
from domain.expenses import ExpenseCategory, ExpenseLine
from domain.money import DecisionOutcome, ThreatLevel
from domain.stages import Action, Role, Stage

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
ELECTION = {
    "election_id": "municipales-2026",
    "label": "Élections municipales 2026",
    "first_round": dt.date(2026, 3, 15),
    "second_round": dt.date(2026, 3, 22),
}
CANDIDATE_ACTOR = {"role": "candidate", "id": "cand00042"}


def codes(model: type[Any], data: dict[str, Any]) -> list[tuple[str | None, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [
        (problem.field, problem.code) for problem in problems_from_validation_error(caught.value)
    ]


@pytest.fixture
def open_case_data() -> dict[str, Any]:
    return {
        "election": dict(ELECTION),
        "candidate_id": "cand00042",
        "candidate": {"name": "Camille Martin", "email": "camille.martin@example.fr"},
        "departement": "75",
        "prefecture_email": "pref-menaces@paris.gouv.fr",
        "candidacy_declared_on": dt.date(2026, 1, 5),
    }


def full_case_state(line_data: dict[str, Any]) -> CaseState:
    """A case that went every step of the way, with every optional part filled in."""
    return CaseState(
        case_id="case-municipales-2026-cand00042",
        election=ElectionInfo(**ELECTION),
        candidate_id="cand00042",
        candidate=CandidateContact(name="Camille Martin", email="camille.martin@example.fr"),
        departement="2A",
        prefecture_email="pref@corse-du-sud.gouv.fr",
        candidacy_declared_on=dt.date(2026, 1, 5),
        attended_second_round=True,
        policy=CasePolicy(
            reminder_offsets=[dt.timedelta(days=1), dt.timedelta(days=7)],
            answer_delay=dt.timedelta(days=10),
        ),
        opened_at=T0,
        stage=Stage.PAID,
        history=[
            StageChange(
                at=T0 + dt.timedelta(hours=1),
                action=Action.REQUEST_EVALUATION,
                role=Role.CANDIDATE,
                actor_id="cand00042",
                from_stage=Stage.OPENED,
                to_stage=Stage.EVALUATION_REQUESTED,
            ),
            StageChange(
                at=T0 + dt.timedelta(days=60),
                action=Action.RECORD_PAYMENT,
                role=Role.PREFECTURE,
                actor_id="agent-2a-7",
                from_stage=Stage.PAYMENT_PENDING,
                to_stage=Stage.PAID,
            ),
        ],
        deposit_deadline=deposit_deadline(dt.date(2026, 3, 15)),
        deadline_set_at=T0,
        evaluation_requests=[
            EvaluationRequest(
                number=1,
                requested_at=T0 + dt.timedelta(hours=1),
                document_refs=["doc-complaint-1", "doc-candidacy"],
            ),
            EvaluationRequest(
                number=2,
                requested_at=T0 + dt.timedelta(days=12),
                document_refs=["doc-complaint-2"],
                new_facts="Nouvelles menaces reçues par courrier.",
            ),
        ],
        evaluations=[
            Evaluation(
                number=1,
                recognised=False,
                level=None,
                decided_on=dt.date(2026, 1, 10),
                decision_document="doc-eval-1",
                recorded_at=T0 + dt.timedelta(days=5),
                recorded_by="agent-2a-7",
            ),
            Evaluation(
                number=2,
                recognised=True,
                level=ThreatLevel.TWO,
                decided_on=dt.date(2026, 1, 20),
                decision_document="doc-eval-2",
                recorded_at=T0 + dt.timedelta(days=15),
                recorded_by="agent-2a-7",
            ),
        ],
        third_party=ThirdParty(
            id="tiers-1",
            name="Alex Durand",
            email="alex@example.fr",
            mandate_document="doc-mandate",
            mandated_at=T0 + dt.timedelta(days=16),
        ),
        space_opened_at=T0 + dt.timedelta(days=17),
        expense_lines=[
            ExpenseLine(**line_data, line_id="line-1", added_at=T0 + dt.timedelta(days=18)),
            ExpenseLine(
                **{
                    **line_data,
                    "category": ExpenseCategory.PREMISES_SECURITY,
                    "invoice_reference": "F-2026-002",
                    "amount_cents": 80_000,
                },
                line_id="line-2",
                added_at=T0 + dt.timedelta(days=18, minutes=5),
            ),
        ],
        submitted_at=T0 + dt.timedelta(days=20),
        rounds=[
            ObservationRound(
                number=1,
                sent_at=T0 + dt.timedelta(days=30),
                sent_by="rapporteur-3",
                observations="Justificatif de paiement manquant pour la ligne 2.",
                contested_line_ids=["line-2"],
                answer_due=T0 + dt.timedelta(days=45),
                answered_at=T0 + dt.timedelta(days=33),
                answer="Voici le justificatif.",
                answer_document_refs=["doc-proof-2"],
            )
        ],
        decision=Decision(
            amount_cents=205_000,
            claimed_cents=205_000,
            ceiling_cents=7_500_000,
            outcome=DecisionOutcome.APPROVED,
            decided_at=T0 + dt.timedelta(days=40),
            decided_by="rapporteur-3",
        ),
        prefecture_contacted_at=T0 + dt.timedelta(days=45),
        payment_followups_sent=1,
        payment=Payment(
            amount_cents=205_000,
            paid_on=dt.date(2026, 3, 6),
            reference="VIR-2026-0042",
            recorded_at=T0 + dt.timedelta(days=60),
            recorded_by="agent-2a-7",
        ),
        reminders_sent=["P3D-2026-05-22"],
        notifications=[
            NotificationRecord(
                key="case-municipales-2026-cand00042-decision-1",
                template=EmailTemplate.DECISION,
                recipient=RecipientKind.CANDIDATE,
                status=NotificationStatus.SENT,
                requested_at=T0 + dt.timedelta(days=40),
                done_at=T0 + dt.timedelta(days=40, seconds=3),
            )
        ],
        operator_notes=[
            OperatorNote(
                at=T0 + dt.timedelta(days=41),
                operator_id="ops-1",
                text="Relance SMTP manuelle.",
            )
        ],
        closed_at=T0 + dt.timedelta(days=60),
    )


# --- RecordEvaluationInput -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recognised", "level", "valid"),
    [
        (True, 1, True),
        (True, 2, True),
        (False, None, True),
        (True, None, False),
        (False, 1, False),
        (False, 2, False),
    ],
)
def test_record_evaluation_level_iff_recognised(
    recognised: bool, level: int | None, valid: bool
) -> None:
    data = {
        "actor": {"role": "prefecture", "id": "agent-75-1", "departements": ["75"]},
        "recognised": recognised,
        "level": level,
        "decided_on": dt.date(2026, 1, 10),
        "decision_document": "doc-eval-1",
    }

    if valid:
        evaluation = RecordEvaluationInput.model_validate(data)
        assert evaluation.level == (ThreatLevel(level) if level else None)
    else:
        assert codes(RecordEvaluationInput, data) == [(None, "invalid_threat_level")]


def test_record_evaluation_refuses_an_unknown_level() -> None:
    data = {
        "actor": {"role": "prefecture", "id": "agent-75-1"},
        "recognised": True,
        "level": 3,
        "decided_on": dt.date(2026, 1, 10),
        "decision_document": "doc-eval-1",
    }

    assert codes(RecordEvaluationInput, data) == [("level", "invalid_input")]


# --- Actor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor_id",
    ["Jean Dupont", "jean.dupont@example.fr", "CAND-1", "", "-x", "a" * 65, "cand_1"],
)
def test_actor_refuses_non_opaque_ids(actor_id: str) -> None:
    assert codes(Actor, {"role": "candidate", "id": actor_id}) == [("id", "invalid_identifier")]


def test_actor_accepts_opaque_id_and_departements() -> None:
    actor = Actor.model_validate(
        {"role": "prefecture", "id": "agent-2a-1", "departements": ["2A", "2B"]}
    )

    assert actor.role is Role.PREFECTURE
    assert actor.departements == ["2A", "2B"]
    assert Actor.model_validate(CANDIDATE_ACTOR).departements == []


def test_actor_refuses_invalid_departement_and_unknown_role() -> None:
    assert codes(Actor, {"role": "prefecture", "id": "a", "departements": ["75", "96"]}) == [
        ("departements.1", "invalid_departement")
    ]
    assert codes(Actor, {"role": "king", "id": "a"}) == [("role", "invalid_input")]


def test_actor_ignores_unknown_fields() -> None:
    actor = Actor.model_validate({**CANDIDATE_ACTOR, "added_in_a_later_version": True})

    assert actor.id == "cand00042"


# --- OpenCaseInput -------------------------------------------------------------------------------


def test_open_case_input_defaults(open_case_data: dict[str, Any]) -> None:
    case = OpenCaseInput.model_validate(open_case_data)

    assert case.attended_second_round is False
    assert case.deposit_deadline is None
    assert case.legal_deposit_deadline() == dt.datetime(2026, 5, 22, 18, 0, tzinfo=PARIS)
    assert case.policy.reminder_offsets == [
        dt.timedelta(days=14),
        dt.timedelta(days=3),
        dt.timedelta(days=1),
    ]
    assert case.policy.answer_delay == dt.timedelta(days=15)
    assert case.policy.payment_followup_delay == dt.timedelta(days=30)
    assert case.carried_state is None


def test_open_case_input_explicit_deadline_wins(open_case_data: dict[str, Any]) -> None:
    early = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    case = OpenCaseInput.model_validate({**open_case_data, "deposit_deadline": early})

    assert case.legal_deposit_deadline() == early


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("departement", "96", [("departement", "invalid_departement")]),
        ("departement", "2C", [("departement", "invalid_departement")]),
        ("departement", "7", [("departement", "invalid_departement")]),
        ("prefecture_email", "pref.gouv.fr", [("prefecture_email", "invalid_email")]),
        ("prefecture_email", "@paris.gouv.fr", [("prefecture_email", "invalid_email")]),
        ("prefecture_email", "pref@localhost", [("prefecture_email", "invalid_email")]),
        ("prefecture_email", "pref menaces@paris.gouv.fr", [("prefecture_email", "invalid_email")]),
        ("prefecture_email", "", [("prefecture_email", "invalid_email")]),
        ("candidate_id", "Camille Martin", [("candidate_id", "invalid_identifier")]),
        ("candidacy_declared_on", None, [("candidacy_declared_on", "invalid_input")]),
        (
            "deposit_deadline",
            dt.datetime(2026, 5, 22, 18, 0),
            [(None, "invalid_input")],
        ),
    ],
)
def test_open_case_input_refuses(
    open_case_data: dict[str, Any],
    field: str,
    value: object,
    expected: list[tuple[str | None, str]],
) -> None:
    assert codes(OpenCaseInput, {**open_case_data, field: value}) == expected


def test_open_case_input_refuses_invalid_candidate_email(open_case_data: dict[str, Any]) -> None:
    data = {**open_case_data, "candidate": {"name": "Camille", "email": "camille"}}

    assert codes(OpenCaseInput, data) == [("candidate.email", "invalid_email")]


def test_open_case_input_refuses_invalid_election_id(open_case_data: dict[str, Any]) -> None:
    data = {**open_case_data, "election": {**ELECTION, "election_id": "Municipales 2026"}}

    assert codes(OpenCaseInput, data) == [("election.election_id", "invalid_identifier")]


@pytest.mark.parametrize("email", ["a@b.fr", " camille@example.fr ", "x.y+z@sub.example.org"])
def test_emails_accepted(email: str) -> None:
    assert CandidateContact(name="Camille", email=email).email == email.strip()


def test_email_with_two_at_signs_is_refused() -> None:
    with pytest.raises(ValidationError):
        CandidateContact(name="Camille", email="camille@evil@example.fr")


# --- CasePolicy ----------------------------------------------------------------------------------


def test_case_policy_sorts_offsets_descending_without_duplicates() -> None:
    policy = CasePolicy(
        reminder_offsets=[
            dt.timedelta(days=1),
            dt.timedelta(days=14),
            dt.timedelta(hours=3),
            dt.timedelta(days=3),
            dt.timedelta(days=1),
        ]
    )

    assert policy.reminder_offsets == [
        dt.timedelta(days=14),
        dt.timedelta(days=3),
        dt.timedelta(days=1),
        dt.timedelta(hours=3),
    ]


def test_case_policy_accepts_no_reminder() -> None:
    assert CasePolicy(reminder_offsets=[]).reminder_offsets == []


@pytest.mark.parametrize(
    "offsets",
    [
        [dt.timedelta(0)],
        [dt.timedelta(days=3), dt.timedelta(seconds=-1)],
        [dt.timedelta(days=-14)],
    ],
)
def test_case_policy_refuses_non_positive_offsets(offsets: list[dt.timedelta]) -> None:
    assert codes(CasePolicy, {"reminder_offsets": offsets}) == [
        ("reminder_offsets", "invalid_input")
    ]


# --- Other updates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (12.5, "amount_not_integer"),
        (12.0, "amount_not_integer"),
        (True, "amount_not_integer"),
        ("12", "amount_not_integer"),
        (-1, "invalid_amount"),
    ],
)
def test_decide_input_amount(amount: object, code: str) -> None:
    data = {"actor": {"role": "cnccfp", "id": "rapporteur-1"}, "amount_cents": amount}

    assert codes(DecideInput, data) == [("amount_cents", code)]


def test_decide_input_accepts_zero() -> None:
    decide = DecideInput.model_validate(
        {"actor": {"role": "cnccfp", "id": "rapporteur-1"}, "amount_cents": 0, "reasons": "Rien."}
    )

    assert decide.amount_cents == 0


@pytest.mark.parametrize("amount", [12.5, 12.0, True, "12"])
def test_record_payment_amount_must_be_integer(amount: object) -> None:
    data = {
        "actor": {"role": "prefecture", "id": "agent-75-1"},
        "amount_cents": amount,
        "paid_on": dt.date(2026, 6, 1),
        "reference": "VIR-1",
    }

    assert codes(RecordPaymentInput, data) == [("amount_cents", "amount_not_integer")]


@pytest.mark.parametrize("delay", [dt.timedelta(0), dt.timedelta(days=-1)])
def test_send_observations_refuses_non_positive_delay(delay: dt.timedelta) -> None:
    data = {
        "actor": {"role": "cnccfp", "id": "rapporteur-1"},
        "observations": "Pièce manquante.",
        "answer_delay": delay,
    }

    assert codes(SendObservationsInput, data) == [("answer_delay", "invalid_input")]


def test_mandate_third_party_checks_id_and_email() -> None:
    data = {
        "actor": CANDIDATE_ACTOR,
        "third_party_id": "Alex Durand",
        "name": "Alex Durand",
        "email": "alex",
        "mandate_document": "doc-mandate",
    }

    assert codes(MandateThirdPartyInput, data) == [
        ("third_party_id", "invalid_identifier"),
        ("email", "invalid_email"),
    ]


# --- CaseState -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounds_attended", "second_round", "expected_end"),
    [
        # Rule 2: until the candidate states it, the period runs to the election's last round.
        (None, dt.date(2026, 3, 22), dt.date(2026, 3, 22)),
        (1, dt.date(2026, 3, 22), dt.date(2026, 3, 15)),
        (2, dt.date(2026, 3, 22), dt.date(2026, 3, 22)),
        (None, None, dt.date(2026, 3, 15)),
        (2, None, dt.date(2026, 3, 15)),
    ],
)
def test_case_state_eligible_period_follows_the_rounds_attended(
    line_data: dict[str, Any],
    rounds_attended: int | None,
    second_round: dt.date | None,
    expected_end: dt.date,
) -> None:
    state = full_case_state(line_data).model_copy(
        update={
            "rounds_attended": rounds_attended,
            "election": ElectionInfo(**{**ELECTION, "second_round": second_round}),
        }
    )

    assert state.eligible_period == (dt.date(2026, 1, 5), expected_end)


def test_case_state_eligible_period_starts_at_legal_start(line_data: dict[str, Any]) -> None:
    state = full_case_state(line_data).model_copy(
        update={"candidacy_declared_on": dt.date(2025, 3, 1)}
    )

    assert state.eligible_period == (dt.date(2025, 9, 1), dt.date(2026, 3, 22))


def test_case_state_derived_values(line_data: dict[str, Any]) -> None:
    state = full_case_state(line_data)

    assert state.threat_level is ThreatLevel.TWO
    assert state.claimed_cents == 125_000 + 80_000
    assert state.open_round is None


def test_threat_level_is_that_of_the_latest_evaluation(line_data: dict[str, Any]) -> None:
    state = full_case_state(line_data)
    not_recognised = state.evaluations[0]

    later = state.model_copy(update={"evaluations": [*state.evaluations, not_recognised]})

    assert later.threat_level is None
    assert state.model_copy(update={"evaluations": []}).threat_level is None


def test_open_round_while_observations_pending(line_data: dict[str, Any]) -> None:
    state = full_case_state(line_data).model_copy(update={"stage": Stage.OBSERVATIONS_PENDING})

    assert state.open_round is state.rounds[-1]


def test_case_state_round_trip_through_temporal_converter(line_data: dict[str, Any]) -> None:
    state = full_case_state(line_data)
    converter = pydantic_data_converter.payload_converter

    payloads = converter.to_payloads([state])
    (restored,) = converter.from_payloads(payloads, [CaseState])

    assert isinstance(restored, CaseState)
    assert restored == state
    assert restored.deposit_deadline == dt.datetime(2026, 5, 22, 18, 0, tzinfo=PARIS)
    assert restored.deposit_deadline.utcoffset() == dt.timedelta(hours=2)
    assert restored.expense_lines[1].category is ExpenseCategory.PREMISES_SECURITY
    assert restored.evaluations[1].level is ThreatLevel.TWO
    assert restored.policy.reminder_offsets == [dt.timedelta(days=7), dt.timedelta(days=1)]


def test_open_case_input_with_carried_state_round_trips(
    open_case_data: dict[str, Any], line_data: dict[str, Any]
) -> None:
    case = OpenCaseInput.model_validate(
        {**open_case_data, "carried_state": full_case_state(line_data)}
    )
    converter = pydantic_data_converter.payload_converter

    (restored,) = converter.from_payloads(converter.to_payloads([case]), [OpenCaseInput])

    assert restored == case
    assert restored.carried_state == full_case_state(line_data)


def test_case_result_round_trip() -> None:
    result = CaseResult(stage=Stage.PAID, closed_at=T0, paid_cents=205_000)
    converter = pydantic_data_converter.payload_converter

    (restored,) = converter.from_payloads(converter.to_payloads([result]), [CaseResult])

    assert restored == result
