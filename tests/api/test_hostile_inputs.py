"""What a careless or hostile client sends, and what it gets: a clear refusal, nothing changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select, update

from core.accounts import Accounts, hash_token
from core.db import audit_log, sign_in_links
from domain.documents import DocumentKind
from domain.stages import Role
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import account_id, act, case_id_of, new_email, open_case, upload


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["detail"] and "Traceback" not in body["detail"]
    return body


async def documents_of(stack: ApiStack, token: str, case_id: str) -> list[str]:
    async with stack.http(token) as http:
        response = await http.get(f"/cases/{case_id}/documents")
    assert response.status_code == 200
    return [document["document_id"] for document in response.json()]


async def test_uploads_too_large_or_of_the_wrong_type_are_refused_and_leave_nothing(
    api: ApiStack,
) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        url = f"/cases/{case_id}/documents"
        params = {"kind": "invoice", "filename": "facture.pdf"}
        big = b"%PDF-1.7\n" + b"0" * (api.settings.max_document_bytes + 1)

        # Declared too large: refused before a byte is read.
        response = await http.post(url, params=params, content=big)
        problem(response, 413, "document_too_large")

        # Streamed without a length (chunked): refused as soon as the limit is passed.
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 64 * 1024):
                yield big[start : start + 64 * 1024]

        response = await http.post(url, params=params, content=chunks())
        problem(response, 413, "document_too_large")

        # Not a PDF, JPEG or PNG, whatever its name and declared type say.
        response = await http.post(
            url,
            params={"kind": "invoice", "filename": "facture.pdf"},
            content=b"MZ\x90\x00 this is a Windows program",
            headers={"Content-Type": "application/pdf"},
        )
        problem(response, 415, "document_type_not_allowed")
        response = await http.post(
            url, params=params, files={"file": ("facture.pdf", sample_pdf("x"), "application/pdf")}
        )
        body = problem(response, 415, "document_type_not_allowed")
        assert "--data-binary" in body["detail"]
        problem(await http.post(url, params=params, content=b""), 422, "document_empty")
        # A kind secupol writes itself cannot be uploaded (nobody's role may provide it).
        response = await http.post(
            url, params={"kind": "deposit_receipt", "filename": "r.pdf"}, content=sample_pdf("r")
        )
        problem(response, 403, "document_kind_not_allowed")
        # Unknown kind.
        response = await http.post(
            url, params={"kind": "virus", "filename": "r.pdf"}, content=sample_pdf("r")
        )
        problem(response, 422, "invalid_input")
        # The same file twice.
        content = sample_pdf("une seule fois")
        await upload(http, case_id, DocumentKind.INVOICE, "a.pdf", content)
        problem(await http.post(url, params=params, content=content), 409, "document_duplicate")
    assert len(await documents_of(api, token, case_id)) == 1


async def test_a_file_name_cannot_reach_the_disk_or_the_headers(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        case_id = case_id_of(api, await account_id(http))
        # A line break in a name is refused (a control character, issue 12)...
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": "invoice", "filename": "../../etc/passwd\r\nX-Evil: 1.pdf"},
            content=sample_pdf("nom hostile"),
        )
        problem(response, 422, "text_control_character")
        # ...and a path is reduced to its last component.
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": "invoice", "filename": "../../etc/passwd X-Evil: 1.pdf"},
            content=sample_pdf("nom hostile"),
        )
        assert response.status_code == 201, response.text
        document = response.json()
        assert "/" not in document["filename"] and "\n" not in document["filename"]
        download = await http.get(f"/cases/{case_id}/documents/{document['document_id']}")
        assert download.status_code == 200
        assert "x-evil" not in download.headers


async def test_malformed_json_and_unknown_fields_are_422_with_codes(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case = await open_case(api, token)
    case_id = case["case_id"]
    async with api.http(token) as http:
        response = await http.post(
            f"/cases/{case_id}/withdrawal",
            content=b'{"reason": "oops"',
            headers={"Content-Type": "application/json"},
        )
        problem(response, 422, "invalid_json")
        response = await http.post(f"/cases/{case_id}/withdrawal", json=["a", "list"])
        problem(response, 422, "invalid_input")
        response = await http.post(f"/cases/{case_id}/withdrawal", json={"raison": "faute"})
        body = problem(response, 422, "invalid_input")
        assert body["field"] == "raison"
        # A float amount, a malformed SIREN: the domain's own codes, every problem listed.
        line = {
            "category": "premises_security",
            "company_name": "X",
            "siren": "123",
            "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
            "invoice_reference": "F",
            "service_start": "2026-01-01",
            "service_end": "2026-01-02",
            "amount_cents": 12.5,
            "document_refs": ["d"],
        }
        response = await http.post(f"/cases/{case_id}/expense-lines", json=line)
        body = problem(response, 422, "amount_not_integer")
        assert {item["code"] for item in body["errors"]} >= {"amount_not_integer"}
        # A body far too large for any action.
        response = await http.post(
            f"/cases/{case_id}/withdrawal",
            content=json.dumps({"reason": "x" * (2 * 1024 * 1024)}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        # Identifiers are checked before they reach a visibility query.
        response = await http.get("/cases", params={"election_id": "x' OR 1=1"})
        problem(response, 422, "invalid_identifier")
        # Nothing of the above changed the case.
        current = (await http.get(f"/cases/{case_id}")).json()
        assert current["stage"] == "evaluation_requested"
        problem(await http.get("/nulle-part"), 404, "not_found")
        problem(await http.put("/cases"), 405, "method_not_allowed")


async def test_sign_in_links_are_single_use_and_expire(api: ApiStack) -> None:
    email = new_email()
    before = len(api.mail.store.for_recipient(email))
    async with api.http() as http:
        response = await http.post("/auth/accounts", json={"email": email, "name": "A. B."})
        assert response.status_code == 202
        token = await api.link_token(email, before)
        # The page the link opens does not spend it (mail scanners open links).
        page = await http.get("/auth/sign-in", params={"token": token})
        assert page.status_code == 200 and "Me connecter" in page.text
        first = await http.post("/auth/sessions", json={"token": token})
        assert first.status_code == 201
        problem(
            await http.post("/auth/sessions", json={"token": token}), 401, "sign_in_link_invalid"
        )
        problem(
            await http.post("/auth/sessions", json={"token": "inventé"}),
            401,
            "sign_in_link_invalid",
        )

        # An expired link: its row is moved into the past, as the clock would.
        before = len(api.mail.store.for_recipient(email))
        await http.post("/auth/sign-in-links", json={"email": email})
        expired = await api.link_token(email, before)
        async with api.engine.begin() as connection:
            await connection.execute(
                update(sign_in_links)
                .where(sign_in_links.c.token_hash == hash_token(expired))
                .values(expires_at=sign_in_links.c.created_at)
            )
        problem(
            await http.post("/auth/sessions", json={"token": expired}), 401, "sign_in_link_invalid"
        )


async def test_unknown_addresses_get_the_same_answer_and_no_email(api: ApiStack) -> None:
    stranger = new_email("inconnu")
    async with api.http() as http:
        response = await http.post("/auth/sign-in-links", json={"email": stranger})
        known = await http.post("/auth/sign-in-links", json={"email": "x@y.z"})
    assert response.status_code == known.status_code == 202
    assert response.json() == known.json()
    assert api.mail.store.for_recipient(stranger) == []


async def test_a_session_ends_on_sign_out(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        assert (await http.delete("/auth/sessions/current")).status_code == 204
        problem(await http.get("/auth/me"), 401, "session_invalid")


async def test_another_candidate_cannot_see_or_touch_a_case(api: ApiStack) -> None:
    owner = await api.sign_in(new_email())
    intruder = await api.sign_in(new_email())
    case = await open_case(api, owner)
    case_id = case["case_id"]
    owner_documents = await documents_of(api, owner, case_id)
    async with api.http(intruder) as http:
        problem(await http.get(f"/cases/{case_id}"), 404, "case_not_found")
        problem(await http.get(f"/cases/{case_id}/documents"), 404, "case_not_found")
        problem(
            await http.get(f"/cases/{case_id}/documents/{owner_documents[0]}"),
            404,
            "case_not_found",
        )
        problem(await http.post(f"/cases/{case_id}/withdrawal", json={}), 404, "case_not_found")
        response = await http.post(
            f"/cases/{case_id}/documents",
            params={"kind": "other", "filename": "x.pdf"},
            content=sample_pdf("intrus"),
        )
        problem(response, 404, "case_not_found")
        listed = (await http.get("/cases")).json()
        assert case_id not in [item["case_id"] for item in listed]
    async with api.http(owner) as http:
        assert (await http.get(f"/cases/{case_id}")).json()["stage"] == "evaluation_requested"
    assert await documents_of(api, owner, case_id) == owner_documents


async def test_a_repeated_request_with_the_same_key_is_applied_once(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case = await open_case(api, token)
    case_id = case["case_id"]
    async with api.http(token) as http:
        headers = {"Idempotency-Key": "retrait-1"}
        first = await http.post(f"/cases/{case_id}/withdrawal", json={}, headers=headers)
        again = await http.post(f"/cases/{case_id}/withdrawal", json={}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert first.json()["history"] == again.json()["history"]
        response = await http.post(
            f"/cases/{case_id}/withdrawal", json={}, headers={"Idempotency-Key": "deux mots"}
        )
        problem(response, 422, "invalid_input")
    async with api.engine.connect() as connection:
        outcomes = (
            await connection.execute(
                select(audit_log.c.outcome).where(
                    audit_log.c.case_id == case_id, audit_log.c.action == "withdraw"
                )
            )
        ).scalars()
        assert sorted(outcomes) == ["ok", "ok"]


async def test_a_refused_change_of_third_party_keeps_the_current_one(api: ApiStack) -> None:
    owner = await api.sign_in(new_email())
    case = await open_case(api, owner)
    case_id = case["case_id"]
    first_email = new_email("tiers")
    async with api.http(owner) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        body = {"email": first_email, "name": "Premier", "mandate_document": mandate}
        await act(http, "POST", f"/cases/{case_id}/third-party", body)
        # A second designation citing a document that is not in the case is refused...
        response = await http.post(
            f"/cases/{case_id}/third-party",
            json={"email": new_email("tiers"), "name": "Second", "mandate_document": "absent"},
        )
        problem(response, 422, "document_not_found")
    # ...and the first third party still acts.
    first = await api.sign_in(first_email, create=False)
    async with api.http(first) as http:
        assert (await http.get(f"/cases/{case_id}")).status_code == 200


async def test_a_refused_mandate_leaves_no_account_behind(api: ApiStack) -> None:
    owner = await api.sign_in(new_email())
    case = await open_case(api, owner)
    case_id = case["case_id"]
    known = new_email("tiers")
    accounts = Accounts(api.engine, api.settings)
    await accounts.create(email=known, display_name="Déjà inscrit", role=Role.THIRD_PARTY)
    async with api.http(owner) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        await act(http, "POST", f"/cases/{case_id}/withdrawal", {})
        # The case is closed: the designation is refused...
        for email in (new_email("tiers"), known):
            response = await http.post(
                f"/cases/{case_id}/third-party",
                json={"email": email, "name": "Tiers", "mandate_document": mandate},
            )
            problem(response, 409, "case_closed")
            # ...the account made for it goes; one that existed before stays, unmandated.
            found = await accounts.find_by_email(email)
            assert (found is not None) == (email == known)
            if found is not None:
                assert not await accounts.holds_mandate(
                    case_id=case_id, account_id=found.account_id
                )
