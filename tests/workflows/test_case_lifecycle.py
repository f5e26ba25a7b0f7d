"""One case through every stage on the real dev server, with the emails read back from SMTP."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from domain.contracts import (
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CasePolicy,
    ContactPrefectureInput,
    DecideInput,
    MandateThirdPartyInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordLineVerdictInput,
    RecordPaymentInput,
    RequestEvaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
    WithdrawInput,
)
from domain.documents import DocumentKind
from domain.expenses import ExpenseCategory
from domain.ids import case_workflow_id
from domain.money import DecisionOutcome, ThreatLevel
from domain.registries import RegistryOutcome
from domain.stages import Action, Role, Stage
from embedded.mailbox import MailServer
from tests.helpers import (
    CNCCFP,
    PREFECTURE_60,
    TestCaseClient,
    assert_eventually,
    candidate,
    evaluation_request,
    new_case_input,
    paris_today,
    templates_of,
)
from tests.workflows.steps import line, recognised_open_space

SECURITY_PACK_PHONE = "01 80 52 33 84"


@pytest.mark.record_history("full_case")
async def test_full_case_from_evaluation_to_payment(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case = new_case_input()
    me = candidate(case)
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)

    state = await cases.open_case(case, evaluation_request(case))
    assert state.stage == Stage.EVALUATION_REQUESTED
    assert case_id == f"case-municipales-2026-{case.candidate_id}"

    decision = await cases.upload(case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf")
    state = await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=ThreatLevel.TWO,
            decided_on=dt.date(2026, 3, 1),
            decision_document=decision,
        ),
    )
    assert state.stage == Stage.THREAT_RECOGNISED
    assert state.threat_level == ThreatLevel.TWO

    state = await cases.act(
        case_id,
        Action.MANDATE_THIRD_PARTY,
        MandateThirdPartyInput(
            actor=me,
            third_party_id="tiers-1",
            name="Dominique Leroy",
            mandate_document=await cases.upload(case_id, DocumentKind.MANDATE, "mandat.pdf"),
        ),
    )
    third_party = state.third_party
    assert third_party is not None
    mandated = Actor(role=Role.THIRD_PARTY, id="tiers-1")
    state = await cases.act(case_id, Action.REQUEST_SPACE, RequestSpaceInput(actor=mandated))
    assert state.stage == Stage.SPACE_REQUESTED
    state = await cases.act(case_id, Action.OPEN_SPACE, OpenSpaceInput(actor=CNCCFP))
    assert state.stage == Stage.SPACE_OPEN

    invoice_1 = await cases.upload(case_id, DocumentKind.INVOICE, "facture-1.pdf")
    invoice_2 = await cases.upload(case_id, DocumentKind.INVOICE, "facture-2.pdf")
    state = await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(1_200_000, "F-1", invoice_1)),
    )
    state = await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(
            actor=mandated,
            line=line(
                800_000,
                "F-2",
                invoice_2,
                category=ExpenseCategory.CLOSE_PROTECTION,
                siren="552 100 554",
                cnaps_authorisation="aut-075-2124-07-01-20250906336",
            ),
        ),
    )
    assert state.claimed_cents == 2_000_000
    assert state.expense_lines[1].siren == "552100554"
    assert state.expense_lines[1].cnaps_authorisation == "AUT-075-2124-07-01-20250906336"

    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    assert state.stage == Stage.SUBMITTED
    # The dossier is sealed: decision, mandate and both invoices, with their fingerprints.
    assert state.seal is not None
    assert [d.document_id for d in state.seal.documents] == [
        decision,
        third_party.mandate_document,
        invoice_1,
        invoice_2,
    ]
    assert len(state.seal.manifest_sha256) == 64

    async def companies_checked() -> None:
        checked = await cases.state(case_id)
        assert len(checked.line_checks) == 2
        for check in checked.line_checks:
            assert check.at_submission
            assert check.cnaps is not None and check.cnaps.outcome == RegistryOutcome.VALID
            assert check.sirene is not None and check.sirene.outcome == RegistryOutcome.VALID

    await assert_eventually(companies_checked)

    contested = state.expense_lines[1].line_id
    state = await cases.act(
        case_id,
        Action.SEND_OBSERVATIONS,
        SendObservationsInput(
            actor=CNCCFP,
            observations="Merci de produire la preuve de paiement de la facture F-2.",
            contested_line_ids=[contested],
        ),
    )
    assert state.stage == Stage.OBSERVATIONS_PENDING
    assert state.rounds[0].answer_due - state.rounds[0].sent_at == dt.timedelta(days=15)

    state = await cases.act(
        case_id,
        Action.ANSWER_OBSERVATIONS,
        AnswerObservationsInput(actor=me, answer="Voici le relevé.", document_refs=["doc-releve"]),
    )
    assert state.stage == Stage.UNDER_REVIEW

    # Rule 8: a verdict on every line; the contested one is cut with its reason.
    await cases.act(
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(
            actor=CNCCFP, line_id=state.expense_lines[0].line_id, accepted_cents=1_200_000
        ),
    )
    await cases.act(
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(
            actor=CNCCFP,
            line_id=contested,
            accepted_cents=700_000,
            reason="Facture F-2 partiellement justifiée.",
        ),
    )
    state = await cases.act(
        case_id,
        Action.DECIDE,
        DecideInput(
            actor=CNCCFP, amount_cents=1_900_000, reasons="Facture F-2 partiellement justifiée."
        ),
    )
    assert state.stage == Stage.DECIDED
    assert state.decision is not None
    assert state.decision.outcome == DecisionOutcome.AMENDED

    state = await cases.act(case_id, Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me))
    assert state.stage == Stage.PAYMENT_PENDING

    paid_on = paris_today()
    state = await cases.act(
        case_id,
        Action.RECORD_PAYMENT,
        RecordPaymentInput(
            actor=PREFECTURE_60, amount_cents=1_900_000, paid_on=paid_on, reference="VIR-2026-0042"
        ),
    )
    assert state.stage == Stage.PAID
    await cases.wait_closed(case_id)

    final = await cases.state(case_id)
    assert final.stage == Stage.PAID
    assert final.payment is not None and final.payment.reference == "VIR-2026-0042"
    assert [change.to_stage for change in final.history] == [
        Stage.EVALUATION_REQUESTED,
        Stage.THREAT_RECOGNISED,
        Stage.SPACE_REQUESTED,
        Stage.SPACE_OPEN,
        Stage.SUBMITTED,
        Stage.OBSERVATIONS_PENDING,
        Stage.UNDER_REVIEW,
        Stage.DECIDED,
        Stage.PAYMENT_PENDING,
        Stage.PAID,
    ]
    assert all(record.status == "sent" for record in final.notifications)

    to_candidate = mail_server.store.for_recipient(case.candidate.email)
    assert templates_of(to_candidate) == [
        "evaluation_recorded",
        "space_opened",
        "deposit_acknowledged",
        "observations_received",
        "decision",
        "payment_recorded",
    ]
    for message in to_candidate:
        body = message.get_body(("plain",))
        assert body is not None
        assert SECURITY_PACK_PHONE in body.get_content()
        assert "Camille" not in str(message["Subject"])
    to_prefecture = mail_server.store.for_recipient(case.prefecture_email)
    assert templates_of(to_prefecture) == ["evaluation_requested", "payment_requested"]

    # The acknowledgement carries the PDF receipt, whose text lists every fingerprint.
    acknowledgement = to_candidate[2]
    receipts = [part for part in acknowledgement.iter_attachments()]
    assert [part.get_content_type() for part in receipts] == ["application/pdf"]
    pdf = PdfReader(io.BytesIO(receipts[0].get_content()))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert case_id in text and "Récépissé de dépôt" in text
    assert final.seal is not None
    for document in final.seal.documents:
        assert document.sha256 in text.replace("\n", "").replace(" ", "")


async def test_open_case_is_idempotent(cases: TestCaseClient, mail_server: MailServer) -> None:
    case = new_case_input()
    first = await cases.open_case(case, evaluation_request(case))
    again = await cases.open_case(case, evaluation_request(case))
    assert again == first
    assert len(again.evaluation_requests) == 1

    async def one_request_email() -> None:
        assert len(mail_server.store.for_recipient(case.prefecture_email)) == 1

    await assert_eventually(one_request_email)


@pytest.mark.record_history("reexamination")
async def test_refused_threat_can_be_reexamined(
    cases: TestCaseClient, mail_server: MailServer
) -> None:
    case = new_case_input()
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    await cases.open_case(case, evaluation_request(case))
    state = await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=False,
            decided_on=dt.date(2026, 3, 1),
            decision_document="doc-refus",
        ),
    )
    assert state.stage == Stage.THREAT_NOT_RECOGNISED
    state = await cases.act(
        case_id,
        Action.REQUEST_EVALUATION,
        RequestEvaluationInput(
            actor=candidate(case),
            complaint_document_refs=["doc-plainte-2"],
            new_facts="Nouvelles menaces reçues le 5 mars.",
        ),
    )
    assert state.stage == Stage.EVALUATION_REQUESTED
    assert len(state.evaluation_requests) == 2
    state = await cases.act(
        case_id,
        Action.RECORD_EVALUATION,
        RecordEvaluationInput(
            actor=PREFECTURE_60,
            recognised=True,
            level=ThreatLevel.ONE,
            decided_on=dt.date(2026, 3, 8),
            decision_document="doc-decision-2",
        ),
    )
    assert state.stage == Stage.THREAT_RECOGNISED
    assert state.threat_level == ThreatLevel.ONE

    async def emails() -> None:
        to_candidate = mail_server.store.for_recipient(case.candidate.email)
        assert templates_of(to_candidate) == ["evaluation_recorded", "evaluation_recorded"]
        refused, recognised = (m.get_body(("plain",)).get_content() for m in to_candidate)  # type: ignore[union-attr]
        # The security pack goes to every candidate, threat recognised or not (DOMAIN.md).
        assert SECURITY_PACK_PHONE in refused
        assert SECURITY_PACK_PHONE in recognised
        assert len(mail_server.store.for_recipient(case.prefecture_email)) == 2

    await assert_eventually(emails)


@pytest.mark.record_history("withdrawal")
async def test_withdrawal_closes_the_case(cases: TestCaseClient, mail_server: MailServer) -> None:
    case, case_id, _ = await recognised_open_space(cases)
    state = await cases.act(
        case_id, Action.WITHDRAW, WithdrawInput(actor=candidate(case), reason="Je renonce.")
    )
    assert state.stage == Stage.WITHDRAWN
    await cases.wait_closed(case_id)
    final = await cases.state(case_id)
    assert final.closed_at is not None

    async def confirmed() -> None:
        assert "withdrawal_confirmed" in templates_of(
            mail_server.store.for_recipient(case.candidate.email)
        )

    await assert_eventually(confirmed)


async def test_decided_amount_within_claim_and_ceiling(cases: TestCaseClient) -> None:
    from core.cases import CaseActionRefused

    case, case_id, invoice = await recognised_open_space(cases, level=ThreatLevel.ONE)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(2_000_000, "F-9", invoice)),
    )
    await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))

    for amount, code in ((2_000_001, "amount_above_claim"), (1_500_001, "amount_above_ceiling")):
        try:
            await cases.act(
                case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=amount, reasons="x")
            )
        except CaseActionRefused as refusal:
            assert refusal.code == code
        else:
            raise AssertionError(f"{amount} should have been refused")
    try:
        await cases.act(case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=1_000_000))
    except CaseActionRefused as refusal:
        assert refusal.code == "contradictory_procedure_required"
    else:
        raise AssertionError("a reduced amount needs a contradictory procedure first (rule 1)")

    # The ceiling of level 1 is what the claim is capped at: deciding it is a full approval.
    state = await cases.act(
        case_id, Action.DECIDE, DecideInput(actor=CNCCFP, amount_cents=1_500_000)
    )
    assert state.decision is not None
    assert state.decision.outcome == DecisionOutcome.APPROVED
    assert state.decision.ceiling_cents == 1_500_000


@pytest.mark.record_history("rejection")
async def test_rejection_closes_the_case(cases: TestCaseClient, mail_server: MailServer) -> None:
    case, case_id, invoice = await recognised_open_space(cases)
    me = candidate(case)
    await cases.act(
        case_id,
        Action.ADD_EXPENSE_LINE,
        AddExpenseLineInput(actor=me, line=line(50_000, "F-3", invoice)),
    )
    state = await cases.act(case_id, Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1))
    line_id = state.expense_lines[0].line_id
    await cases.act(
        case_id,
        Action.SEND_OBSERVATIONS,
        SendObservationsInput(
            actor=CNCCFP, observations="Prestation assurée par un service public ?"
        ),
    )
    await cases.act(
        case_id,
        Action.ANSWER_OBSERVATIONS,
        AnswerObservationsInput(actor=me, answer="La police ne venait pas la nuit."),
    )
    await cases.act(
        case_id,
        Action.RECORD_LINE_VERDICT,
        RecordLineVerdictInput(
            actor=CNCCFP,
            line_id=line_id,
            accepted_cents=0,
            reason="Prestation assurée par un service public.",
        ),
    )
    state = await cases.act(
        case_id,
        Action.DECIDE,
        DecideInput(
            actor=CNCCFP, amount_cents=0, reasons="Prestation assurée par un service public."
        ),
    )
    assert state.stage == Stage.REJECTED
    await cases.wait_closed(case_id)
    body = mail_server.store.for_recipient(case.candidate.email)[-1].get_body(("plain",))
    assert body is not None and "service public" in body.get_content()


async def test_policy_defaults_come_from_settings() -> None:
    from core.settings import Settings

    policy = Settings(_env_file=None).case_policy()  # type: ignore[call-arg]
    # The receipt grace and the reminders' spread are the defaults the settings set (the
    # contract's 0 keeps tests exact).
    assert policy == CasePolicy(
        receipt_grace=dt.timedelta(minutes=10), reminder_spread=dt.timedelta(hours=1)
    )
