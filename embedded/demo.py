"""Drive a fictitious case through the stages against a running stack (``make up``).

Until the HTTP API exists this is how an operator sees a case move in the Web UI:

    python -m embedded.demo                    # evaluation to payment
    python -m embedded.demo --until submitted  # stop at a stage and leave the case open

Every actor and every amount is invented; the emails land in the local mailbox.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import sys
import uuid
from collections.abc import AsyncIterator

from reportlab import rl_config
from reportlab.pdfgen import canvas

from core.cases import CaseClient
from core.db import create_engine, migrate
from core.settings import Settings
from core.storage import DocumentStorage, build_storage
from core.temporal import connect_when_ready
from domain.calendar import PARIS
from domain.contracts import (
    CURRENT_PROCEDURE_VERSION,
    ActionInput,
    Actor,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CandidateContact,
    CasePolicy,
    ContactPrefectureInput,
    DecideInput,
    ElectionInfo,
    OpenCaseInput,
    OpenSpaceInput,
    RecordEvaluationInput,
    RecordPaymentInput,
    RequestEvaluationInput,
    RequestSpaceInput,
    SendObservationsInput,
    SubmitInput,
)
from domain.documents import DocumentKind
from domain.expenses import ALL_CERTIFIED, ExpenseCategory, ExpenseLineDraft
from domain.ids import case_workflow_id
from domain.money import ThreatLevel
from domain.stages import Action, Role, Stage

DEMO_ELECTION = ElectionInfo(
    election_id="municipales-2026",
    label="Élections municipales 2026",
    first_round=dt.date(2026, 3, 15),
    second_round=dt.date(2026, 3, 22),
)


def sample_pdf(text: str) -> bytes:
    """A real one-page PDF carrying ``text`` (deterministic bytes for the same text)."""
    rl_config.invariant = True
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


async def upload_sample(
    storage: DocumentStorage, case_id: str, kind: DocumentKind, filename: str
) -> str:
    """Store a unique fictitious PDF of ``kind`` for the case; returns its document id."""
    data = sample_pdf(f"{kind.label} (document fictif) {uuid.uuid4().hex}")

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    uploader = Role.PREFECTURE if kind == DocumentKind.EVALUATION_DECISION else Role.CANDIDATE
    info = await storage.ingest(
        case_id=case_id,
        kind=kind,
        filename=filename,
        uploaded_by="demo",
        chunks=chunks(),
        uploader_role=uploader.value,
    )
    return info.document_id


async def case_steps(
    me: Actor, storage: DocumentStorage, case_id: str
) -> list[tuple[Action, ActionInput]]:
    """Every action of a full case after its opening, in order, by fictitious actors; the
    documents they cite are uploaded to ``storage`` first."""
    decision = await upload_sample(
        storage, case_id, DocumentKind.EVALUATION_DECISION, "decision-prefet.pdf"
    )
    invoice = await upload_sample(storage, case_id, DocumentKind.INVOICE, "facture.pdf")
    prefecture = Actor(role=Role.PREFECTURE, id="demo-prefecture-60", departements=["60"])
    cnccfp = Actor(role=Role.CNCCFP, id="demo-rapporteur")
    line = ExpenseLineDraft(
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Gardiennage Picard SARL (fictif)",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference="F-2026-031",
        service_start=dt.date(2026, 2, 2),
        service_end=dt.date(2026, 3, 15),
        amount_cents=840_000,
        document_refs=[invoice],
        certification=ALL_CERTIFIED,
    )
    return [
        (
            Action.RECORD_EVALUATION,
            RecordEvaluationInput(
                actor=prefecture,
                recognised=True,
                level=ThreatLevel.ONE,
                decided_on=dt.date(2026, 2, 20),
                decision_document=decision,
            ),
        ),
        (Action.REQUEST_SPACE, RequestSpaceInput(actor=me)),
        (Action.OPEN_SPACE, OpenSpaceInput(actor=cnccfp)),
        (Action.ADD_EXPENSE_LINE, AddExpenseLineInput(actor=me, line=line)),
        (Action.SUBMIT, SubmitInput(actor=me, rounds_attended=1)),
        (
            Action.SEND_OBSERVATIONS,
            SendObservationsInput(
                actor=cnccfp, observations="Merci de joindre le bon de commande."
            ),
        ),
        (
            Action.ANSWER_OBSERVATIONS,
            AnswerObservationsInput(
                actor=me, answer="Bon de commande joint.", document_refs=["d2"]
            ),
        ),
        (Action.DECIDE, DecideInput(actor=cnccfp, amount_cents=840_000)),
        (Action.CONTACT_PREFECTURE, ContactPrefectureInput(actor=me)),
        (
            Action.RECORD_PAYMENT,
            RecordPaymentInput(
                actor=prefecture,
                amount_cents=840_000,
                paid_on=dt.datetime.now(PARIS).date(),
                reference="VIR-DEMO-0001",
            ),
        ),
    ]


def demo_case(
    policy: CasePolicy, cnccfp_email: str = "cnccfp-demo@exemple.test"
) -> tuple[OpenCaseInput, Actor]:
    """A new fictitious case (unique candidate) and its candidate as an actor."""
    candidate_id = f"demo{uuid.uuid4().hex[:12]}"
    case = OpenCaseInput(
        election=DEMO_ELECTION,
        candidate_id=candidate_id,
        candidate=CandidateContact(name="Camille Exemple", email=f"{candidate_id}@exemple.test"),
        departement="60",
        prefecture_email="pref-oise-demo@exemple.test",
        candidacy_declared_on=dt.date(2026, 1, 10),
        # The real deadline of this election has passed: the demo gives itself thirty days.
        deposit_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        policy=policy,
        cnccfp_email=cnccfp_email,
        procedure_version=CURRENT_PROCEDURE_VERSION,
    )
    return case, Actor(role=Role.CANDIDATE, id=candidate_id)


async def evaluation_request(
    me: Actor, storage: DocumentStorage, case_id: str
) -> RequestEvaluationInput:
    """The first evaluation request, with the two proofs R. 39-12 requires (uploaded first)."""
    complaint = await upload_sample(storage, case_id, DocumentKind.COMPLAINT_REPORT, "plainte.pdf")
    proof = await upload_sample(
        storage, case_id, DocumentKind.CANDIDACY_PROOF, "declaration-candidature.pdf"
    )
    return RequestEvaluationInput(
        actor=me, complaint_document_refs=[complaint], candidacy_proof_ref=proof
    )


async def run(until: Stage, pause: float) -> str:
    settings = Settings()
    client = await connect_when_ready(settings)
    cases = CaseClient(client, settings.task_queue)
    engine = create_engine(settings)
    await migrate(engine)
    storage = build_storage(settings, engine)
    case, me = demo_case(settings.case_policy(), settings.cnccfp_email)
    case_id = case_workflow_id(case.election.election_id, case.candidate_id)
    state = await cases.open_case(case, await evaluation_request(me, storage, case_id))
    sys.stdout.write(f"{case_id}: {state.stage.value}\n")
    for action, payload in await case_steps(me, storage, case_id):
        if state.stage == until:
            break
        await asyncio.sleep(pause)
        state = await cases.act(case_id, action, payload)
        sys.stdout.write(f"{case_id}: {action.value} -> {state.stage.value}\n")
    await engine.dispose()
    return case_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drive a fictitious case on the running stack.")
    parser.add_argument("--until", type=Stage, default=Stage.PAID, help="stage to stop at")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between actions")
    arguments = parser.parse_args(argv)
    asyncio.run(run(arguments.until, arguments.pause))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
