"""Input hygiene (issue 12, item 6): the attacker's inputs of the issue, refused with a stable
code and a French message; document kinds limited by role, and the uploader's role shown."""

from __future__ import annotations

from typing import Any

import pytest

from domain.documents import DocumentKind
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import (
    PDF,
    account_id,
    case_id_of,
    expense_line,
    new_email,
    open_case,
    record_evaluation,
    upload,
)


def refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"] and "Traceback" not in body["detail"]
    if field is not None:
        assert body["field"] == field, body


@pytest.mark.parametrize(
    "address", ["a@[127.0.0.1]", "a@[IPv6:::1]", "a@127.0.0.1", "Jean <a@example.fr>"]
)
async def test_ip_literal_and_malformed_addresses_are_refused(api: ApiStack, address: str) -> None:
    before = len(api.mail.store.for_recipient(address))
    async with api.http() as http:
        for path, body in (
            ("/auth/accounts", {"email": address, "name": "Camille Martin"}),
            ("/auth/sign-in-links", {"email": address}),
        ):
            refused(await http.post(path, json=body), 422, "invalid_email", "email")
    async with api.http(api.staff["admin"]) as http:
        response = await http.post(
            "/admin/accounts",
            json={"email": address, "display_name": "Agent", "role": "cnccfp"},
        )
        refused(response, 422, "invalid_email", "email")
    assert len(api.mail.store.for_recipient(address)) == before


async def test_an_address_is_normalised_before_it_is_used(api: ApiStack) -> None:
    email = new_email()
    async with api.http() as http:
        response = await http.post(
            "/auth/accounts", json={"email": f"  {email.upper()} ", "name": "Camille Martin"}
        )
    assert response.status_code == 202, response.text
    token = await api.sign_in(email, create=False)
    async with api.http(token) as http:
        assert (await http.get("/auth/me")).json()["email"] == email


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Jean\x00Dupont", "text_control_character"),
        ("Jean\nhttps://phishing.example", "text_control_character"),
        ("\u202eeliF", "text_bidi_control"),
        ("Jean\u2066Dupont\u2069", "text_bidi_control"),
        ("\u200b\u200c\u200d", "text_invisible"),
        ("\ufeff", "text_invisible"),
    ],
)
async def test_names_with_control_bidi_or_only_invisible_characters_are_refused(
    api: ApiStack, name: str, code: str
) -> None:
    async with api.http() as http:
        response = await http.post("/auth/accounts", json={"email": new_email(), "name": name})
    refused(response, 422, code, "name")
    async with api.http(api.staff["admin"]) as http:
        response = await http.post(
            "/admin/accounts",
            json={"email": new_email("agent"), "display_name": name, "role": "cnccfp"},
        )
    refused(response, 422, code, "display_name")


async def test_a_name_is_stored_in_nfc(api: ApiStack) -> None:
    token = await api.sign_in(new_email(), name="Ame\u0301lie Lefe\u0300vre")
    async with api.http(token) as http:
        assert (await http.get("/auth/me")).json()["display_name"] == "Amélie Lefèvre"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("amount_cents", True, "amount_not_integer"),
        ("amount_cents", "100", "amount_not_integer"),
        ("amount_cents", 100.0, "amount_not_integer"),
        ("company_name", "Sûreté\u202eSARL", "text_bidi_control"),
        ("company_name", "\u200b", "text_invisible"),
        ("invoice_reference", "F-001\x00", "text_control_character"),
    ],
)
async def test_expense_line_fields_are_strict(
    api: ApiStack, field: str, value: object, code: str
) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        body = {**expense_line(api, "doc-1"), field: value}
        response = await http.post(f"/cases/{case_id}/expense-lines", json=body)
    refused(response, 422, code, field)


async def test_booleans_and_other_integers_are_strict(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        line = expense_line(api, "doc-1")
        line["certification"] = {**line["certification"], "not_public_service": "true"}
        response = await http.post(f"/cases/{case_id}/expense-lines", json=line)
        refused(response, 422, "invalid_input", "certification.not_public_service")
        response = await http.post(f"/cases/{case_id}/submission", json={"rounds_attended": "1"})
        refused(response, 422, "amount_not_integer", "rounds_attended")
    async with api.http(api.staff["pref60"]) as http:
        response = await http.post(
            f"/cases/{case_id}/payment",
            json={"amount_cents": True, "paid_on": "2026-01-01", "reference": "V-1"},
        )
        refused(response, 422, "amount_not_integer", "amount_cents")
    async with api.http(api.staff["cnccfp"]) as http:
        response = await http.post(f"/cases/{case_id}/decision", json={"amount_cents": "100"})
        refused(response, 422, "amount_not_integer", "amount_cents")


async def test_messages_keep_line_breaks_but_refuse_controls(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        response = await http.post(
            f"/cases/{case_id}/messages", json={"body": "Bonjour\x1b[2J\nCordialement"}
        )
        refused(response, 422, "text_control_character", "body")
        response = await http.post(f"/cases/{case_id}/messages", json={"body": "\u2060"})
        refused(response, 422, "text_invisible", "body")


async def test_a_file_name_with_a_bidi_override_is_refused(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": "invoice", "filename": "facture\u202efdp.exe"},
            content=sample_pdf("facture"),
            headers={"Content-Type": PDF},
        )
    refused(response, 422, "text_bidi_control", "filename")


async def test_a_candidate_cannot_upload_an_evaluation_decision(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": DocumentKind.EVALUATION_DECISION.value, "filename": "decision.pdf"},
            content=sample_pdf("fausse décision"),
            headers={"Content-Type": PDF},
        )
        refused(response, 403, "document_kind_not_allowed", "kind")
        listed = (await http.get(f"/cases/{case_id}/documents")).json()
    assert listed == []


async def test_a_prefecture_cannot_upload_an_invoice(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case_id = (await open_case(api, token))["case_id"]
    async with api.http(api.staff["pref60"]) as http:
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": DocumentKind.INVOICE.value, "filename": "facture.pdf"},
            content=sample_pdf("facture"),
            headers={"Content-Type": PDF},
        )
    refused(response, 403, "document_kind_not_allowed", "kind")


async def test_each_document_shows_its_uploader_role(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case_id = (await open_case(api, token))["case_id"]
    await record_evaluation(api, case_id)
    async with api.http(token) as http:
        invoice = await upload(http, case_id, DocumentKind.INVOICE, "facture.pdf")
    for who in ("pref60", "cnccfp"):
        async with api.http(api.staff[who]) as http:
            response = await http.get(f"/cases/{case_id}/documents")
        assert response.status_code == 200, response.text
        roles = {(d["kind"], d["uploader_role"]) for d in response.json()}
        assert ("evaluation_decision", "prefecture") in roles, who
        if who == "cnccfp":
            assert ("invoice", "candidate") in roles
    async with api.http(token) as http:
        listed = (await http.get(f"/cases/{case_id}/documents")).json()
    by_id = {d["document_id"]: d for d in listed}
    assert by_id[invoice]["uploader_role"] == "candidate"
