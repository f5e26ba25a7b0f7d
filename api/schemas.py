"""HTTP schemas: what clients send (``…Create`` / ``…Body``) and what they read (``…Public``).

They are kept apart from the tables and from the workflow's payloads: the HTTP contract can be
documented in French and evolve without touching a history. The rules themselves are not here:
bodies are turned into the domain's contracts, whose validators give the stable codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from domain.elections import ElectionType
from domain.errors import ErrorCode, custom_error
from domain.expenses import ExpenseCategory
from domain.money import DecisionOutcome, ThreatLevel
from domain.registries import RegistryOutcome
from domain.stages import Action, Role, Stage
from domain.text import CleanLine, CleanText, NormalisedEmail

DocumentId = Annotated[
    str, Field(min_length=1, max_length=128, description="Identifiant d'une pièce déposée.")
]


def _rounds_attended_given(value: object) -> object:
    if value is None:
        raise custom_error(ErrorCode.ROUNDS_ATTENDED_REQUIRED)
    return value


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is not silently lost."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Public(BaseModel):
    """Base of answers, read from the domain's objects by attribute."""

    model_config = ConfigDict(from_attributes=True)


# --- Accounts and sessions ----------------------------------------------------------------------


class CandidateAccountCreate(Body):
    """Création d'un compte de candidat."""

    email: NormalisedEmail = Field(max_length=254, description="Adresse électronique du candidat.")
    name: CleanLine | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Obsolète : accepté et ignoré. Le titulaire de l'adresse indique son nom une "
        "fois connecté (PATCH /auth/me).",
    )


class AccountUpdate(Body):
    """Le nom du titulaire du compte."""

    display_name: CleanLine = Field(
        min_length=1, max_length=200, description="Nom et prénom, tels qu'ils figurent au dossier."
    )


class SignInLinkCreate(Body):
    """Demande d'un lien de connexion."""

    email: NormalisedEmail = Field(max_length=254, description="Adresse électronique du compte.")


class SessionCreate(Body):
    """Échange d'un lien de connexion contre un jeton de session."""

    token: str = Field(
        min_length=1,
        max_length=200,
        description="Le jeton figurant dans le lien reçu par courriel.",
    )


class AccountPublic(Public):
    """Un compte."""

    account_id: str = Field(
        description="Identifiant du compte (pour un candidat, son identifiant de candidat)."
    )
    email: str = Field(description="Adresse électronique.")
    display_name: str = Field(description="Nom affiché.")
    role: Role = Field(
        description="Rôle : candidate, third_party, prefecture, cnccfp, admin ou operator."
    )
    departements: list[str] = Field(description="Départements servis (agents de préfecture).")
    disabled: bool = Field(default=False, description="Le compte est désactivé.")
    confirmed: bool = Field(
        default=False,
        description="Le titulaire de l'adresse s'est connecté depuis un lien reçu par courriel.",
    )
    name_confirmed: bool = Field(
        default=False, description="Le titulaire a indiqué lui-même son nom (PATCH /auth/me)."
    )


class SessionPublic(BaseModel):
    """Un jeton de session, montré une seule fois."""

    token: str = Field(
        description="Jeton à joindre à chaque requête : Authorization: Bearer <jeton>."
    )
    expires_at: dt.datetime = Field(description="Fin de validité du jeton.")
    account: AccountPublic


class Accepted(BaseModel):
    """Demande prise en compte."""

    detail: str = Field(description="Ce qui va se passer, en français.")


# --- Elections ----------------------------------------------------------------------------------


class ElectionPublic(Public):
    """Une élection."""

    election_id: str = Field(description="Identifiant de l'élection (ex. municipales-2026).")
    election_type: str = Field(description="Type d'élection (municipales, legislatives…).")
    label: str = Field(description="Intitulé.")
    first_round: dt.date = Field(description="Date du premier tour.")
    second_round: dt.date | None = Field(description="Date du second tour, s'il y en a un.")
    covered: bool = Field(description="Le remboursement des frais de sécurité s'applique.")
    deposit_deadline: dt.datetime = Field(
        description="Date limite de dépôt : 18 heures (Paris), dixième vendredi après le 1er tour."
    )


