"""What the candidate side does: open a case, designate a third party, deposit, answer, withdraw.

Candidates and mandated third parties share these routes where the stage table lets both act.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy import select

from api import audit
from api.deps import Allow, CurrentUser, IdempotencyKeyDep, Services, ServicesDep
from api.errors import PROBLEM_RESPONSES, ApiError, OutcomeUnknown
from api.gateway import CaseGateway, build_input
from api.ratelimit import Bucket, limiter_of, per_client
from api.routes.actions import CaseIdPath, LineIdPath, action_route
from api.schemas import (
    AnswerBody,
    CaseCreate,
    CasePublic,
    EvaluationRequestBody,
    ExpenseLineBody,
    ReevaluationRequestBody,
    SubmissionBody,
    ThirdPartyBody,
    WithdrawBody,
)
from core import invoices
from core.cases import CaseActionRefused, CaseClient
from core.db import account_departements, accounts, elections, prefectures
from domain.calendar import decision_due, deposit_deadline, paris_time
from domain.contracts import (
    CURRENT_PROCEDURE_VERSION,
    AddExpenseLineInput,
    AnswerObservationsInput,
    CandidateContact,
    CaseState,
    ContactPrefectureInput,
    ElectionInfo,
    MandateThirdPartyInput,
    OpenCaseInput,
    RemoveExpenseLineInput,
    RequestEvaluationInput,
    RequestReevaluationInput,
    RequestSpaceInput,
    SubmitInput,
    WithdrawInput,
)
from domain.errors import MESSAGES, DomainError, ErrorCode
from domain.expenses import ExpenseLineDraft, LineCertification
from domain.identifiers import is_valid_departement
from domain.ids import case_workflow_id
from domain.stages import RULES, Action, Role

router = APIRouter(tags=["Candidats"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 409, 422, 503)
}


async def prefecture_email(services: ServicesDep, departement: str) -> str:
    """The address of the prefecture service of a département (registered, or its first agent)."""
    async with services.engine.connect() as connection:
        registered = (
            await connection.execute(
                select(prefectures.c.email).where(prefectures.c.departement == departement)
            )
        ).scalar()
        if registered:
            return str(registered)
        agent = (
            await connection.execute(
                select(accounts.c.email)
                .join(account_departements)
                .where(
                    account_departements.c.departement == departement,
                    accounts.c.role == Role.PREFECTURE.value,
                    accounts.c.disabled_at.is_(None),
                )
                .order_by(accounts.c.created_at)
                .limit(1)
            )
        ).scalar()
    if agent is None:
        raise ApiError(ErrorCode.PREFECTURE_UNKNOWN, field="departement")
    return str(agent)


async def election_info(services: ServicesDep, election_id: str) -> ElectionInfo:
    """A covered election, as a case records it."""
    async with services.engine.connect() as connection:
        row = (
            await connection.execute(
                select(elections).where(elections.c.election_id == election_id)
            )
        ).first()
    if row is None:
        raise ApiError(ErrorCode.ELECTION_UNKNOWN, field="election_id")
    if not row.covered:
        raise ApiError(ErrorCode.ELECTION_NOT_COVERED, field="election_id")
    return ElectionInfo(
        election_id=row.election_id,
        label=row.label,
        first_round=row.first_round,
        second_round=row.second_round,
    )


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CasePublic,
    summary="Ouvrir un dossier et demander l'évaluation de la menace",
    description="Ouvre le dossier du candidat connecté pour une élection et adresse au préfet du "
    "département la demande d'évaluation de la menace, avec le procès-verbal de plainte et le "
    "justificatif de la déclaration publique de candidature, tous deux obligatoires et déposés "
    "au préalable (POST /cases/{case_id}/documents, natures complaint_report et candidacy_proof ; "
    "l'identifiant du dossier est case-<élection>-<identifiant du candidat>). La date de "
    "déclaration de candidature ne peut être ni dans le futur ni postérieure au premier tour. Le "
    "champ attended_second_round, obsolète, est accepté et ignoré : le dernier tour de présence "
    "est indiqué au dépôt. Répéter la même demande ne crée pas de second dossier."
    "\n\nRéservé à : candidat.",
    responses=_RESPONSES,
)
async def open_case(
    body: CaseCreate,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.CANDIDATE))],
    key: IdempotencyKeyDep,
) -> CasePublic:
    received_at = dt.datetime.now(dt.UTC)
    if not is_valid_departement(body.departement):
        raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
    election = await election_info(services, body.election_id)
    if received_at >= deposit_deadline(election.first_round):
        raise ApiError(ErrorCode.DEPOSIT_DEADLINE_PASSED)
    today = paris_time(received_at).date()
    if body.candidacy_declared_on > min(today, election.first_round):
        raise ApiError(ErrorCode.CANDIDACY_DATE_INVALID, field="candidacy_declared_on")
    account = user.account
    if not (account.confirmed and account.name_confirmed):
        # Anyone may create an account for any address: until its owner has signed in from the
        # emailed link and set their name, the account names no case (no squatting).
        raise ApiError(ErrorCode.ACCOUNT_NOT_CONFIRMED)
    case_id = case_workflow_id(election.election_id, account.account_id)
    gateway = CaseGateway(services)
    # Rule 6: the complaint report and the proof of candidacy, both uploaded to this case.
    await gateway.check_evaluation_proofs(
        case_id, body.complaint_document_refs, body.candidacy_proof_ref
    )
    address = await prefecture_email(services, body.departement)
    # ``attended_second_round`` is ignored: the rounds attended are stated at the deposit.
    case_input = build_input(
        lambda: OpenCaseInput(
            election=election,
            candidate_id=account.account_id,
            candidate=CandidateContact(name=account.display_name, email=account.email),
            departement=body.departement,
            prefecture_email=address,
            cnccfp_email=services.settings.cnccfp_email,
            candidacy_declared_on=body.candidacy_declared_on,
            policy=services.settings.case_policy(),
            procedure_version=CURRENT_PROCEDURE_VERSION,
            # The law's deadline, computed once here: the case carries it, so that a later
            # change of domain.calendar never moves the deadline of an open case.
            deposit_deadline=deposit_deadline(election.first_round),
        )
    )
    request = build_input(
        lambda: RequestEvaluationInput(
            actor=user.actor,
            received_at=received_at,
            complaint_document_refs=body.complaint_document_refs,
            candidacy_proof_ref=body.candidacy_proof_ref,
        )
    )
    await gateway.check_documents(case_id, request)

    async def current(cases: CaseClient, _: CaseState) -> CaseState:
        # The case as it is now, not as the first request left it.
        state = await cases.state(case_id)
        if state.stage.is_terminal:
            # The update id made the retry of a first request return its first answer; the
            # case has since ended and is not opened again.
            raise CaseActionRefused(ErrorCode.CASE_CLOSED.value, MESSAGES[ErrorCode.CASE_CLOSED])
        return state

    update_id = CaseClient.opening_update_id(case_id, f"{case_id}:open:{key}" if key else None)
    state = await gateway.send(
        user.actor,
        "open_case",
        case_id,
        idempotency_key=key,
        update_id=update_id,
        start=lambda cases: cases.start_opening(case_input, request, request_id=update_id),
        then=current,
    )
    return await gateway.view(user, state)


@router.post(
    "/cases/{case_id}/third-party",
    response_model=CasePublic,
    summary="Désigner un tiers mandaté",
    description="Désigne la personne qui pourra agir sur ce dossier, et sur lui seul, pour le "
    "candidat (demander l'espace de dépôt, déposer la demande, répondre aux observations). Le "
    "mandat signé est déposé au préalable. Un compte est créé pour le tiers s'il n'en a pas : il "
    "se connecte par un lien reçu à son adresse (POST /auth/sign-in-links). Désigner un autre "
    "tiers met fin au mandat du précédent. La réponse est la même quelle que soit l'adresse "
    "(inconnue, ou celle d'un compte qui ne peut pas être mandaté : celui-ci ne reçoit alors "
    "aucun accès au dossier). Nombre de demandes limité par client et par adresse (429)."
    "\n\nRéservé à : candidat.",
    responses={**_RESPONSES, 429: {"description": "Trop de requêtes (voir Retry-After)."}},
    dependencies=[Depends(per_client(Bucket.EMAILS))],
)
async def mandate_third_party(
    case_id: CaseIdPath,
    body: ThirdPartyBody,
    request: Request,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(Role.CANDIDATE))],
    key: IdempotencyKeyDep,
) -> CasePublic:
    gateway = CaseGateway(services)
    await gateway.ensure_visible(user, case_id)
    contact = build_input(lambda: CandidateContact(name=body.name, email=body.email))
    mandate = build_input(
        lambda: MandateThirdPartyInput(
            actor=user.actor,
            third_party_id="pending",
            name=contact.name,
            email=contact.email,
            mandate_document=body.mandate_document,
        )
    )
    await gateway.check_documents(case_id, mandate)
    limiter = limiter_of(request)
    await limiter.hit(Bucket.TARGET, limiter.target_key(contact.email))
    third_party = await services.accounts.find_by_email(contact.email)
    created = False
    if third_party is None:
        try:
            # No name: the third party sets it once signed in (the candidate typed this one).
            third_party = await services.accounts.create(
                email=contact.email, display_name="", role=Role.THIRD_PARTY
            )
            created = True
        except DomainError as error:
            if error.code != ErrorCode.ACCOUNT_EXISTS:
                raise
            third_party = await services.accounts.find_by_email(contact.email)
    mandatable = (
        third_party is not None
        and third_party.role == Role.THIRD_PARTY
        and not third_party.disabled
    )
    # One answer whatever the address is (issue 12: no oracle of staff or candidate addresses):
    # an account that cannot be mandated is replaced by an id of the same shape that no account
    # holds, so the case records the designation and nobody gains access through it.
    party_id = (
        third_party.account_id
        if mandatable and third_party is not None
        else f"{Role.THIRD_PARTY.value[:4]}{uuid.uuid4().hex[:20]}"
    )

    async def undo() -> None:
        # Nothing half-applied: the mandate granted and the account created for this request go.
        if not previously_mandated:
            await services.accounts.revoke_mandate(case_id=case_id, account_id=party_id)
        if created:
            await services.accounts.discard(party_id)

    async def settled(outcome: str) -> None:
        if outcome == audit.OK:
            await services.accounts.end_other_mandates(case_id=case_id, keep=party_id)
        else:
            await undo()

    previously_mandated = False
    try:
        previously_mandated = await services.accounts.holds_mandate(
            case_id=case_id, account_id=party_id
        )
        # The mandate is granted first, so that the third party can act as soon as the case
        # records them; it is withdrawn again if the case does not accept it.
        if mandatable:
            await services.accounts.grant_mandate(
                case_id=case_id, account_id=party_id, document_id=body.mandate_document
            )
        state = await gateway.act(
            user,
            case_id,
            Action.MANDATE_THIRD_PARTY,
            lambda: MandateThirdPartyInput(
                actor=user.actor,
                third_party_id=party_id,
                name=contact.name,
                email=contact.email,
                mandate_document=body.mandate_document,
            ),
            key,
            on_settled=settled,
        )
    except OutcomeUnknown:
        # The case may have accepted it: ``settled`` keeps or undoes it once that is known.
        raise
    except BaseException:
        await undo()
        raise
    await services.accounts.end_other_mandates(case_id=case_id, keep=party_id)
    return await gateway.view(user, state)


action_route(
    router,
    "/evaluation-requests",
    Action.REQUEST_EVALUATION,
    EvaluationRequestBody,
    lambda context, body: RequestEvaluationInput(actor=context.actor, **body.model_dump()),
    summary="Demander une nouvelle évaluation de la menace",
    description="Après une menace non avérée, demande au préfet un nouvel examen, avec les faits "
    "nouveaux, jusqu'à la date limite de dépôt.",
)
action_route(
    router,
    "/space-request",
    Action.REQUEST_SPACE,
    None,
    lambda context, _: RequestSpaceInput(actor=context.actor),
    summary="Demander l'ouverture de l'espace de dépôt",
    description="La menace étant avérée, demande à la CNCCFP d'ouvrir l'espace Sécu'Pol où la "
    "demande de remboursement sera déposée.",
)


def _expense_line(body: ExpenseLineBody) -> ExpenseLineDraft:
    if not LineCertification(**body.certification.model_dump()).complete:
        # The workflow refuses it too; refusing here says so before anything is sent.
        raise ApiError(ErrorCode.LINE_NOT_CERTIFIED, field="certification")
    return ExpenseLineDraft(**body.model_dump())


async def _claim_invoice(
    services: Services, case_id: str, body: ExpenseLineBody, state: CaseState
) -> None:
    await invoices.claim(services.engine, case_id, _expense_line(body), state.expense_lines)


action_route(
    router,
    "/expense-lines",
    Action.ADD_EXPENSE_LINE,
    ExpenseLineBody,
    lambda context, body: AddExpenseLineInput(actor=context.actor, line=_expense_line(body)),
    summary="Ajouter une ligne de dépense",
    description="Ajoute à la demande une prestation de sécurité facturée par une entreprise "
    "titulaire d'une autorisation CNAPS, avec la facture et les justificatifs de paiement déposés "
    "au préalable. Le candidat certifie pour chaque ligne que la prestation n'est pas assurée par "
    "un service public administratif, ne relève pas du compte de campagne (article L. 52-12) et "
    "ne double pas une protection assurée par l'État : sans ces trois certifications, la ligne "
    "est refusée (line_not_certified). L'entreprise est vérifiée dans les registres CNAPS et "
    "SIRENE.",
    after=_claim_invoice,
)


@router.delete(
    "/cases/{case_id}/expense-lines/{line_id}",
    response_model=CasePublic,
    summary="Retirer une ligne de dépense",
    description="Retire une ligne de la demande, tant qu'elle n'est pas déposée."
    "\n\nRéservé à : candidat, tiers mandaté.",
    responses=_RESPONSES,
    name=Action.REMOVE_EXPENSE_LINE.value,
    openapi_extra={"x-secupol-action": Action.REMOVE_EXPENSE_LINE.value},
)
async def remove_expense_line(
    case_id: CaseIdPath,
    line_id: LineIdPath,
    services: ServicesDep,
    user: Annotated[CurrentUser, Depends(Allow(*RULES[Action.REMOVE_EXPENSE_LINE].roles))],
    key: IdempotencyKeyDep,
) -> CasePublic:
    gateway = CaseGateway(services)
    state = await gateway.act(
        user,
        case_id,
        Action.REMOVE_EXPENSE_LINE,
        lambda: RemoveExpenseLineInput(actor=user.actor, line_id=line_id),
        key,
    )
    await invoices.release(services.engine, case_id, line_id)
    return await gateway.view(user, state)


action_route(
    router,
    "/submission",
    Action.SUBMIT,
    SubmissionBody,
    lambda context, body: SubmitInput(
        actor=context.actor,
        received_at=context.received_at,
        rounds_attended=body.rounds_attended,
        decision_due=decision_due(context.received_at),
    ),
    summary="Déposer la demande",
    description="Dépose la demande avant 18 heures (heure de Paris) le dixième vendredi suivant "
    "le premier tour : c'est l'heure de réception par Sécu'Pol qui compte. Le corps indique, "
    "obligatoirement, le dernier tour de scrutin auquel le candidat a été présent "
    "(rounds_attended : 1 ou 2) ; les lignes postérieures à ce tour sont refusées. Le dossier "
    "est scellé (empreintes de toutes les pièces), un récépissé est envoyé par courriel, et la "
    "décision de la CNCCFP est due six mois plus tard.",
    optional_body=True,
)
action_route(
    router,
    "/reevaluation-requests",
    Action.REQUEST_REEVALUATION,
    ReevaluationRequestBody,
    lambda context, body: RequestReevaluationInput(actor=context.actor, **body.model_dump()),
    summary="Demander le réexamen du niveau de la menace",
    description="La menace étant avérée, demande au préfet de la réévaluer (par exemple de la "
    "porter au niveau 2) au vu de faits nouveaux, avec les pièces déposées au préalable, tant "
    "que la Commission n'a pas décidé.",
)
action_route(
    router,
    "/answers",
    Action.ANSWER_OBSERVATIONS,
    AnswerBody,
    lambda context, body: AnswerObservationsInput(actor=context.actor, **body.model_dump()),
    summary="Répondre aux observations",
    description="Répond aux observations de la CNCCFP (procédure contradictoire), dans le délai "
    "indiqué.",
)
action_route(
    router,
    "/prefecture-contact",
    Action.CONTACT_PREFECTURE,
    None,
    lambda context, _: ContactPrefectureInput(actor=context.actor),
    summary="Se signaler à la préfecture pour le paiement",
    description="Le montant étant arrêté, informe la préfecture que le candidat attend le "
    "paiement.",
)
action_route(
    router,
    "/withdrawal",
    Action.WITHDRAW,
    WithdrawBody,
    lambda context, body: WithdrawInput(actor=context.actor, **body.model_dump()),
    summary="Retirer le dossier",
    description="Le candidat renonce à sa demande : le dossier est clos.",
)
