"""Contracts keep reading what histories already hold.

The API refuses control, bidi and invisible-only text (``domain.text``), but cases opened before
those checks may carry such text in their histories. A contract that refused it would fail the
case's workflow task at every replay: the contracts check length only, the HTTP schemas the rest.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.schemas import CandidateAccountCreate, DecisionBody, WithdrawBody
from domain.contracts import CandidateContact, ThirdParty
from domain.errors import problems_from_validation_error

OLD_NAMES = [
    "Camille\u202eniatraM",  # a bidi override
    "\u200b\u200b",  # invisible only
    "Camille\x00Martin",  # a NUL
    "Cami\u0301lle",  # not NFC
]


@pytest.mark.parametrize("name", OLD_NAMES)
def test_a_name_recorded_before_the_checks_still_reads(name: str) -> None:
    contact = CandidateContact.model_validate({"name": name, "email": "Camille@Example.test"})
    assert contact.name == name
    assert contact.email == "Camille@Example.test"
    third_party = ThirdParty.model_validate(
        {
            "id": "t1",
            "name": name,
            "mandate_document": "doc1",
            "mandated_at": "2026-03-01T10:00:00Z",
        }
    )
    assert third_party.name == name


@pytest.mark.parametrize("name", OLD_NAMES[:3])
def test_the_api_refuses_them_at_the_door(name: str) -> None:
    with pytest.raises(ValidationError):
        CandidateAccountCreate.model_validate({"email": "a@example.test", "name": name})


def test_optional_texts_of_the_actions_are_cleaned_at_the_door() -> None:
    with pytest.raises(ValidationError) as refused:
        WithdrawBody.model_validate({"reason": "\u202eraison"})
    assert problems_from_validation_error(refused.value)[0].code == "text_bidi_control"
    decision = DecisionBody.model_validate({"amount_cents": 1, "reasons": "Motif\r\nsuite"})
    assert decision.reasons == "Motif\nsuite"