class ElectionCreate(Body):
    """Ajout d'une élection."""

    election_id: str = Field(
        min_length=1, max_length=64, description="Identifiant : minuscules, chiffres et tirets."
    )
    election_type: ElectionType = Field(
        description="Type d'élection. Il décide seul si le dispositif s'applique : oui pour "
        "legislatives, departementales, municipales, communautaires et metropolitaines-lyon ; "
        "non pour les autres."
    )
    label: CleanLine = Field(min_length=1, max_length=200, description="Intitulé.")
    first_round: dt.date = Field(description="Date du premier tour.")
    second_round: dt.date | None = Field(default=None, description="Date du second tour.")


class PrefectureUpdate(Body):
    """Adresse du service préfectoral d'un département."""

    email: NormalisedEmail = Field(
        max_length=254, description="Adresse du service qui instruit les demandes."
    )


class PrefecturePublic(BaseModel):
    """Le service préfectoral d'un département."""

    departement: str = Field(description="Numéro du département.")
    email: str = Field(description="Adresse du service.")


class StaffAccountCreate(Body):
    """Création d'un compte d'agent (préfecture, CNCCFP, administration, exploitation)."""

    email: NormalisedEmail = Field(
        max_length=254, description="Adresse électronique professionnelle."
    )
    display_name: CleanLine = Field(min_length=1, max_length=200, description="Nom affiché.")
    role: Role = Field(description="prefecture, cnccfp, admin ou operator.")
    departements: list[str] = Field(
        default_factory=list, max_length=120, description="Départements servis (préfecture)."
    )


class StaffAccountPublic(BaseModel):
    """Le compte créé et son jeton, montré une seule fois."""

    account: AccountPublic
    token: str = Field(description="Jeton de session de l'agent : il n'est affiché qu'une fois.")
    expires_at: dt.datetime = Field(description="Fin de validité du jeton.")


class AuditEntryPublic(Public):
    """Une ligne du journal d'audit."""

    at: dt.datetime = Field(description="Horodatage.")
    actor_id: str = Field(description="Compte qui a agi.")
    actor_role: str = Field(description="Son rôle.")
    case_id: str | None = Field(description="Dossier concerné.")
    action: str = Field(description="Action tentée.")
    outcome: str = Field(description="ok, ou le code stable du refus.")
    request_id: str | None = Field(description="Identifiant de la requête.")


# --- Cases: actions -----------------------------------------------------------------------------


class CaseCreate(Body):
    """Ouverture d'un dossier et demande d'évaluation de la menace au préfet."""

    election_id: str = Field(
        min_length=1, max_length=64, description="L'élection (voir GET /elections)."
    )
    departement: str = Field(
        min_length=1,
        max_length=3,
        description="Département de la circonscription (ex. 60, 2A, 974).",
    )
    candidacy_declared_on: dt.date = Field(
        description="Date à laquelle la candidature a été rendue publique : ni dans le futur, ni "
        "après le premier tour. La préfecture la vérifie et peut la corriger."
    )
    attended_second_round: StrictBool | None = Field(
        default=None,
        description="Obsolète, ignoré s'il est envoyé : le dernier tour auquel le candidat a "
        "participé est indiqué au dépôt de la demande.",
        deprecated=True,
    )
    complaint_document_refs: list[DocumentId] = Field(
        default_factory=list,
        max_length=50,
        description="Obligatoire : le procès-verbal de plainte (au moins une pièce de nature "
        "complaint_report), et toute pièce utile, déposés au préalable (article R. 39-12).",
    )
    candidacy_proof_ref: DocumentId | None = Field(
        default=None,
        description="Obligatoire : le justificatif de la déclaration publique de candidature "
        "(pièce de nature candidacy_proof), déposé au préalable.",
    )


class EvaluationRequestBody(Body):
    """Nouvelle demande d'évaluation (après une menace non avérée), avec les faits nouveaux."""

    complaint_document_refs: list[DocumentId] = Field(
        default_factory=list, max_length=50, description="Pièces jointes."
    )
    candidacy_proof_ref: DocumentId | None = Field(
        default=None, description="Justificatif de candidature."
    )
    new_facts: CleanText | None = Field(
        default=None, max_length=10_000, description="Faits nouveaux."
    )


