"""The candidate's (and the mandated third party's) pages: their cases, opening one, the case page
with its timeline, and every action of the candidate side.

Each action calls the JSON route's own function (``api.routes.candidates`` and ``cases``), after
the same role check (``Allow`` with the stage table's roles): same gateway, same audit, same
refusals. A refused form is shown again with the refusal next to its field.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from api.deps import Allow, CurrentUser, Services, idempotency_key
from api.errors import ApiError, ProblemPublic
from api.gateway import CaseGateway, build_input
from api.ratelimit import Bucket, limiter_of
from api.routes import candidates, cases
from api.routes.actions import perform_action
from api.schemas import (
    AnswerBody,
    CaseCreate,
    CasePublic,
    EvaluationRequestBody,
    ExpenseLineBody,
    MessageCreate,
    ReevaluationRequestBody,
    SubmissionBody,
    ThirdPartyBody,
    WithdrawBody,
)
from api.web import timeline
from api.web.problems import field_errors, problem_of
from api.web.routing import PageRoute
from api.web.session import checked_form, finish_response, require_user, services_of
from api.web.templating import Crumb, PageContext, render
from core.db import elections
from domain.calendar import deposit_deadline, paris_time
from domain.documents import KIND_LABELS, DocumentKind
from domain.errors import DomainError, ErrorCode
from domain.expenses import CATEGORY_LABELS
from domain.identifiers import is_valid_departement
from domain.ids import case_workflow_id
from domain.registries import RegistryOutcome
from domain.stages import RULES, STAGE_LABELS, Action, Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CANDIDATE_SIDE = Allow(Role.CANDIDATE, Role.THIRD_PARTY)
STORED: contextvars.ContextVar[dict[str, tuple[str, str]] | None] = contextvars.ContextVar(
    "stored_uploads", default=None
)
"""The files a form's request stored (field to document id and name): kept if it is refused."""
REPLACED: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "replaced_values", default=None
)
"""Values of a refused form that its action changed (the id of a line put back): the form shown
again carries them, so that sending it again acts on what exists now."""
CHUNK = 64 * 1024

REGISTRY_TEXT = {
    RegistryOutcome.VALID: "valide",
    RegistryOutcome.EXPIRED: "non valide sur toute la période de la prestation",
    RegistryOutcome.UNKNOWN: "inconnue du registre",
    RegistryOutcome.MISMATCH: "détenue par une autre entreprise (SIREN différent)",
    RegistryOutcome.UNAVAILABLE: "registre momentanément indisponible",
    RegistryOutcome.INVALID: "identifiant mal formé",
}

DONE = {
    "ouvert": "Votre dossier est ouvert et la demande d'évaluation est adressée au préfet.",
    Action.REQUEST_EVALUATION.value: "Votre nouvelle demande d'évaluation est adressée au préfet.",
    Action.REQUEST_SPACE.value: "L'ouverture de votre espace de dépôt est demandée à la CNCCFP.",
    Action.ADD_EXPENSE_LINE.value: "La ligne de dépense est ajoutée.",
    "modifier_ligne": "La ligne de dépense est modifiée.",
    Action.REMOVE_EXPENSE_LINE.value: "La ligne de dépense est retirée.",
    Action.SUBMIT.value: "Votre demande est déposée : le récépissé est ci-dessous.",
    Action.ANSWER_OBSERVATIONS.value: "Votre réponse est transmise à la CNCCFP.",
    Action.CONTACT_PREFECTURE.value: "La préfecture est informée que vous attendez le paiement.",
    Action.WITHDRAW.value: "Votre dossier est retiré.",
    Action.MANDATE_THIRD_PARTY.value: "Le tiers est désigné ; il reçoit un lien de connexion.",
    Action.REQUEST_REEVALUATION.value: "Votre demande de réexamen est adressée au préfet.",
    "message": "Votre message est envoyé.",
}
"""Confirmations shown once an action is done (``?fait=`` after the redirection)."""


async def _candidate_side(request: Request) -> CurrentUser:
    user = await require_user(request)
    return await CANDIDATE_SIDE(user)


def _key(form: FormData) -> str | None:
    value = form.get("cle")
    return idempotency_key(value if isinstance(value, str) and value else None)


