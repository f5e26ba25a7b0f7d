"""Shared fixtures of the domain tests: valid inputs, to vary one field at a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest


@pytest.fixture
def line_data() -> dict[str, Any]:
    """A valid expense line, as the API would receive it."""
    return {
        "category": "close_protection",
        "company_name": "Garde Sûre SARL",
        "siren": "732829320",
        "cnaps_authorisation": "AUT-075-2124-07-01-20250906336",
        "invoice_reference": "F-2026-001",
        "service_start": dt.date(2026, 1, 10),
        "service_end": dt.date(2026, 1, 20),
        "amount_cents": 125_000,
        "document_refs": ["doc-invoice-1", "doc-payment-1"],
        "certification": {
            "not_public_service": True,
            "not_in_campaign_account": True,
            "not_state_protection": True,
        },
    }