class EvaluationBody(Body):
    """Décision d'évaluation du préfet."""

    recognised: StrictBool = Field(description="La menace est avérée.")
    level: ThreatLevel | None = Field(
        default=None, description="Niveau de la menace avérée : 1 ou 2 (absent si non avérée)."
    )
    decided_on: dt.date = Field(description="Date de la décision.")
    decision_document: DocumentId = Field(description="La décision, déposée au préalable.")
    candidacy_declared_on: dt.date = Field(
        description="Date de la déclaration publique de candidature, telle que la préfecture "
        "l'a vérifiée sur le justificatif (elle remplace celle indiquée par le candidat)."
    )


class ReevaluationRequestBody(Body):
    """Demande de réexamen du niveau d'une menace avérée, avec les faits nouveaux."""

    new_facts: CleanText = Field(
        min_length=1, max_length=10_000, description="Faits nouveaux justifiant le réexamen."
    )
    document_refs: list[DocumentId] = Field(
        default_factory=list, max_length=50, description="Pièces jointes, déposées au préalable."
    )


class ReevaluationBody(Body):
    """Réévaluation, ou correction, du niveau d'une menace avérée par le préfet."""

    level: ThreatLevel = Field(description="Nouveau niveau de la menace : 1 ou 2.")
    decided_on: dt.date = Field(description="Date de la décision.")
    decision_document: DocumentId = Field(description="La décision, déposée au préalable.")
    reason: CleanText = Field(
        min_length=1, max_length=10_000, description="Motif de la réévaluation ou de la correction."
    )


class ThirdPartyBody(Body):
    """Désignation d'un tiers mandaté, qui pourra agir sur ce dossier seulement."""

    email: NormalisedEmail = Field(
        max_length=254, description="Adresse du tiers : il s'y connectera."
    )
    name: CleanLine = Field(min_length=1, max_length=200, description="Nom du tiers.")
    mandate_document: DocumentId = Field(description="Le mandat signé, déposé au préalable.")


class LineCertificationBody(Body):
    """Certification par le candidat des exclusions légales, pour une ligne (L. 52-18-2)."""

    not_public_service: StrictBool = Field(
        description="La prestation ne peut pas être assurée par un service public administratif."
    )
    not_in_campaign_account: StrictBool = Field(
        description="La dépense ne relève pas du compte de campagne (article L. 52-12)."
    )
    not_state_protection: StrictBool = Field(
        description="La prestation ne double pas une protection déjà assurée par l'État."
    )


class ExpenseLineBody(Body):
    """Une ligne de dépense de sécurité."""

    category: ExpenseCategory = Field(
        description="premises_security (surveillance ou gardiennage des lieux de campagne) ou "
        "close_protection (protection rapprochée)."
    )
    company_name: CleanLine = Field(
        min_length=1, max_length=200, description="Raison sociale de l'entreprise."
    )
    siren: CleanLine = Field(max_length=20, description="SIREN de l'entreprise (9 chiffres).")
    cnaps_authorisation: CleanLine = Field(
        max_length=40, description="Autorisation d'exercice CNAPS (AUT-075-2124-07-01-20250906336)."
    )
    invoice_reference: CleanLine = Field(
        min_length=1, max_length=200, description="Numéro de la facture."
    )
    service_start: dt.date = Field(description="Début de la prestation.")
    service_end: dt.date = Field(description="Fin de la prestation.")
    amount_cents: StrictInt = Field(description="Montant TTC en centimes d'euro (entier).")
    document_refs: list[DocumentId] = Field(
        min_length=1, max_length=50, description="Facture et justificatifs de paiement déposés."
    )
    certification: LineCertificationBody = Field(
        description="Ce que le candidat certifie pour cette ligne : les trois cases doivent être "
        "cochées."
    )


class EmptyBody(Body):
    """Aucune donnée à fournir."""