def _text(form: FormData, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _file(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def _upload(
    services: Services,
    user: CurrentUser,
    case_id: str,
    kind: DocumentKind,
    form: FormData,
    field: str,
    *,
    required: bool = True,
) -> str | None:
    """Store the file of ``field`` as the JSON upload route does; a refusal names ``field``.

    A form shown again after a refusal keeps the files it had stored (``<field>_ref``, checked
    to be this case's by the gateway like any reference), so that nobody chooses them again;
    the same file sent again is the document already stored, not a duplicate.
    """
    upload = _file(form, field)
    if upload is None:
        kept = _text(form, f"{field}_ref", 128)
        if kept:
            return kept
        if required:
            raise ApiError(ErrorCode.INVALID_INPUT, field=field, message="Joignez ce fichier.")
        return None
    digest = hashlib.sha256()
    while chunk := await upload.read(CHUNK):
        digest.update(chunk)
    await upload.seek(0)
    try:
        info = await cases.store_document(
            services, user, case_id, kind, upload.filename or "piece", _chunks(upload)
        )
    except DomainError as error:
        if error.code == ErrorCode.DOCUMENT_DUPLICATE:
            for existing in await services.storage.list_for_case(case_id):
                if existing.sha256 == digest.hexdigest() and existing.kind == kind:
                    return existing.document_id
        raise DomainError(error.code, field=field, message=error.message) from None
    stored = STORED.get()
    if stored is not None:
        stored[field] = (info.document_id, info.filename)
    return info.document_id


async def _elections(services: Services) -> list[Any]:
    async with services.engine.connect() as connection:
        return list(
            (await connection.execute(select(elections).order_by(elections.c.first_round))).all()
        )


# --- Mes dossiers -------------------------------------------------------------------------------


@router.get("/dossiers")
async def my_cases(request: Request) -> HTMLResponse:
    user = await _candidate_side(request)
    services = services_of(request)
    summaries = await cases.list_cases(services, user, None, None, None, 200)
    labels = {row.election_id: row.label for row in await _elections(services)}
    return await render(
        request,
        "dossiers.html",
        PageContext(title="Mes dossiers", crumbs=[Crumb("Mes dossiers")]),
        summaries=summaries,
        election_labels=labels,
        stage_labels=STAGE_LABELS,
        account=user.account,
        now=dt.datetime.now(dt.UTC),
    )


# --- Ouvrir un dossier ----------------------------------------------------------------------------


async def _new_case_page(
    request: Request,
    user: CurrentUser,
    *,
    values: dict[str, str] | None = None,
    problem: ProblemPublic | None = None,
    status: int = 200,
) -> HTMLResponse:
    services = services_of(request)
    now = dt.datetime.now(dt.UTC)
    options = [
        (row.election_id, f"{row.label} (premier tour le {row.first_round:%d/%m/%Y})")
        for row in await _elections(services)
        if row.covered and now < deposit_deadline(row.first_round)
    ]
    errors = field_errors(problem)
    for source, target in (
        ("complaint_document_refs", "complaint_report"),
        ("candidacy_proof_ref", "candidacy_proof"),
        ("candidacy_declared_on", "declared_on"),
    ):
        if source in errors:
            errors.setdefault(target, errors[source])
    return await render(
        request,
        "nouveau.html",
        PageContext(
            title="Ouvrir un dossier",
            crumbs=[Crumb("Mes dossiers", "/dossiers"), Crumb("Ouvrir un dossier")],
        ),
        status=status,
        options=options,
        values=values or {},
        errors=errors,
        problem=problem,
        account=user.account,
        key=uuid.uuid4().hex,
        today=paris_time(dt.datetime.now(dt.UTC)).date().isoformat(),
    )


@router.get("/dossiers/nouveau")
async def new_case_form(request: Request) -> HTMLResponse:
    user = await _candidate_side(request)
    await Allow(Role.CANDIDATE)(user)
    return await _new_case_page(request, user)


@router.post("/dossiers/nouveau")
async def new_case(request: Request) -> Response:
    user = await _candidate_side(request)
    await Allow(Role.CANDIDATE)(user)
    form = await checked_form(request, max_files=2)
    STORED.set({})
    services = services_of(request)
    kept = [f"{field}_{part}" for field in PROOFS for part in ("ref", "name")]
    values = {
        name: _text(form, name, 200)
        for name in ("election_id", "departement", "declared_on", *kept)
    }
    try:
        # The fields first (nothing is stored for a form that cannot be right).
        placeholder = build_input(
            lambda: CaseCreate(
                election_id=values["election_id"],
                departement=values["departement"].strip(),
                candidacy_declared_on=values["declared_on"],
            )
        )
        if not is_valid_departement(placeholder.departement):
            raise ApiError(ErrorCode.INVALID_DEPARTEMENT, field="departement")
        election = await candidates.election_info(services, placeholder.election_id)
        if not (user.account.confirmed and user.account.name_confirmed):
            raise ApiError(ErrorCode.ACCOUNT_NOT_CONFIRMED)
        case_id = case_workflow_id(election.election_id, user.account.account_id)
        complaint = await _upload(
            services,
            user,
            case_id,
            DocumentKind.COMPLAINT_REPORT,
            form,
            "complaint_report",
        )
        proof = await _upload(
            services,
            user,
            case_id,
            DocumentKind.CANDIDACY_PROOF,
            form,
            "candidacy_proof",
        )
        body = placeholder.model_copy(
            update={"complaint_document_refs": [complaint], "candidacy_proof_ref": proof}
        )
        await candidates.open_case(body, services, user, _key(form))
    except Exception as error:
        problem = problem_of(error)
        if problem is None:
            raise
        return await _new_case_page(
            request, user, values=_kept(form, values), problem=problem, status=problem.status
        )
    return _done(request, case_id, "ouvert")


PROOFS = ("complaint_report", "candidacy_proof")


def _kept(form: FormData, values: dict[str, str]) -> dict[str, str]:
    """The values of a refused form, with the documents it stored or already kept (their ids in
    ``<field>_ref``, their names in ``<field>_name``)."""
    kept = dict(values)
    for field, (document_id, filename) in (STORED.get() or {}).items():
        kept[f"{field}_ref"] = document_id
        kept[f"{field}_name"] = filename
    return kept


def _done(request: Request, case_id: str, what: str, anchor: str = "etat") -> Response:
    response = RedirectResponse(f"/dossiers/{case_id}?fait={what}#{anchor}", status_code=303)
    return finish_response(request, response)


# --- La page du dossier ------------------------------------------------------------------------


async def _case_page(
    request: Request,
    user: CurrentUser,
    case_id: str,
    *,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
    problem: ProblemPublic | None = None,
    status: int = 200,
) -> HTMLResponse:
    services = services_of(request)
    gateway = CaseGateway(services)
    state = await gateway.read(user, case_id)
    view = await gateway.view(user, state)
    documents = await cases.list_documents(case_id, services, user)
    messages = await cases.list_messages(case_id, services, user)
    now = dt.datetime.now(dt.UTC)
    errors = field_errors(problem)
    for source, target in (
        ("amount_cents", "amount"),
        ("document_refs", "invoice"),
        ("mandate_document", "mandate"),
        ("complaint_document_refs", "complaint_report"),
        ("candidacy_proof_ref", "candidacy_proof"),
        ("body", "message"),
    ):
        if source in errors:
            errors.setdefault(target, errors[source])
    available = {item.action.value for item in view.available_actions}
    checks = {check.line_id: check for check in view.line_checks}
    verdicts = {verdict.line_id: verdict for verdict in view.line_verdicts}
    editing = request.query_params.get("modifier", "")
    line_values = values or {}
    if not values and editing:
        line = next((line for line in view.expense_lines if line.line_id == editing), None)
        if line is not None:
            form_name = "modifier_ligne"
            line_values = _line_values(line)
    return await render(
        request,
        "dossier.html",
        PageContext(
            title=f"Dossier — {view.election.label}",
            crumbs=[Crumb("Mes dossiers", "/dossiers"), Crumb(view.election.label)],
        ),
        status=status,
        case=view,
        documents=documents,
        messages=messages,
        events=timeline.events(view),
        expected=timeline.EXPECTED[view.stage],
        deadline=timeline.next_deadline(view, now),
        days_text=timeline.days_text,
        available=available,
        checks=checks,
        verdicts=verdicts,
        registry_text=REGISTRY_TEXT,
        categories=list(CATEGORY_LABELS.items()),
        kind_labels=KIND_LABELS,
        form_name=form_name,
        values=line_values,
        errors=errors,
        problem=problem,
        done=DONE.get(request.query_params.get("fait", "")),
        key=uuid.uuid4().hex,
        role=user.role.value,
        document_names={doc.document_id: doc.filename for doc in documents},
    )


def _line_values(line: Any) -> dict[str, str]:
    return {
        "line_id": line.line_id,
        "category": line.category.value,
        "company_name": line.company_name,
        "siren": line.siren,
        "cnaps_authorisation": line.cnaps_authorisation,
        "invoice_reference": line.invoice_reference,
        "service_start": line.service_start.isoformat(),
        "service_end": line.service_end.isoformat(),
        "amount": f"{line.amount_cents / 100:.2f}".replace(".", ","),
        "certification.not_public_service": "oui" if line.certification.not_public_service else "",
        "certification.not_in_campaign_account": "oui"
        if line.certification.not_in_campaign_account
        else "",
        "certification.not_state_protection": "oui"
        if line.certification.not_state_protection
        else "",
        "document_refs": " ".join(line.document_refs),
    }


@router.get("/dossiers/{case_id}")
async def case_page(request: Request, case_id: str) -> HTMLResponse:
    user = await _candidate_side(request)
    return await _case_page(request, user, case_id)


@router.get("/dossiers/{case_id}/pieces/{document_id}")
async def download(request: Request, case_id: str, document_id: str) -> Response:
    user = await _candidate_side(request)
    return await cases.download_document(case_id, document_id[:128], services_of(request), user)


# --- Les actions ------------------------------------------------------------------------------


def _cents(text: str) -> int | str:
    """« 1 234,50 » in cents; the text itself when it is not an amount (the contract refuses)."""
    cleaned = text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "")
    cleaned = cleaned.replace(",", ".")
    whole, _, fraction = cleaned.partition(".")
    if not whole.isdigit() or (fraction and (not fraction.isdigit() or len(fraction) > 2)):
        return text
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


async def _line_body(posted: Posted) -> ExpenseLineBody:
    form = posted.form
    amount = _cents(_text(form, "amount", 50))
    if isinstance(amount, str):
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            field="amount",
            message="Indiquez le montant TTC en euros, par exemple 1 250,00.",
        )
    refs = [ref for ref in _text(form, "document_refs", 2000).split() if ref]
    invoice = await posted.upload(DocumentKind.INVOICE, "invoice", required=not refs)
    proof = await posted.upload(DocumentKind.PAYMENT_PROOF, "payment_proof", required=False)
    if invoice is not None:
        refs = [invoice]
    if proof is not None:
        refs.append(proof)
    certification = {
        name: form.get(f"certification.{name}") == "oui"
        for name in ("not_public_service", "not_in_campaign_account", "not_state_protection")
    }
    return build_input(
        lambda: ExpenseLineBody(
            category=_text(form, "category", 50),
            company_name=_text(form, "company_name", 300),
            siren=_text(form, "siren", 50).replace(" ", ""),
            cnaps_authorisation=_text(form, "cnaps_authorisation", 100).strip(),
            invoice_reference=_text(form, "invoice_reference", 200),
            service_start=_text(form, "service_start", 20),
            service_end=_text(form, "service_end", 20),
            amount_cents=amount,
            document_refs=refs,
            certification=certification,
        )
    )


