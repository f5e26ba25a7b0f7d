"""The ``seal_dossier`` activity: freeze what was deposited, and issue the receipt.

The manifest is canonical JSON (sorted keys, no spaces) listing every document of the dossier
with its SHA-256 and size, and every expense line; its own SHA-256 goes into the case state, so
that any later change to a document or a line is detectable. The manifest and the PDF receipt are
stored like any document (encrypted, content-addressed); both are deterministic, so a retried
activity finds them already stored and returns the same ids.

Errors (``ApplicationError`` by ``type``)::

    DocumentMissing      non-retryable: a referenced document is not in storage for this case
    (anything else)      retryable: storage or database unavailable
"""

from __future__ import annotations

import hashlib
import json

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents.receipt import render_receipt
from core.storage import DocumentStorage
from domain.contracts import (
    SEAL_PERMANENT_ERRORS,
    SealDossierInput,
    SealDossierResult,
    SealedDocument,
)
from domain.documents import DocumentKind
from domain.errors import DomainError, ErrorCode

SEAL_NON_RETRYABLE_ERRORS = SEAL_PERMANENT_ERRORS
SYSTEM_AUTHOR = "secupol"


def manifest_bytes(input: SealDossierInput, documents: list[SealedDocument]) -> bytes:
    """Canonical JSON of the sealed dossier (the same input always gives the same bytes)."""
    manifest = {
        "format": "secupol-dossier-manifest/1",
        "case_id": input.case_id,
        "submitted_at": input.submitted_at.isoformat(),
        "claimed_cents": input.claimed_cents,
        "documents": [document.model_dump(mode="json") for document in documents],
        "expense_lines": [
            line.model_dump(mode="json", exclude={"added_at"}) for line in input.expense_lines
        ],
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class DocumentActivities:
    """Activities on the documents of a case.

    Args:
        storage: Where documents and their metadata live.
    """

    def __init__(self, storage: DocumentStorage):
        self._storage = storage

    @activity.defn(name="seal_dossier")
    async def seal_dossier(self, input: SealDossierInput) -> SealDossierResult:
        """Seal the dossier at submission: manifest, its hash, and the PDF receipt."""
        documents: list[SealedDocument] = []
        for document_id in dict.fromkeys(input.document_ids):  # keep order, drop repeats
            try:
                info = await self._storage.get(document_id)
            except DomainError as error:
                if error.code != ErrorCode.DOCUMENT_NOT_FOUND:
                    raise
                info = None
            if info is None or info.case_id != input.case_id:
                raise ApplicationError(
                    "Une pièce citée par le dossier est introuvable.",
                    {"document_id": document_id},
                    type="DocumentMissing",
                    non_retryable=True,
                )
            documents.append(
                SealedDocument(
                    document_id=info.document_id,
                    kind=info.kind.value,
                    filename=info.filename,
                    sha256=info.sha256,
                    size=info.size,
                )
            )
        manifest = manifest_bytes(input, documents)
        manifest_sha256 = hashlib.sha256(manifest).hexdigest()
        stored_manifest = await self._storage.put_generated(
            case_id=input.case_id,
            kind=DocumentKind.DOSSIER_MANIFEST,
            filename="manifeste-du-dossier.json",
            data=manifest,
            content_type="application/json",
            created_by=SYSTEM_AUTHOR,
        )
        receipt = render_receipt(input, documents, manifest_sha256)
        stored_receipt = await self._storage.put_generated(
            case_id=input.case_id,
            kind=DocumentKind.DEPOSIT_RECEIPT,
            filename="recepisse-de-depot.pdf",
            data=receipt,
            content_type="application/pdf",
            created_by=SYSTEM_AUTHOR,
        )
        activity.logger.info(
            "dossier sealed: %d documents, manifest %s", len(documents), manifest_sha256[:12]
        )
        return SealDossierResult(
            manifest_document_id=stored_manifest.document_id,
            manifest_sha256=manifest_sha256,
            receipt_document_id=stored_receipt.document_id,
            receipt_sha256=stored_receipt.sha256,
            documents=documents,
        )