class ObservationsBody(Body):
    """Observations de la CNCCFP (procédure contradictoire)."""

    observations: CleanText = Field(
        min_length=1, max_length=10_000, description="Texte des observations."
    )
    contested_line_ids: list[str] = Field(
        default_factory=list, max_length=200, description="Lignes de dépense contestées."
    )
    answer_delay_days: StrictInt | None = Field(
        default=None, ge=1, le=365, description="Délai de réponse en jours (15 par défaut)."
    )


class AnswerBody(Body):
    """Réponse du candidat aux observations."""

    answer: CleanText = Field(min_length=1, max_length=10_000, description="Texte de la réponse.")
    document_refs: list[DocumentId] = Field(
        default_factory=list, max_length=50, description="Pièces jointes."
    )


class SubmissionBody(Body):
    """Dépôt de la demande."""

    model_config = ConfigDict(json_schema_extra={"required": ["rounds_attended"]})

    rounds_attended: Annotated[StrictInt | None, BeforeValidator(_rounds_attended_given)] = Field(
        default=None,
        validate_default=True,
        ge=0,
        le=2,
        description="Obligatoire : le dernier tour de scrutin auquel le candidat a été présent "
        "(1 ou 2). Un candidat absent du premier tour (0) n'est pas éligible.",
    )


class ManualVerificationBody(Body):
    """Vérification manuelle d'une entreprise par un rapporteur."""

    line_id: CleanLine = Field(min_length=1, max_length=200, description="La ligne de dépense.")
    valid: StrictBool = Field(description="L'entreprise et son autorisation sont valides.")
    note: CleanText = Field(
        min_length=1, max_length=10_000, description="Ce qui a été vérifié, et comment."
    )


class DecisionBody(Body):
    """Décision de la CNCCFP sur le montant remboursé."""

    amount_cents: StrictInt = Field(description="Montant arrêté, en centimes (0 : rejet).")
    reasons: CleanText | None = Field(
        default=None,
        max_length=10_000,
        description="Motifs (obligatoires en cas de réduction ou de rejet).",
    )


class LineVerdictBody(Body):
    """Décision de la CNCCFP sur une ligne de dépense."""

    accepted_cents: StrictInt = Field(
        description="Montant retenu pour la ligne, en centimes : son montant entier, moins, ou 0."
    )
    reason: CleanText | None = Field(
        default=None,
        max_length=10_000,
        description="Motif, obligatoire quand la ligne n'est pas retenue en entier.",
    )


class RoundsAttendedBody(Body):
    """Correction, d'après les résultats officiels, du dernier tour auquel le candidat a été
    présent."""

    rounds_attended: StrictInt = Field(ge=0, le=2, description="Dernier tour de présence : 1 ou 2.")
    reason: CleanText = Field(
        min_length=1, max_length=10_000, description="Motif de la correction."
    )


class LateWindowBody(Body):
    """Ouverture d'un délai de dépôt tardif (échéance passée en attente de l'administration)."""

    deposit_deadline: dt.datetime = Field(
        description="Nouvelle date limite de dépôt, dans le futur, avec son fuseau horaire "
        "(ex. 2026-09-30T18:00:00+02:00)."
    )
    reason: CleanText = Field(min_length=1, max_length=10_000, description="Motif du délai tardif.")


class ClosingBody(Body):
    """Clôture d'un dossier dont l'échéance est passée en attente de l'administration."""

    reason: CleanText = Field(min_length=1, max_length=10_000, description="Motif de la clôture.")


class PaymentBody(Body):
    """Paiement enregistré par la préfecture."""

    amount_cents: StrictInt = Field(
        description="Montant payé, en centimes : celui arrêté par la Commission."
    )
    paid_on: dt.date = Field(description="Date du paiement.")
    reference: CleanLine = Field(min_length=1, max_length=200, description="Référence du paiement.")


class WithdrawBody(Body):
    """Retrait du dossier par le candidat."""

    reason: CleanText | None = Field(
        default=None, max_length=2_000, description="Motif, facultatif."
    )


class OperatorReasonBody(Body):
    """Une correction d'exploitation : son motif."""

    reason: CleanText = Field(
        min_length=1, max_length=10_000, description="Motif (jamais de donnée personnelle)."
    )