@dataclass(frozen=True)
class Posted:
    """A form sent from the case page, and who sent it."""

    request: Request
    services: Services
    user: CurrentUser
    case_id: str
    form: FormData
    key: str | None

    async def upload(self, kind: DocumentKind, field: str, *, required: bool = True) -> str | None:
        return await _upload(
            self.services, self.user, self.case_id, kind, self.form, field, required=required
        )

    async def act(self, action: Action, data: BaseModel | None = None, *, key: bool = True) -> Any:
        """Send ``action`` as its JSON route does (``key``: with the form's idempotency key)."""
        return await _action(
            self.services, self.user, self.case_id, action, self.key if key else None, data
        )


ActionHandler = Callable[[Posted], Awaitable[str]]
"""A form of the case page: does its action, returns what ``DONE`` confirms."""


async def _action(
    services: Services,
    user: CurrentUser,
    case_id: str,
    action: Action,
    key: str | None,
    data: BaseModel | None = None,
) -> CasePublic:
    """What the action's JSON route does: its roles (the stage table's), then ``perform_action``."""
    await Allow(*RULES[action].roles)(user)
    return await perform_action(services, user, case_id, action, data, key)


@dataclass(frozen=True)
class Upload:
    """A file a form stores before its action (a refusal names ``field``)."""

    field: str
    kind: DocumentKind
    required: bool = True


