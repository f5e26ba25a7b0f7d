"""The deposit receipt (récépissé de dépôt): a PDF listing every document with its fingerprint.

Rendered with reportlab in invariant mode (no creation timestamp, fixed document id), so the same
sealed dossier always gives the same bytes: a retried activity stores one receipt, not two.

The tables' cells are plain strings broken into lines here, not ``Paragraph`` flowables: a
paragraph parses markup and measures every word again at each of the table's layout passes, and
the cells were most of the receipt's cost (``bench/RESULTS.md``, "The deposit receipt"). The
prose around the tables stays in paragraphs.
"""

from __future__ import annotations

import io

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.calendar import french_date, paris_time
from domain.contracts import SealDossierInput, SealedDocument
from domain.documents import DocumentKind
from domain.money import format_eur

# A cell's font: name, size and leading, those of the paragraph styles the cells used to have.
Font = tuple[str, int, int]
_TEXT: Font = ("Helvetica", 8, 10)
_BOLD: Font = ("Helvetica-Bold", 8, 10)
_MONO: Font = ("Courier", 7, 9)
_PADDING = 6  # reportlab's default left and right padding of a table cell


def _fitted(text: str, font: Font, width: float) -> str:
    """``text`` broken into lines no wider than ``width`` points: at spaces, and inside a word too
    long for a line of its own (a file name without spaces, a fingerprint).

    Only an ordinary space breaks a line. A narrow no-break space, as French amounts and sizes
    group their digits ("8\u202f400,00 €"), becomes a no-break space: the standard PDF fonts have
    no glyph for the narrow one.
    """
    name, size, _ = font
    lines: list[str] = []
    for paragraph in text.replace("\u202f", "\u00a0").splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            joined = f"{line} {word}" if line else word
            if line and stringWidth(joined, name, size) > width:
                lines.append(line)
                line = word
            else:
                line = joined
        lines.append(line)
    return "\n".join(
        piece
        for line in lines
        for piece in (
            [line] if stringWidth(line, name, size) <= width else _cut(line, name, size, width)
        )
    )


def _cut(line: str, name: str, size: int, width: float) -> list[str]:
    """A line too wide for ``width`` cut between characters, as many as fit on each piece."""
    pieces: list[str] = []
    piece, used = "", 0.0
    for char in line:
        advance = stringWidth(char, name, size)
        if piece and used + advance > width:
            pieces.append(piece)
            piece, used = "", 0.0
        piece += char
        used += advance
    return [*pieces, piece]


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
    label_width, value_width = 45 * mm, 125 * mm
    table = Table(
        [
            [
                _fitted(k, _BOLD, label_width - 2 * _PADDING),
                _fitted(v, _TEXT, value_width - 2 * _PADDING),
            ]
            for k, v in facts
        ],
        colWidths=[label_width, value_width],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 0), (0, -1), *_BOLD),
                ("FONT", (1, 0), (1, -1), *_TEXT),
            ]
        )
    )
    story += [table, Spacer(1, 6 * mm), Paragraph("Pièces déposées", styles["Heading2"])]
    widths = [44 * mm, 36 * mm, 22 * mm, 72 * mm]
    fonts = [_TEXT, _TEXT, _TEXT, _MONO]
    rows = [["Pièce", "Nature", "Taille", "Empreinte SHA-256"]]
    for document in documents:
        cells = [
            document.filename,
            _kind_label(document.kind),
            f"{document.size:,} o".replace(",", "\u202f"),
            document.sha256,
        ]
        rows.append(
            [
                _fitted(cell, font, width - 2 * _PADDING)
                for cell, font, width in zip(cells, fonts, widths, strict=True)
            ]
        )
    listing = Table(rows, colWidths=widths, repeatRows=1)
    listing.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("FONT", (0, 0), (-1, -1), *_TEXT),
                ("FONT", (3, 1), (3, -1), *_MONO),
                ("FONT", (0, 0), (-1, 0), *_BOLD),
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