class FirstRoundCorrectionBody(OperatorReasonBody):
    """Correction des dates de l'élection pour ce dossier."""

    first_round: dt.date = Field(description="Date du premier tour.")
    second_round: dt.date | None = Field(default=None, description="Date du second tour.")


class DeadlineCorrectionBody(OperatorReasonBody):
    """Nouvelle date limite de dépôt."""

    deposit_deadline: dt.datetime = Field(
        description="Date et heure limites, avec leur fuseau (ex. 2026-05-22T18:00:00+02:00)."
    )


class MessageCreate(Body):
    """Un message sur le dossier."""

    body: CleanText = Field(min_length=1, max_length=10_000, description="Texte du message.")


# --- Cases: what is read ------------------------------------------------------------------------


class ElectionOfCase(Public):
    """L'élection du dossier."""

    election_id: str = Field(description="Identifiant de l'élection.")
    label: str = Field(description="Intitulé.")
    first_round: dt.date = Field(description="Premier tour.")
    second_round: dt.date | None = Field(description="Second tour.")


class ContactPublic(Public):
    """Le candidat."""

    name: str = Field(description="Nom du candidat.")
    email: str = Field(description="Adresse du candidat.")


class EvaluationRequestPublic(Public):
    """Une demande d'évaluation de la menace adressée au préfet."""

    number: int = Field(description="Numéro de la demande (1, puis réexamens).")
    requested_at: dt.datetime = Field(description="Date de la demande.")
    reevaluation: bool = Field(
        default=False, description="Demande de réexamen d'une menace déjà avérée."
    )
    document_refs: list[str] = Field(
        default_factory=list, description="Pièces jointes (absentes de la vue de la CNCCFP)."
    )
    new_facts: str | None = Field(
        default=None, description="Faits nouveaux (absents de la vue de la CNCCFP)."
    )


class EvaluationPublic(Public):
    """Une décision d'évaluation du préfet."""

    number: int = Field(description="Numéro de la décision.")
    recognised: bool = Field(description="Menace avérée.")
    level: ThreatLevel | None = Field(default=None, description="Niveau (1 ou 2).")
    decided_on: dt.date = Field(description="Date de la décision.")
    decision_document: str | None = Field(default=None, description="La décision.")
    recorded_at: dt.datetime = Field(description="Enregistrée le.")
    recorded_by: str | None = Field(default=None, description="Enregistrée par.")
    reevaluation: bool = Field(
        default=False, description="Réévaluation ou correction d'une menace déjà avérée."
    )
    reason: str | None = Field(default=None, description="Motif de la réévaluation.")
    ceiling_cents: int | None = Field(
        default=None, description="Plafond du niveau, en centimes, fixé à cette décision."
    )
    candidacy_declared_on: dt.date | None = Field(
        default=None, description="Date de déclaration de candidature vérifiée par la préfecture."
    )


class ThirdPartyPublic(Public):
    """Le tiers mandaté du dossier."""

    id: str = Field(description="Compte du tiers mandaté.")
    name: str = Field(description="Nom.")
    email: str | None = Field(description="Adresse.")
    mandate_document: str = Field(description="Le mandat.")
    mandated_at: dt.datetime = Field(description="Désigné le.")


class LineCertificationPublic(Public):
    """Ce que le candidat a certifié pour la ligne."""

    not_public_service: bool = Field(description="Pas assurée par un service public.")
    not_in_campaign_account: bool = Field(description="Hors compte de campagne (L. 52-12).")
    not_state_protection: bool = Field(description="Ne double pas une protection de l'État.")


class ExpenseLinePublic(Public):
    """Une ligne de dépense de la demande."""

    line_id: str = Field(description="Identifiant de la ligne.")
    category: ExpenseCategory = Field(description="Catégorie.")
    company_name: str = Field(description="Entreprise.")
    siren: str = Field(description="SIREN.")
    cnaps_authorisation: str = Field(description="Autorisation CNAPS.")
    invoice_reference: str = Field(description="Facture.")
    service_start: dt.date = Field(description="Début de la prestation.")
    service_end: dt.date = Field(description="Fin de la prestation.")
    amount_cents: int = Field(description="Montant en centimes.")
    document_refs: list[str] = Field(description="Pièces.")
    added_at: dt.datetime = Field(description="Ajoutée le.")
    certification: LineCertificationPublic


