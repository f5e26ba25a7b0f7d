"""Steps the page tests share: what a candidate types in the forms, and the first steps of a
case in the browser (an account from the emailed link, a case opened with its two documents)."""

from __future__ import annotations

import datetime as dt

from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import new_email


def line_fields(web: ApiStack, amount: str = "2 400,00", invoice: str = "F-001") -> dict[str, str]:
    """The fields of the expense line form, as a candidate fills them (three certifications)."""
    end = web.first_round
    return {
        "category": "premises_security",
        "company_name": "Gardiennage Picard SARL (fictif)",
        "siren": "732 829 320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": invoice,
        "service_start": (end - dt.timedelta(days=30)).isoformat(),
        "service_end": end.isoformat(),
        "amount": amount,
        "certification.not_public_service": "oui",
        "certification.not_in_campaign_account": "oui",
        "certification.not_state_protection": "oui",
    }


def pdf_upload(field: str, filename: str) -> dict[str, tuple[str, bytes, str]]:
    """A unique PDF for the upload field ``field`` (never a duplicate of another test's)."""
    return {field: (filename, sample_pdf(f"{filename} {new_email()}"), "application/pdf")}
