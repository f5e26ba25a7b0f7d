"""The ``seal_dossier`` activity on real storage (SQLite + encrypted local disk), run in the
real activity runtime."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.documents import DocumentActivities
from activities.documents.receipt import _TEXT, _fitted, render_receipt
from core.db import create_engine, migrate
from core.settings import Environment, Settings
from core.storage import DocumentStorage, build_storage
from domain.contracts import SealDossierInput, SealedDocument
from domain.documents import DocumentKind
from domain.expenses import ExpenseCategory, ExpenseLine
from domain.money import ThreatLevel
from embedded.demo import upload_sample


@pytest.fixture
async def storage(tmp_path: Path) -> DocumentStorage:
    settings = Settings(
        environment=Environment.TEST,
        data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(settings)
    await migrate(engine)
    yield build_storage(settings, engine)  # type: ignore[misc]
    await engine.dispose()


def seal_input(case_id: str, document_ids: list[str]) -> SealDossierInput:
    line = ExpenseLine(
        line_id="l1",
        added_at=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
        category=ExpenseCategory.PREMISES_SECURITY,
        company_name="Gardiennage Picard SARL",
        siren="732829320",
        cnaps_authorisation="AUT-060-2124-07-01-20250906336",
        invoice_reference="F-1",
        service_start=dt.date(2026, 2, 1),
        service_end=dt.date(2026, 3, 15),
        amount_cents=840_000,
        document_refs=document_ids[-1:],
    )
    return SealDossierInput(
        case_id=case_id,
        election_label="Élections municipales 2026",
        candidate_name="Camille Martin",
        departement="60",
        submitted_at=dt.datetime(2026, 5, 22, 15, 59, 30, tzinfo=dt.UTC),
        document_ids=document_ids,
        expense_lines=[line],
        claimed_cents=840_000,
        threat_level=ThreatLevel.ONE,
    )


async def test_seal_is_idempotent_and_the_receipt_lists_every_fingerprint(
    storage: DocumentStorage,
) -> None:
    case_id = f"case-municipales-2026-c{uuid.uuid4().hex[:10]}"
    decision = await upload_sample(storage, case_id, DocumentKind.EVALUATION_DECISION, "d.pdf")
    invoice = await upload_sample(storage, case_id, DocumentKind.INVOICE, "facture-1.pdf")
    activities = DocumentActivities(storage)
    env = ActivityEnvironment()

    first = await env.run(activities.seal_dossier, seal_input(case_id, [decision, invoice]))
    again = await env.run(activities.seal_dossier, seal_input(case_id, [decision, invoice]))
    assert again == first  # a retried activity produces the same receipt, once
    stored = await storage.list_for_case(case_id)
    assert len(stored) == 4  # two uploads, one manifest, one receipt

    manifest = await storage.read_bytes(first.manifest_document_id)
    assert hashlib.sha256(manifest).hexdigest() == first.manifest_sha256
    listed = json.loads(manifest)
    assert [d["document_id"] for d in listed["documents"]] == [decision, invoice]
    assert listed["claimed_cents"] == 840_000

    receipt = await storage.read_bytes(first.receipt_document_id)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(receipt)).pages)
    flat = text.replace("\n", "").replace(" ", "")
    assert "Récépissé de dépôt" in text
    assert case_id in flat
    assert "Camille Martin" in text
    assert "22 mai 2026 à 17 h 59 min 30 s (heure de Paris)" in text
    assert "8 400,00" in text.replace("\u202f", " ").replace("\u00a0", " ")
    for document in first.documents:
        assert document.sha256 in flat
    assert first.manifest_sha256 in flat


async def test_seal_refuses_a_document_of_another_case(storage: DocumentStorage) -> None:
    mine = f"case-municipales-2026-c{uuid.uuid4().hex[:10]}"
    theirs = f"case-municipales-2026-c{uuid.uuid4().hex[:10]}"
    foreign = await upload_sample(storage, theirs, DocumentKind.INVOICE, "facture.pdf")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            DocumentActivities(storage).seal_dossier, seal_input(mine, [foreign])
        )
    assert refused.value.type == "DocumentMissing"
    assert refused.value.non_retryable
    assert await storage.list_for_case(mine) == []


WIDE = "rapport_de_la_societe_de_gardiennage_sans_aucune_espace_<&>_2026.pdf"


def test_the_receipt_wraps_long_cells_and_keeps_every_character() -> None:
    """Cells are plain strings broken here: a file name without spaces is cut to fit its column,
    French digit groups keep a glyph the PDF fonts have, markup characters stay text."""
    documents = [
        SealedDocument(
            document_id=f"d{n}",
            kind=kind.value,
            filename=name,
            sha256=hashlib.sha256(name.encode()).hexdigest(),
            size=size,
        )
        for n, (kind, name, size) in enumerate(
            [
                (DocumentKind.CANDIDACY_PROOF, WIDE, 20_971_520),
                (DocumentKind.INVOICE, "Facture n° 12 de Sécurité & Cie du 3 mars.pdf", 1_234),
            ]
        )
    ]
    seal = seal_input("case-municipales-2026-cwide", [d.document_id for d in documents])
    seal = seal.model_copy(update={"candidate_name": "Anne <b>Dupont</b> & Fils"})
    pdf = render_receipt(seal, documents, "0" * 64)
    assert render_receipt(seal, documents, "0" * 64) == pdf
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    lines = text.replace("\u00a0", " ").splitlines()  # pypdf reads either space
    assert "■" not in text and "\ufffd" not in text  # no character without a glyph
    assert "20 971 520 o" in lines and "1 234 o" in lines  # one line each
    assert "8 400,00 €" in lines
    assert "Anne <b>Dupont</b> & Fils" in lines  # text, not markup
    assert WIDE not in lines and WIDE in "".join(lines)  # cut, and whole once joined
    assert "Justificatif de déclaration" in lines  # the label wraps at a space
    flat = "".join(text.split())
    for document in documents:
        assert document.sha256 in flat
        assert document.sha256 not in lines  # 64 Courier characters are wider than the column


@given(st.text(alphabet=st.sampled_from("aé W-_\u202f0<&"), max_size=120), st.integers(20, 300))
def test_a_fitted_cell_loses_nothing_and_no_line_overflows(text: str, width: int) -> None:
    fitted = _fitted(text, _TEXT, width)
    assert "".join(fitted.split()) == "".join(text.split())
    for line in fitted.split("\n"):
        assert len(line) <= 1 or stringWidth(line, "Helvetica", 8) <= width