class LineVerdictPublic(Public):
    """La décision de la CNCCFP sur une ligne de dépense."""

    line_id: str = Field(description="La ligne.")
    accepted_cents: int = Field(description="Montant retenu, en centimes.")
    reason: str | None = Field(description="Motif, si la ligne n'est pas retenue en entier.")
    recorded_at: dt.datetime = Field(description="Décidé le.")


class DuplicateInvoicePublic(BaseModel):
    """Une facture de ce dossier (même SIREN, même numéro) présentée dans d'autres dossiers."""

    line_id: str = Field(description="La ligne de ce dossier.")
    other_case_ids: list[str] = Field(description="Les autres dossiers qui présentent la facture.")


class LateWindowPublic(Public):
    """Un délai de dépôt tardif ouvert par la CNCCFP."""

    opened_at: dt.datetime = Field(description="Ouvert le.")
    previous_deadline: dt.datetime = Field(description="Date limite précédente.")
    deposit_deadline: dt.datetime = Field(description="Nouvelle date limite de dépôt.")
    reason: str | None = Field(default=None, description="Motif.")


class NotificationPublic(Public):
    """Un courriel demandé par le dossier, et ce qu'il est devenu (vue d'exploitation)."""

    template: str = Field(description="Modèle du courriel.")
    recipient: str = Field(description="Destinataire : candidat, préfecture, CNCCFP ou tiers.")
    status: str = Field(description="pending, sent ou failed.")
    requested_at: dt.datetime = Field(description="Demandé le.")
    done_at: dt.datetime | None = Field(description="Envoyé (ou abandonné) le.")
    error_code: str | None = Field(description="Code de l'échec, s'il a échoué.")


class RoundPublic(Public):
    """Un tour de la procédure contradictoire."""

    number: int = Field(description="Numéro du tour de la procédure contradictoire.")
    sent_at: dt.datetime = Field(description="Observations adressées le.")
    observations: str = Field(description="Observations.")
    contested_line_ids: list[str] = Field(description="Lignes contestées.")
    answer_due: dt.datetime = Field(description="Réponse attendue avant.")
    answered_at: dt.datetime | None = Field(description="Répondu le.")
    answer: str | None = Field(description="Réponse.")
    answer_document_refs: list[str] = Field(description="Pièces de la réponse.")
    expired_unanswered: bool = Field(description="Le délai a expiré sans réponse.")


class DecisionPublic(Public):
    """La décision de la CNCCFP."""

    amount_cents: int | None = Field(default=None, description="Montant arrêté, en centimes.")
    claimed_cents: int | None = Field(default=None, description="Montant demandé.")
    ceiling_cents: int | None = Field(default=None, description="Plafond du niveau de menace.")
    outcome: DecisionOutcome = Field(description="approved, amended ou rejected.")
    reasons: str | None = Field(default=None, description="Motifs.")
    decided_at: dt.datetime = Field(description="Décidé le.")


class PaymentPublic(Public):
    """Le paiement enregistré par la préfecture."""

    amount_cents: int = Field(description="Montant payé.")
    paid_on: dt.date = Field(description="Date du paiement.")
    reference: str = Field(description="Référence.")
    recorded_at: dt.datetime = Field(description="Enregistré le.")


class LineCheckPublic(BaseModel):
    """Ce que les registres (ou un rapporteur) disent de l'entreprise d'une ligne."""

    line_id: str = Field(description="La ligne vérifiée.")
    cnaps: RegistryOutcome | None = Field(description="Réponse du registre CNAPS.")
    sirene: RegistryOutcome | None = Field(description="Réponse du répertoire SIRENE.")
    checked_at: dt.datetime | None = Field(description="Vérifiée le.")
    manual_valid: bool | None = Field(description="Avis du rapporteur, s'il a vérifié lui-même.")
    manual_note: str | None = Field(description="Note du rapporteur.")
    needs_manual_verification: bool = Field(
        description="Les registres n'ont pas répondu : à vérifier manuellement."
    )


