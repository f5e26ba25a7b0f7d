"""The deposit receipt (récépissé de dépôt): a PDF listing every document with its fingerprint.

Rendered with reportlab in invariant mode (no creation timestamp, fixed document id), so the same
sealed dossier always gives the same bytes: a retried activity stores one receipt, not two.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.calendar import french_date, paris_time
from domain.contracts import SealDossierInput, SealedDocument
from domain.documents import DocumentKind
from domain.money import format_eur


def _paris_text(input: SealDossierInput) -> str:
    moment = paris_time(input.submitted_at)
    return (
        f"{french_date(moment.date())} à "
        f"{moment.hour} h {moment.minute:02d} min {moment.second:02d} s (heure de Paris)"
    )


def _kind_label(kind: str) -> str:
    try:
        return DocumentKind(kind).label
    except ValueError:
        return kind


def render_receipt(
    input: SealDossierInput, documents: list[SealedDocument], manifest_sha256: str
) -> bytes:
    """The receipt PDF of a sealed dossier.

    Args:
        input: What the case held at submission.
        documents: The sealed documents, in manifest order.
        manifest_sha256: Fingerprint of the manifest, which binds the whole dossier.

    Returns:
        The PDF bytes, identical for identical arguments.
    """
    rl_config.invariant = True  # deterministic output: no timestamps, fixed ids
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    mono = ParagraphStyle("mono", parent=small, fontName="Courier", fontSize=7, leading=9)
    buffer = io.BytesIO()
    page = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="Récépissé de dépôt Sécu'Pol",
        author="Sécu'Pol",
        subject=input.case_id,
        creator="secupol",
    )
    story: list[object] = [
        Paragraph("Récépissé de dépôt", styles["Title"]),
        Paragraph(
            "Demande de remboursement des dépenses de sécurité d'un candidat "
            "(articles L. 52-18 à L. 52-18-4 du code électoral)",
            styles["BodyText"],
        ),
        Spacer(1, 6 * mm),
    ]
    facts = [
        ("Dossier", input.case_id),
        ("Élection", input.election_label),
        ("Candidat", input.candidate_name),
        ("Département", input.departement),
        ("Déposé le", _paris_text(input)),
        ("Lignes de dépense", str(len(input.expense_lines))),
        ("Montant total demandé", format_eur(input.claimed_cents)),
    ]
    table = Table(
        [[Paragraph(f"<b>{escape(k)}</b>", small), Paragraph(escape(v), small)] for k, v in facts],
        colWidths=[45 * mm, 125 * mm],
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [table, Spacer(1, 6 * mm), Paragraph("Pièces déposées", styles["Heading2"])]
    rows = [
        [
            Paragraph("<b>Pièce</b>", small),
            Paragraph("<b>Nature</b>", small),
            Paragraph("<b>Taille</b>", small),
            Paragraph("<b>Empreinte SHA-256</b>", small),
        ]
    ]
    for document in documents:
        rows.append(
            [
                Paragraph(escape(document.filename), small),
                Paragraph(escape(_kind_label(document.kind)), small),
                Paragraph(f"{document.size:,} o".replace(",", "\u202f"), small),
                Paragraph(document.sha256, mono),
            ]
        )
    listing = Table(rows, colWidths=[48 * mm, 36 * mm, 18 * mm, 72 * mm], repeatRows=1)
    listing.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]
        )
    )
    story += [
        listing,
        Spacer(1, 4 * mm),
        Paragraph("Empreinte du manifeste du dossier scellé (SHA-256) :", small),
        Paragraph(manifest_sha256, mono),
        Spacer(1, 6 * mm),
        Paragraph("Suite de la procédure", styles["Heading2"]),
        Paragraph(
            "La Commission nationale des comptes de campagne et des financements politiques "
            "(CNCCFP) examine votre demande. Si elle envisage d'écarter ou de réduire une dépense, "
            "elle vous adresse des observations auxquelles vous pouvez répondre dans le délai "
            "indiqué. Elle arrête ensuite le montant du remboursement ; vous vous rapprochez alors "
            "de la préfecture, qui procède au paiement.",
            small,
        ),
        Spacer(1, 3 * mm),
        Paragraph(
            "Les empreintes ci-dessus permettent de vérifier qu'aucune pièce n'a été modifiée "
            "depuis le dépôt. Document établi automatiquement par la plateforme Sécu'Pol.",
            small,
        ),
    ]
    page.build(story)
    return buffer.getvalue()
