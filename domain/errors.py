"""Stable error codes and their French messages.

Every refusal in secupol carries one of these codes. The code is a stable contract (the API
returns it, tests assert it, clients may branch on it); the message is what a candidate or an
agent reads, in French.

Error tree::

    DomainError                      a rule of the procedure refuses the action
      code: ErrorCode                stable, machine-readable
      message: str                   French, for the person who acted
      field: str | None              the input field at fault, when there is one

Structural problems of an input (a float amount, an unknown category, a malformed SIREN) are
raised by the pydantic contracts as ``PydanticCustomError`` whose *type* is the same stable code,
so that ``problems_from_validation_error`` can report them exactly like a ``DomainError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError


class ErrorCode(StrEnum):
    """Stable codes of every refusal."""

    # Stage machine and actors
    WRONG_STAGE = "wrong_stage"
    CASE_CLOSED = "case_closed"
    FORBIDDEN_ROLE = "forbidden_role"
    NOT_YOUR_CASE = "not_your_case"
    OUT_OF_SCOPE = "out_of_scope"
    # Input shape
    INVALID_INPUT = "invalid_input"
    EMPTY_FIELD = "empty_field"
    INVALID_AMOUNT = "invalid_amount"
    AMOUNT_NOT_INTEGER = "amount_not_integer"
    UNKNOWN_CATEGORY = "unknown_category"
    INVALID_SIREN = "invalid_siren"
    INVALID_SIRET = "invalid_siret"
    INVALID_CNAPS_AUTHORISATION = "invalid_cnaps_authorisation"
    INVALID_DATE_RANGE = "invalid_date_range"
    INVALID_IDENTIFIER = "invalid_identifier"
    INVALID_EMAIL = "invalid_email"
    INVALID_DEPARTEMENT = "invalid_departement"
    INVALID_THREAT_LEVEL = "invalid_threat_level"
    # Rules that need the case
    DATE_OUTSIDE_ELIGIBLE_PERIOD = "date_outside_eligible_period"
    DEPOSIT_DEADLINE_PASSED = "deposit_deadline_passed"
    EMPTY_CLAIM = "empty_claim"
    UNKNOWN_EXPENSE_LINE = "unknown_expense_line"
    DUPLICATE_EXPENSE_LINE = "duplicate_expense_line"
    TOO_MANY_EXPENSE_LINES = "too_many_expense_lines"
    AMOUNT_ABOVE_CLAIM = "amount_above_claim"
    AMOUNT_ABOVE_CEILING = "amount_above_ceiling"
    REASONS_REQUIRED = "reasons_required"
    PAYMENT_AMOUNT_MISMATCH = "payment_amount_mismatch"
    PAYMENT_DATE_INVALID = "payment_date_invalid"
    NO_MANDATED_THIRD_PARTY = "no_mandated_third_party"
    INVALID_CORRECTION = "invalid_correction"
    CONTRADICTORY_PROCEDURE_REQUIRED = "contradictory_procedure_required"
    LINE_NOT_CONTESTED = "line_not_contested"
    LINE_VERDICTS_REQUIRED = "line_verdicts_required"
    AMOUNT_DIFFERS_FROM_VERDICTS = "amount_differs_from_verdicts"
    LINE_NOT_CERTIFIED = "line_not_certified"
    VERDICT_ABOVE_LINE = "verdict_above_line"
    ROUNDS_ATTENDED_REQUIRED = "rounds_attended_required"
    NOT_A_FIRST_ROUND_CANDIDATE = "not_a_first_round_candidate"
    NO_SECOND_ROUND = "no_second_round"
    LINES_OUTSIDE_ATTENDED_ROUNDS = "lines_outside_attended_rounds"
    EVALUATION_PROOFS_REQUIRED = "evaluation_proofs_required"
    CANDIDACY_DATE_INVALID = "candidacy_date_invalid"
    LATE_DEADLINE_INVALID = "late_deadline_invalid"
    ANSWER_DELAY_EXPIRED = "answer_delay_expired"
    # Documents
    DOCUMENT_EMPTY = "document_empty"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_TYPE_NOT_ALLOWED = "document_type_not_allowed"
    DOCUMENT_DUPLICATE = "document_duplicate"
    CASE_STORAGE_FULL = "case_storage_full"
    DOCUMENT_NOT_FOUND = "document_not_found"
    INVALID_FILENAME = "invalid_filename"
    # Registries
    MANUAL_VERIFICATION_REQUIRED = "manual_verification_required"
    # Accounts
    ACCOUNT_EXISTS = "account_exists"
    SIGN_IN_LINK_INVALID = "sign_in_link_invalid"
    SESSION_INVALID = "session_invalid"
    SCOPE_REQUIRED = "scope_required"
    AUTHENTICATION_REQUIRED = "authentication_required"
    RATE_LIMITED = "rate_limited"
    ACCOUNT_NOT_CONFIRMED = "account_not_confirmed"
    # Staff sign-in through OpenID Connect (api/oidc.py)
    OIDC_NOT_CONFIGURED = "oidc_not_configured"
    OIDC_STATE_INVALID = "oidc_state_invalid"
    OIDC_DENIED = "oidc_denied"
    OIDC_TOKEN_INVALID = "oidc_token_invalid"
    OIDC_EMAIL_UNVERIFIED = "oidc_email_unverified"
    OIDC_ACCOUNT_UNKNOWN = "oidc_account_unknown"
    OIDC_PROVIDER_ERROR = "oidc_provider_error"
    # Cases and elections, as the API finds them
    CASE_NOT_FOUND = "case_not_found"
    ELECTION_UNKNOWN = "election_unknown"
    ELECTION_NOT_COVERED = "election_not_covered"
    ELECTION_EXISTS = "election_exists"
    PREFECTURE_UNKNOWN = "prefecture_unknown"
    ACCOUNT_NOT_FOUND = "account_not_found"
    # Retention (the purge of closed cases)
    CASE_NOT_CLOSED = "case_not_closed"
    RETENTION_NOT_DUE = "retention_not_due"
    # HTTP and infrastructure
    INVALID_JSON = "invalid_json"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
    # Input hygiene (issue 12)
    TEXT_CONTROL_CHARACTER = "text_control_character"
    TEXT_BIDI_CONTROL = "text_bidi_control"
    TEXT_INVISIBLE = "text_invisible"
    DOCUMENT_KIND_NOT_ALLOWED = "document_kind_not_allowed"
    # Data at rest (issue 12)
    MESSAGE_UNREADABLE = "message_unreadable"


MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.WRONG_STAGE: "Cette action n'est pas possible à l'étape actuelle du dossier.",
    ErrorCode.CASE_CLOSED: "Ce dossier est clos : aucune action n'est plus possible.",
    ErrorCode.FORBIDDEN_ROLE: "Votre rôle ne permet pas cette action.",
    ErrorCode.NOT_YOUR_CASE: "Ce dossier ne vous est pas rattaché.",
    ErrorCode.OUT_OF_SCOPE: "Ce dossier ne relève pas de votre département.",
    ErrorCode.INVALID_INPUT: "Les informations transmises sont invalides.",
    ErrorCode.EMPTY_FIELD: "Ce champ est obligatoire.",
    ErrorCode.INVALID_AMOUNT: (
        "Le montant doit être un nombre entier de centimes strictement positif."
    ),
    ErrorCode.AMOUNT_NOT_INTEGER: "Le montant doit être exprimé en centimes d'euro, sans décimale.",
    ErrorCode.UNKNOWN_CATEGORY: (
        "Catégorie de dépense inconnue : seules la surveillance ou le gardiennage des lieux de "
        "campagne et la protection rapprochée du candidat sont remboursables."
    ),
    ErrorCode.INVALID_SIREN: "Le numéro SIREN doit comporter 9 chiffres et être valide.",
    ErrorCode.INVALID_SIRET: "Le numéro SIRET doit comporter 14 chiffres et être valide.",
    ErrorCode.INVALID_CNAPS_AUTHORISATION: (
        "Le numéro d'autorisation CNAPS doit avoir la forme AUT-075-2124-07-01-20250906336 "
        "(une carte professionnelle CAR-… n'est pas une autorisation d'entreprise)."
    ),
    ErrorCode.INVALID_DATE_RANGE: "La date de fin ne peut pas précéder la date de début.",
    ErrorCode.INVALID_IDENTIFIER: (
        "Identifiant invalide : lettres minuscules, chiffres et tirets uniquement "
        "(64 caractères au plus)."
    ),
    ErrorCode.INVALID_EMAIL: "L'adresse électronique est invalide.",
    ErrorCode.INVALID_DEPARTEMENT: (
        "Le numéro de département est invalide (exemples : 01, 2A, 75, 974)."
    ),
    ErrorCode.INVALID_THREAT_LEVEL: (
        "Une menace avérée doit avoir un niveau (1 ou 2) ; une menace non avérée n'en a pas."
    ),
    ErrorCode.DATE_OUTSIDE_ELIGIBLE_PERIOD: (
        "La prestation doit se situer dans la période éligible : pas avant le premier jour du "
        "sixième mois précédant l'élection ni avant la déclaration de candidature, et pas après "
        "le dernier tour auquel le candidat a participé."
    ),
    ErrorCode.DEPOSIT_DEADLINE_PASSED: (
        "Le délai de dépôt est expiré (18 heures le dixième vendredi suivant le premier tour)."
    ),
    ErrorCode.EMPTY_CLAIM: "La demande ne comporte aucune ligne de dépense.",
    ErrorCode.UNKNOWN_EXPENSE_LINE: "Cette ligne de dépense n'existe pas dans le dossier.",
    ErrorCode.DUPLICATE_EXPENSE_LINE: (
        "Une ligne de dépense porte déjà cette facture de cette entreprise."
    ),
    ErrorCode.TOO_MANY_EXPENSE_LINES: "Le nombre maximal de lignes de dépense est atteint.",
    ErrorCode.AMOUNT_ABOVE_CLAIM: (
        "Le montant arrêté ne peut pas dépasser le montant éligible demandé."
    ),
    ErrorCode.AMOUNT_ABOVE_CEILING: (
        "Le montant arrêté ne peut pas dépasser le plafond du niveau de menace "
        "(15 000 € au niveau 1, 75 000 € au niveau 2)."
    ),
    ErrorCode.REASONS_REQUIRED: (
        "Une décision qui réduit ou rejette la demande doit être motivée."
    ),
    ErrorCode.PAYMENT_AMOUNT_MISMATCH: (
        "Le montant payé doit être égal au montant arrêté par la Commission."
    ),
    ErrorCode.PAYMENT_DATE_INVALID: (
        "La date de paiement ne peut pas précéder la décision ni être dans le futur."
    ),
    ErrorCode.NO_MANDATED_THIRD_PARTY: "Aucun tiers mandaté n'est désigné sur ce dossier.",
    ErrorCode.INVALID_CORRECTION: "Cette correction est invalide.",
    ErrorCode.CONTRADICTORY_PROCEDURE_REQUIRED: (
        "La Commission ne peut rejeter ou réduire une demande qu'après une procédure "
        "contradictoire (article L. 52-18-3 du code électoral) : adressez d'abord des "
        "observations au candidat, puis attendez sa réponse ou l'expiration du délai de "
        "réponse. Sans cette procédure, seul le montant demandé, dans la limite du plafond, "
        "peut être arrêté."
    ),
    ErrorCode.LINE_NOT_CONTESTED: (
        "Cette ligne n'a fait l'objet d'aucune observation close : elle ne peut être réduite "
        "qu'après une procédure contradictoire qui la vise."
    ),
    ErrorCode.LINE_VERDICTS_REQUIRED: (
        "Pour arrêter un montant inférieur à la demande, statuez d'abord sur chaque ligne de "
        "dépense (acceptée, ou écartée avec son motif)."
    ),
    ErrorCode.AMOUNT_DIFFERS_FROM_VERDICTS: (
        "Le montant arrêté doit être la somme des montants retenus ligne par ligne, dans la "
        "limite du plafond."
    ),
    ErrorCode.LINE_NOT_CERTIFIED: (
        "Pour chaque ligne, certifiez que la prestation n'est pas assurée par un service public, "
        "ne figure pas dans le compte de campagne (article L. 52-12) et ne double pas une "
        "protection déjà assurée par l'État."
    ),
    ErrorCode.VERDICT_ABOVE_LINE: (
        "Le montant retenu ne peut pas dépasser le montant de la ligne."
    ),
    ErrorCode.ROUNDS_ATTENDED_REQUIRED: (
        "Indiquez le dernier tour de scrutin auquel vous avez été candidat (1 ou 2)."
    ),
    ErrorCode.NOT_A_FIRST_ROUND_CANDIDATE: (
        "Seul un candidat présent au premier tour peut obtenir le remboursement de ses frais de "
        "sécurité (article L. 52-18 du code électoral)."
    ),
    ErrorCode.NO_SECOND_ROUND: "Cette élection n'a pas eu de second tour.",
    ErrorCode.LINES_OUTSIDE_ATTENDED_ROUNDS: (
        "Des lignes de dépense portent sur une période postérieure au dernier tour auquel vous "
        "avez participé : corrigez-les ou retirez-les avant de déposer la demande."
    ),
    ErrorCode.EVALUATION_PROOFS_REQUIRED: (
        "La demande d'évaluation doit comporter le procès-verbal de plainte et le justificatif "
        "de la déclaration publique de candidature (article R. 39-12 du code électoral)."
    ),
    ErrorCode.CANDIDACY_DATE_INVALID: (
        "La date de déclaration de candidature est invalide : elle ne peut être ni dans le futur "
        "ni postérieure au premier tour."
    ),
    ErrorCode.LATE_DEADLINE_INVALID: (
        "Le nouveau délai de dépôt doit être dans le futur et porter un fuseau horaire."
    ),
    ErrorCode.ANSWER_DELAY_EXPIRED: "Le délai de réponse à ces observations est expiré.",
    ErrorCode.DOCUMENT_EMPTY: "Le fichier est vide.",
    ErrorCode.DOCUMENT_TOO_LARGE: "Le fichier dépasse la taille maximale autorisée.",
    ErrorCode.DOCUMENT_TYPE_NOT_ALLOWED: (
        "Type de fichier non accepté : seuls les documents PDF et les images JPEG ou PNG le sont."
    ),
    ErrorCode.DOCUMENT_DUPLICATE: "Ce document a déjà été déposé dans ce dossier.",
    ErrorCode.CASE_STORAGE_FULL: (
        "Le volume total des pièces de ce dossier atteindrait la limite autorisée."
    ),
    ErrorCode.DOCUMENT_NOT_FOUND: "Ce document est introuvable dans ce dossier.",
    ErrorCode.INVALID_FILENAME: "Le nom du fichier est invalide.",
    ErrorCode.ACCOUNT_EXISTS: "Un compte existe déjà pour cette adresse électronique.",
    ErrorCode.SIGN_IN_LINK_INVALID: (
        "Ce lien de connexion n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau."
    ),
    ErrorCode.SESSION_INVALID: "Votre session a expiré ou a été fermée : reconnectez-vous.",
    ErrorCode.SCOPE_REQUIRED: (
        "Un agent de préfecture doit être rattaché à au moins un département."
    ),
    ErrorCode.AUTHENTICATION_REQUIRED: (
        "Authentification requise : joignez votre jeton de session (en-tête Authorization: "
        "Bearer …)."
    ),
    ErrorCode.RATE_LIMITED: (
        "Trop de demandes en peu de temps : réessayez dans quelques minutes "
        "(délai indiqué par l'en-tête Retry-After, en secondes)."
    ),
    ErrorCode.ACCOUNT_NOT_CONFIRMED: (
        "Avant d'ouvrir un dossier, connectez-vous une première fois depuis le lien reçu par "
        "courriel et indiquez votre nom (PATCH /auth/me)."
    ),
    ErrorCode.OIDC_NOT_CONFIGURED: (
        "La connexion des agents par fédération d'identité n'est pas configurée sur ce service."
    ),
    ErrorCode.OIDC_STATE_INVALID: (
        "Cette connexion a expiré ou n'a pas été commencée depuis ce navigateur : "
        "recommencez depuis la page de connexion des agents."
    ),
    ErrorCode.OIDC_DENIED: (
        "Le fournisseur d'identité n'a pas confirmé votre identité (connexion annulée ou "
        "refusée) : recommencez."
    ),
    ErrorCode.OIDC_TOKEN_INVALID: (
        "La réponse du fournisseur d'identité n'a pas pu être vérifiée (déjà utilisée, "
        "expirée ou invalide) : recommencez la connexion."
    ),
    ErrorCode.OIDC_EMAIL_UNVERIFIED: (
        "Le fournisseur d'identité ne garantit pas votre adresse électronique : la connexion "
        "n'est pas possible."
    ),
    ErrorCode.OIDC_ACCOUNT_UNKNOWN: (
        "Aucun compte d'agent actif ne correspond à cette identité. Les comptes d'agents sont "
        "créés par un administrateur ; les candidats et les tiers mandatés se connectent par un "
        "lien reçu par courriel."
    ),
    ErrorCode.OIDC_PROVIDER_ERROR: (
        "Le fournisseur d'identité ne répond pas comme prévu : réessayez dans quelques instants."
    ),
    ErrorCode.CASE_NOT_FOUND: "Ce dossier est introuvable.",
    ErrorCode.ELECTION_UNKNOWN: "Cette élection est inconnue de Sécu'Pol.",
    ErrorCode.ELECTION_NOT_COVERED: (
        "Le remboursement des frais de sécurité ne s'applique pas à cette élection."
    ),
    ErrorCode.ELECTION_EXISTS: "Une élection porte déjà cet identifiant.",
    ErrorCode.PREFECTURE_UNKNOWN: (
        "La préfecture de ce département n'est pas encore inscrite sur Sécu'Pol : "
        "adressez-vous directement à elle."
    ),
    ErrorCode.ACCOUNT_NOT_FOUND: "Ce compte est introuvable.",
    ErrorCode.CASE_NOT_CLOSED: (
        "Ce dossier n'est pas clos (ou sa clôture n'est pas encore enregistrée) : ses données "
        "ne peuvent pas être purgées."
    ),
    ErrorCode.RETENTION_NOT_DUE: (
        "Le délai de conservation de ce dossier n'est pas écoulé : rien n'a été purgé."
    ),
    ErrorCode.INVALID_JSON: "Le corps de la requête n'est pas un document JSON valide.",
    ErrorCode.NOT_FOUND: "Cette adresse ne correspond à aucune ressource.",
    ErrorCode.METHOD_NOT_ALLOWED: "Cette méthode n'est pas permise sur cette adresse.",
    ErrorCode.SERVICE_UNAVAILABLE: (
        "Le service est momentanément indisponible : réessayez dans quelques instants."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "Une erreur interne est survenue ; l'équipe d'exploitation en est avertie."
    ),
    ErrorCode.MANUAL_VERIFICATION_REQUIRED: (
        "La vérification de cette entreprise doit être faite manuellement."
    ),
    ErrorCode.TEXT_CONTROL_CHARACTER: (
        "Ce texte contient un caractère de contrôle invisible (ou un retour à la ligne là où il "
        "n'en faut pas) : retapez-le sans copier-coller."
    ),
    ErrorCode.TEXT_BIDI_CONTROL: (
        "Ce texte contient un caractère qui inverse le sens de lecture (contrôle bidirectionnel) "
        ": retapez-le sans copier-coller."
    ),
    ErrorCode.TEXT_INVISIBLE: "Ce texte ne contient que des caractères invisibles.",
    ErrorCode.DOCUMENT_KIND_NOT_ALLOWED: (
        "Votre rôle ne permet pas de déposer une pièce de cette nature (par exemple, seule la "
        "préfecture dépose la décision d'évaluation)."
    ),
    ErrorCode.MESSAGE_UNREADABLE: (
        "Un message de ce dossier ne peut pas être déchiffré pour le moment ; l'équipe "
        "d'exploitation en est avertie. Les autres informations du dossier restent accessibles."
    ),
}


class DomainError(Exception):
    """A rule of the procedure refuses an action.

    Args:
        code: The stable code of the refusal.
        field: The input field at fault, if any.
        message: A more precise French message; defaults to the code's message.
    """

    def __init__(self, code: ErrorCode, *, field: str | None = None, message: str | None = None):
        self.code = code
        self.field = field
        self.message = message or MESSAGES[code]
        super().__init__(f"{code}: {self.message}")


def custom_error(code: ErrorCode, message: str | None = None) -> PydanticCustomError:
    """Build the pydantic error that carries a stable code as its type.

    Args:
        code: The stable code.
        message: A more precise French message; defaults to the code's message.
    """
    # Braces would be read as template placeholders by pydantic.
    text = (message or MESSAGES[code]).replace("{", "(").replace("}", ")")
    return PydanticCustomError(code.value, text)


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused, ready to be shown to a user."""

    code: str
    message: str
    field: str | None = None