class SealPublic(Public):
    """Le dossier scellé au dépôt."""

    manifest_sha256: str = Field(description="Empreinte SHA-256 du manifeste du dossier scellé.")
    receipt_document_id: str = Field(description="Le récépissé de dépôt (PDF).")


class StageChangePublic(Public):
    """Un changement d'étape du dossier."""

    at: dt.datetime = Field(description="Horodatage.")
    action: Action = Field(description="Action.")
    role: Role = Field(description="Rôle de l'auteur.")
    from_stage: Stage = Field(description="Étape quittée.")
    to_stage: Stage = Field(description="Étape atteinte.")


class ActionPublic(BaseModel):
    """Une action possible maintenant pour la personne connectée."""

    action: Action = Field(description="Nom de l'action.")
    label: str = Field(description="Ce qu'elle fait, en français.")


class CasePublic(BaseModel):
    """Un dossier, tel que le voit la personne connectée.

    Chacun n'en voit que ce que sa mission demande (article L. 52-18-4, minimisation des
    données) : une partie qui lui est cachée est vide (liste vide ou null). Le candidat et son
    tiers mandaté voient tout le dossier ; la préfecture, l'évaluation et le paiement (ni les
    lignes de dépense, ni la procédure contradictoire, ni le scellé) ; la CNCCFP, le dossier à
    partir de la reconnaissance de la menace, sans la plainte ni les pièces de la demande
    d'évaluation, et les factures présentées dans d'autres dossiers ; l'exploitation, les
    étapes, dates, échéances et courriels, sans donnée personnelle ni texte.
    """

    case_id: str = Field(description="Identifiant du dossier.")
    election: ElectionOfCase
    candidate_id: str = Field(description="Identifiant du candidat.")
    candidate: ContactPublic | None = Field(
        default=None, description="Le candidat (absent de la vue d'exploitation)."
    )
    departement: str = Field(description="Département de la circonscription.")
    stage: Stage = Field(description="Étape du dossier.")
    stage_label: str = Field(default="", description="L'étape, en français.")
    opened_at: dt.datetime = Field(description="Ouvert le.")
    candidacy_declared_on: dt.date | None = Field(
        default=None, description="Date de déclaration de candidature."
    )
    deposit_deadline: dt.datetime = Field(description="Date limite de dépôt de la demande.")
    evaluation_requests: list[EvaluationRequestPublic] = Field(
        default_factory=list, description="Demandes d'évaluation de la menace."
    )
    evaluations: list[EvaluationPublic] = Field(
        default_factory=list, description="Décisions d'évaluation du préfet."
    )
    ceiling_cents: int | None = Field(
        default=None,
        description="Plafond en vigueur, en centimes : celui du dernier niveau de menace avéré.",
    )
    third_party: ThirdPartyPublic | None = Field(default=None, description="Le tiers mandaté.")
    space_opened_at: dt.datetime | None = Field(
        default=None, description="Espace de dépôt ouvert le."
    )
    expense_lines: list[ExpenseLinePublic] = Field(
        default_factory=list, description="Lignes de dépense."
    )
    line_count: int = Field(default=0, description="Nombre de lignes de dépense.")
    claimed_cents: int | None = Field(default=None, description="Total demandé, en centimes.")
    rounds_attended: int | None = Field(
        default=None,
        description="Dernier tour auquel le candidat a été présent (1 ou 2), indiqué au dépôt.",
    )
    rounds_corrections: list[str] = Field(
        default_factory=list, description="Motifs des corrections des tours par la CNCCFP."
    )
    submitted_at: dt.datetime | None = Field(default=None, description="Demande déposée le.")
    decision_due: dt.datetime | None = Field(
        default=None, description="Date à laquelle la décision de la CNCCFP est due (six mois)."
    )
    seal: SealPublic | None = Field(default=None, description="Le dossier scellé.")
    line_checks: list[LineCheckPublic] = Field(
        default_factory=list, description="Vérifications des entreprises."
    )
    line_verdicts: list[LineVerdictPublic] = Field(
        default_factory=list, description="Décisions de la CNCCFP ligne par ligne."
    )
    duplicate_invoices: list[DuplicateInvoicePublic] = Field(
        default_factory=list,
        description="Factures présentées aussi dans d'autres dossiers (vue de la CNCCFP).",
    )
    rounds: list[RoundPublic] = Field(
        default_factory=list, description="Tours de la procédure contradictoire."
    )
    decision: DecisionPublic | None = Field(default=None, description="La décision.")
    prefecture_contacted_at: dt.datetime | None = Field(
        default=None, description="Préfecture contactée le."
    )
    payment: PaymentPublic | None = Field(default=None, description="Le paiement.")
    awaited_stage: Stage | None = Field(
        default=None,
        description="Étape où le dossier attendait l'administration quand l'échéance est passée.",
    )
    late_windows: list[LateWindowPublic] = Field(
        default_factory=list, description="Délais de dépôt tardifs ouverts par la CNCCFP."
    )
    closing_reason: str | None = Field(
        default=None, description="Motif de la clôture par la CNCCFP."
    )
    notifications: list[NotificationPublic] = Field(
        default_factory=list, description="Courriels du dossier (vue d'exploitation)."
    )
    history: list[StageChangePublic] = Field(
        default_factory=list, description="Changements d'étape."
    )
    closed_at: dt.datetime | None = Field(default=None, description="Clos le.")
    available_actions: list[ActionPublic] = Field(
        default_factory=list, description="Ce que la personne connectée peut faire maintenant."
    )