Files = dict[str, str | None]
"""The document id each upload field stored (None for an optional file not given)."""


@dataclass(frozen=True)
class CaseForm:
    """A form of the case page that sends one action: the files it stores, then its body."""

    action: Action
    body: Callable[[FormData, Files], BaseModel] | None = None
    uploads: tuple[Upload, ...] = ()


def _refs(*ids: str | None) -> list[str]:
    return [document_id for document_id in ids if document_id]


def _submission(form: FormData, files: Files) -> SubmissionBody:
    rounds = _text(form, "rounds_attended", 5)
    return SubmissionBody(rounds_attended=int(rounds) if rounds.isdigit() else None)


def _withdrawal(form: FormData, files: Files) -> WithdrawBody:
    if form.get("confirm") != "oui":
        raise ApiError(
            ErrorCode.INVALID_INPUT,
            field="confirm",
            message="Cochez la case pour confirmer le retrait du dossier.",
        )
    return WithdrawBody(reason=_text(form, "reason").strip() or None)


CASE_FORMS: dict[str, CaseForm] = {
    "demander-espace": CaseForm(Action.REQUEST_SPACE),
    "deposer": CaseForm(Action.SUBMIT, _submission),
    "repondre": CaseForm(
        Action.ANSWER_OBSERVATIONS,
        lambda form, files: AnswerBody(
            answer=_text(form, "answer"), document_refs=_refs(files["answer_document"])
        ),
        (Upload("answer_document", DocumentKind.OBSERVATION_ANSWER, required=False),),
    ),
    "contacter-prefecture": CaseForm(Action.CONTACT_PREFECTURE),
    "retirer-dossier": CaseForm(Action.WITHDRAW, _withdrawal),
    "nouvelle-evaluation": CaseForm(
        Action.REQUEST_EVALUATION,
        lambda form, files: EvaluationRequestBody(
            complaint_document_refs=_refs(files["complaint_report"]),
            candidacy_proof_ref=files["candidacy_proof"],
            new_facts=_text(form, "new_facts").strip() or None,
        ),
        (
            Upload("complaint_report", DocumentKind.COMPLAINT_REPORT),
            Upload("candidacy_proof", DocumentKind.CANDIDACY_PROOF),
        ),
    ),
    "reexamen": CaseForm(
        Action.REQUEST_REEVALUATION,
        lambda form, files: ReevaluationRequestBody(
            new_facts=_text(form, "new_facts"),
            document_refs=_refs(files["reevaluation_document"]),
        ),
        (Upload("reevaluation_document", DocumentKind.OTHER, required=False),),
    ),
}
"""The case page's forms that only store their files and send their action's body."""