# pydantic's built-in error types that we report under one of our codes.
_BUILTIN_ERROR_CODES: dict[str, ErrorCode] = {
    "missing": ErrorCode.EMPTY_FIELD,
    "string_too_short": ErrorCode.EMPTY_FIELD,
    "too_short": ErrorCode.EMPTY_FIELD,
    "int_type": ErrorCode.AMOUNT_NOT_INTEGER,
    "int_from_float": ErrorCode.AMOUNT_NOT_INTEGER,
    "int_parsing": ErrorCode.AMOUNT_NOT_INTEGER,
    "greater_than": ErrorCode.INVALID_AMOUNT,
    "greater_than_equal": ErrorCode.INVALID_AMOUNT,
    "less_than_equal": ErrorCode.INVALID_AMOUNT,
    "enum": ErrorCode.INVALID_INPUT,
    "literal_error": ErrorCode.INVALID_INPUT,
    "json_invalid": ErrorCode.INVALID_JSON,
}


def problems_from_validation_error(error: ValidationError) -> list[Problem]:
    """Translate a pydantic validation error into stable codes and French messages.

    Our own checks already raise errors typed with a stable code; pydantic's built-in ones are
    mapped through a fixed table, and anything else is reported as ``invalid_input``.
    """
    return problems_from_error_items(error.errors(include_url=False))


def problems_from_error_items(
    items: Iterable[Mapping[str, Any]], *, skip_location: int = 0
) -> list[Problem]:
    """``problems_from_validation_error`` on the error items pydantic (or FastAPI) lists.

    Args:
        items: Error dicts with ``type``, ``loc`` and ``msg``.
        skip_location: Leading parts of each location to drop (FastAPI starts them with
            ``body``, ``query``…).
    """
    known = {code.value for code in ErrorCode}
    problems: list[Problem] = []
    for item in items:
        parts = [str(part) for part in tuple(item.get("loc", ()))[skip_location:]]
        kind = str(item.get("type", ""))
        # An unreadable JSON document has no field at fault, only a character offset.
        location = None if kind == "json_invalid" else ".".join(parts) or None
        if kind in known:
            problems.append(
                Problem(kind, str(item.get("msg", MESSAGES[ErrorCode(kind)])), location)
            )
            continue
        code = _BUILTIN_ERROR_CODES.get(kind, ErrorCode.INVALID_INPUT)
        if location and location.endswith("category") and kind == "enum":
            code = ErrorCode.UNKNOWN_CATEGORY
        problems.append(Problem(code.value, MESSAGES[code], location))
    return problems