class CaseSummaryPublic(BaseModel):
    """Un dossier dans une liste (sans donnée personnelle)."""

    case_id: str = Field(description="Identifiant du dossier.")
    election_id: str | None = Field(description="Élection.")
    departement: str | None = Field(description="Département.")
    stage: Stage | None = Field(description="Étape.")
    deposit_deadline: dt.datetime | None = Field(description="Date limite de dépôt.")
    next_deadline: dt.datetime | None = Field(description="Prochaine échéance du dossier.")
    opened_at: dt.datetime | None = Field(description="Ouvert le.")
    closed: bool = Field(description="Le dossier est clos.")


class DocumentPublic(Public):
    """Une pièce déposée."""

    document_id: str = Field(description="Identifiant de la pièce.")
    kind: str = Field(description="Nature de la pièce.")
    filename: str = Field(description="Nom du fichier (affichage).")
    size: int = Field(description="Taille en octets.")
    sha256: str = Field(description="Empreinte SHA-256.")
    content_type: str = Field(description="Type (PDF, JPEG ou PNG).")
    uploaded_at: dt.datetime = Field(description="Déposée le.")
    uploader_role: str = Field(
        default="unknown",
        description="Rôle de qui l'a déposée : candidate, third_party, prefecture, system "
        "(produite par Sécu'Pol) ou unknown (pièce ancienne dont l'auteur n'est plus connu).",
    )


class MessagePublic(Public):
    """Un message sur le dossier."""

    message_id: str = Field(description="Identifiant.")
    author_role: str = Field(description="Rôle de l'auteur.")
    body: str = Field(description="Texte.")
    created_at: dt.datetime = Field(description="Envoyé le.")


# --- Exports and statistics (issue 13) -----------------------------------------------------------


class CountPublic(BaseModel):
    """Un nombre de dossiers."""

    key: str = Field(description="Étape ou département.")
    label: str = Field(description="Libellé.")
    count: int = Field(description="Nombre de dossiers.")


class StatisticsPublic(BaseModel):
    """Les chiffres des dossiers que la personne connectée peut voir, filtres appliqués."""

    total: int = Field(description="Nombre de dossiers.")
    by_stage: list[CountPublic] = Field(description="Dossiers par étape.")
    by_departement: list[CountPublic] = Field(description="Dossiers par département.")
    claimed_cents: int = Field(
        description="Montant demandé, en centimes (dossiers dont la demande est visible)."
    )
    decided_cents: int = Field(description="Montant arrêté, en centimes.")
    paid_cents: int = Field(description="Montant payé, en centimes.")
    decisions_due_this_month: int = Field(
        description="Dossiers non décidés dont la décision est due ce mois-ci (heure de Paris)."
    )
    overdue: int = Field(description="Dossiers ouverts dont l'échéance est dépassée.")
