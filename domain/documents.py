"""Supporting documents of a case: their kinds, what is known of a stored one, the accepted types.

Documents never travel through Temporal: the workflow holds their ids, storage holds the bytes
(encrypted), the database holds this metadata.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.errors import DomainError, ErrorCode
from domain.stages import Role


class DocumentKind(StrEnum):
    """What a document is for (DOMAIN.md: the deposit, the evaluation, the mandate)."""

    COMPLAINT_REPORT = "complaint_report"
    """Procès-verbal de plainte, joined to the request for evaluation."""
    CANDIDACY_PROOF = "candidacy_proof"
    """Proof of the public declaration of candidacy."""
    EVALUATION_DECISION = "evaluation_decision"
    """The prefect's décision d'évaluation."""
    MANDATE = "mandate"
    """The mandate of a tiers mandaté."""
    EXPENSE_STATEMENT = "expense_statement"
    """État détaillé des dépenses de sécurité."""
    INVOICE = "invoice"
    QUOTE = "quote"
    PAYMENT_PROOF = "payment_proof"
    CNAPS_AUTHORISATION = "cnaps_authorisation"
    """A security company's authorisation to operate (autorisation d'exercice)."""
    BANK_DETAILS = "bank_details"
    """RIB, for the payment."""
    OBSERVATION_ANSWER = "observation_answer"
    OTHER = "other"
    # Produced by secupol itself.
    DOSSIER_MANIFEST = "dossier_manifest"
    DEPOSIT_RECEIPT = "deposit_receipt"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS: dict[DocumentKind, str] = {
    DocumentKind.COMPLAINT_REPORT: "Procès-verbal de plainte",
    DocumentKind.CANDIDACY_PROOF: "Justificatif de déclaration de candidature",
    DocumentKind.EVALUATION_DECISION: "Décision d'évaluation du préfet",
    DocumentKind.MANDATE: "Mandat du tiers",
    DocumentKind.EXPENSE_STATEMENT: "État détaillé des dépenses de sécurité",
    DocumentKind.INVOICE: "Facture",
    DocumentKind.QUOTE: "Devis",
    DocumentKind.PAYMENT_PROOF: "Justificatif de paiement",
    DocumentKind.CNAPS_AUTHORISATION: "Autorisation d'exercice CNAPS",
    DocumentKind.BANK_DETAILS: "Relevé d'identité bancaire",
    DocumentKind.OBSERVATION_ANSWER: "Pièce jointe à une réponse",
    DocumentKind.OTHER: "Autre pièce",
    DocumentKind.DOSSIER_MANIFEST: "Manifeste du dossier scellé",
    DocumentKind.DEPOSIT_RECEIPT: "Récépissé de dépôt",
}

GENERATED_KINDS = frozenset({DocumentKind.DOSSIER_MANIFEST, DocumentKind.DEPOSIT_RECEIPT})
"""Kinds that secupol writes itself and nobody uploads."""


_CANDIDATE_KINDS = frozenset(DocumentKind) - GENERATED_KINDS - {DocumentKind.EVALUATION_DECISION}

UPLOADABLE_KINDS: dict[Role, frozenset[DocumentKind]] = {
    Role.CANDIDATE: _CANDIDATE_KINDS,
    Role.THIRD_PARTY: _CANDIDATE_KINDS,
    Role.PREFECTURE: frozenset(
        {DocumentKind.EVALUATION_DECISION, DocumentKind.PAYMENT_PROOF, DocumentKind.OTHER}
    ),
}
"""What each role may upload. A candidate provides the evidence of the claim and never the
prefect's decision (which the CNCCFP would otherwise see like the real one); a prefecture
provides its decision, the proof of the State's payment, and other pieces. Other roles upload
nothing; secupol writes the ``GENERATED_KINDS`` itself."""

UNKNOWN_UPLOADER = "unknown"
"""``uploader_role`` of a document whose uploader's role could not be established (documents
stored before the role was recorded, whose account is gone)."""
SYSTEM_UPLOADER = "system"
"""``uploader_role`` of what secupol writes itself (the seal's manifest and receipt)."""


def check_uploadable(role: Role, kind: DocumentKind) -> None:
    """Refuse a document kind that ``role`` may not provide.

    Raises:
        DomainError: ``document_kind_not_allowed``.
    """
    if kind not in UPLOADABLE_KINDS.get(role, frozenset()):
        raise DomainError(ErrorCode.DOCUMENT_KIND_NOT_ALLOWED, field="kind")


class ContentType(StrEnum):
    """Types accepted for uploads, recognised from the content's magic bytes."""

    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"


class DocumentInfo(BaseModel):
    """What is known of a stored document (a row of the documents table)."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    case_id: str
    kind: DocumentKind
    filename: str
    """Sanitised name, for display only: never a path."""
    size: int
    sha256: str
    content_type: str
    uploaded_by: str
    uploaded_at: dt.datetime
    uploader_role: str = UNKNOWN_UPLOADER
    """The role of who uploaded it (a ``Role`` value, ``system`` or ``unknown``), shown with the
    document so that nobody mistakes a candidate's upload for a prefect's decision."""