def _sending(spec: CaseForm) -> ActionHandler:
    async def handler(posted: Posted) -> str:
        await Allow(*RULES[spec.action].roles)(posted.user)
        files: Files = {}
        for upload in spec.uploads:
            files[upload.field] = await posted.upload(
                upload.kind, upload.field, required=upload.required
            )
        body = spec.body
        form = posted.form
        await posted.act(
            spec.action, None if body is None else build_input(lambda: body(form, files))
        )
        return spec.action.value

    return handler


async def _add_line(posted: Posted) -> str:
    await Allow(*RULES[Action.ADD_EXPENSE_LINE].roles)(posted.user)
    await posted.act(Action.ADD_EXPENSE_LINE, await _line_body(posted))
    return Action.ADD_EXPENSE_LINE.value


async def _edit_line(posted: Posted) -> str:
    """A line is changed by removing it and adding the corrected one (there is no edit action);
    if the corrected line is refused, the former one is put back."""
    services, user, case_id = posted.services, posted.user, posted.case_id
    await Allow(*RULES[Action.ADD_EXPENSE_LINE].roles)(user)
    line_id = _text(posted.form, "line_id", 200)
    gateway = CaseGateway(services)
    view = await gateway.view(user, await gateway.read(user, case_id))
    former = next((line for line in view.expense_lines if line.line_id == line_id), None)
    if former is None:
        raise ApiError(ErrorCode.INVALID_INPUT, message="Cette ligne n'existe plus.")
    body = await _line_body(posted)
    await candidates.remove_expense_line(
        case_id=case_id, line_id=line_id, services=services, user=user, key=None
    )
    try:
        await posted.act(Action.ADD_EXPENSE_LINE, body)
    except Exception:
        restored = ExpenseLineBody.model_validate(
            former.model_dump(exclude={"line_id", "added_at"})
        )
        case: CasePublic = await posted.act(Action.ADD_EXPENSE_LINE, restored, key=False)
        replaced = REPLACED.get()
        if replaced is not None and case.expense_lines:
            # The line put back is the last one added; the form shown again corrects it.
            replaced["line_id"] = case.expense_lines[-1].line_id
        raise
    return "modifier_ligne"


async def _remove_line(posted: Posted) -> str:
    await Allow(*RULES[Action.REMOVE_EXPENSE_LINE].roles)(posted.user)
    await candidates.remove_expense_line(
        case_id=posted.case_id,
        line_id=_text(posted.form, "line_id", 200),
        services=posted.services,
        user=posted.user,
        key=posted.key,
    )
    return Action.REMOVE_EXPENSE_LINE.value


async def _third_party(posted: Posted) -> str:
    request, form = posted.request, posted.form
    await Allow(Role.CANDIDATE)(posted.user)
    limiter = limiter_of(request)
    await limiter.hit(Bucket.EMAILS, limiter.client(request))
    await CaseGateway(posted.services).ensure_visible(posted.user, posted.case_id)
    mandate = await posted.upload(DocumentKind.MANDATE, "mandate")
    body = build_input(
        lambda: ThirdPartyBody(
            email=_text(form, "email", 300),
            name=_text(form, "name", 300),
            mandate_document=mandate or "",
        )
    )
    await candidates.mandate_third_party(
        case_id=posted.case_id,
        body=body,
        request=request,
        services=posted.services,
        user=posted.user,
        key=posted.key,
    )
    return Action.MANDATE_THIRD_PARTY.value


async def _message(posted: Posted) -> str:
    body = build_input(lambda: MessageCreate(body=_text(posted.form, "message")))
    await cases.post_message(posted.case_id, body, posted.services, posted.user)
    return "message"


HANDLERS: dict[str, ActionHandler] = {
    **{name: _sending(spec) for name, spec in CASE_FORMS.items()},
    "ajouter-ligne": _add_line,
    "modifier-ligne": _edit_line,
    "retirer-ligne": _remove_line,
    "tiers": _third_party,
    "message": _message,
}
"""Each form of the case page: its path segment and what it does."""

ANCHORS = {"ajouter-ligne": "lignes", "modifier-ligne": "lignes", "message": "messages"}


@router.post("/dossiers/{case_id}/{form_name}")
async def case_action(request: Request, case_id: str, form_name: str) -> Response:
    handler = HANDLERS.get(form_name)
    if handler is None:
        raise ApiError(ErrorCode.NOT_FOUND)
    user = await _candidate_side(request)
    form = await checked_form(request, max_files=2)
    STORED.set({})
    REPLACED.set({})
    services = services_of(request)
    try:
        done = await handler(Posted(request, services, user, case_id, form, _key(form)))
    except Exception as error:
        problem = problem_of(error)
        if problem is None or problem.code in (
            ErrorCode.CASE_NOT_FOUND.value,
            ErrorCode.FORBIDDEN_ROLE.value,
        ):
            raise
        values = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        values.pop("csrf_token", None)
        values = {**_kept(form, values), **(REPLACED.get() or {})}
        return await _case_page(
            request,
            user,
            case_id,
            form_name=form_name.replace("-", "_"),
            values=values,
            problem=problem,
            status=problem.status,
        )
    return _done(request, case_id, done, ANCHORS.get(form_name, "etat"))
