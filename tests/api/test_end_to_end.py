"""One case through every stage over HTTP only, each person signing in as they would."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.documents import DocumentKind
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import (
    CERTIFIED,
    act,
    case_id_of,
    new_email,
    open_case,
    open_space,
    record_evaluation,
    upload,
)
from tests.helpers import assert_eventually, templates_of


async def listed(stack: ApiStack, token: str, case_id: str, **filters: str) -> dict[str, Any]:
    """Wait until the case shows in the caller's list (visibility lags a little)."""

    async def find() -> dict[str, Any]:
        async with stack.http(token) as http:
            response = await http.get("/cases", params=filters)
        assert response.status_code == 200, response.text
        found = [case for case in response.json() if case["case_id"] == case_id]
        assert found, f"{case_id} not listed with {filters}"
        return found[0]

    return await assert_eventually(find)


async def test_a_case_from_sign_in_to_payment(api: ApiStack) -> None:
    candidate_email = new_email("camille")
    candidate = await api.sign_in(candidate_email, name="Camille Martin")
    pref, cnccfp = api.staff["pref60"], api.staff["cnccfp"]

    async with api.http(candidate) as http:
        me = (await http.get("/auth/me")).json()
        assert me["role"] == "candidate"
        case_id = case_id_of(api, me["account_id"])
        elections = (await http.get("/elections")).json()
        assert api.election_id in [election["election_id"] for election in elections]

        # 1. Evaluation asked of the prefect, with the complaint uploaded first.
        complaint = await upload(http, case_id, DocumentKind.COMPLAINT_REPORT, "plainte.pdf")
        proof = await upload(http, case_id, DocumentKind.CANDIDACY_PROOF, "declaration.pdf")
        declared = (api.first_round - dt.timedelta(days=90)).isoformat()
        body = {
            "election_id": api.election_id,
            "departement": "60",
            "candidacy_declared_on": declared,
            "complaint_document_refs": [complaint],
            "candidacy_proof_ref": proof,
        }
        # Without the proof of candidacy, the request is refused (rule 6).
        response = await http.post("/cases", json={**body, "candidacy_proof_ref": None})
        assert response.status_code == 422
        assert response.json()["code"] == "evaluation_proofs_required"
        # A complaint report that is not one (another kind of document) is no proof either.
        response = await http.post("/cases", json={**body, "complaint_document_refs": [proof]})
        assert response.json()["code"] == "evaluation_proofs_required"
        # A declaration after the first round is refused.
        response = await http.post(
            "/cases",
            json={
                **body,
                "candidacy_declared_on": (api.first_round + dt.timedelta(days=1)).isoformat(),
            },
        )
        assert response.status_code == 422
        assert response.json()["code"] == "candidacy_date_invalid"
        case = await act(http, "POST", "/cases", body, expected=201)
        assert case["stage"] == "evaluation_requested"
        assert case["candidate"]["email"] == candidate_email
        # The same request again (a retried click) neither fails nor duplicates the case.
        again = await act(http, "POST", "/cases", body, expected=201)
        assert again["case_id"] == case_id

    # 2. The prefecture of the 60 finds it (not the 75's) and records a recognised threat.
    summary = await listed(api, pref, case_id)
    assert summary["stage"] == "evaluation_requested" and summary["departement"] == "60"
    await listed(api, candidate, case_id)
    async with api.http(api.staff["pref75"]) as http:
        others = (await http.get("/cases")).json()
        assert case_id not in [item["case_id"] for item in others]
    async with api.http(pref) as http:
        decision = await upload(http, case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/evaluation",
            {
                "recognised": True,
                "level": 1,
                "decided_on": dt.date.today().isoformat(),
                "decision_document": decision,
                "candidacy_declared_on": declared,
            },
        )
        assert case["stage"] == "threat_recognised"
        assert case["ceiling_cents"] == 1_500_000

    # 3. The candidate mandates a third party, who signs in from their own email.
    third_email = new_email("tiers")
    async with api.http(candidate) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/third-party",
            {"email": third_email, "name": "Dominique Bernard", "mandate_document": mandate},
        )
        assert case["third_party"]["name"] == "Dominique Bernard"
    third = await api.sign_in(third_email, create=False)
    await listed(api, third, case_id)
    async with api.http(third) as http:
        assert (await http.get(f"/cases/{case_id}")).status_code == 200
        case = await act(http, "POST", f"/cases/{case_id}/space-request")
        assert case["stage"] == "space_requested"

    # 4. The CNCCFP lists the cases waiting for a space, and opens this one.
    await listed(api, cnccfp, case_id, stage="space_requested", election_id=api.election_id)
    async with api.http(cnccfp) as http:
        case = await act(http, "POST", f"/cases/{case_id}/space")
        assert case["stage"] == "space_open"

    # 5. Expense lines, by the third party and the candidate; one removed again.
    end = api.first_round
    line = {
        "category": "premises_security",
        "company_name": "Gardiennage Picard SARL (fictif)",
        "siren": "732 829 320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": "F-2026-031",
        "service_start": (end - dt.timedelta(days=40)).isoformat(),
        "service_end": end.isoformat(),
        "amount_cents": 840_000,
        "certification": CERTIFIED,
    }
    async with api.http(third) as http:
        invoice = await upload(http, case_id, DocumentKind.INVOICE, "facture-031.pdf")
        case = await act(
            http, "POST", f"/cases/{case_id}/expense-lines", {**line, "document_refs": [invoice]}
        )
    async with api.http(candidate) as http:
        other = await upload(http, case_id, DocumentKind.INVOICE, "facture-032.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/expense-lines",
            {**line, "invoice_reference": "F-2026-032", "document_refs": [other]},
        )
        assert len(case["expense_lines"]) == 2
        removed = case["expense_lines"][1]["line_id"]
        case = await act(http, "DELETE", f"/cases/{case_id}/expense-lines/{removed}")
        assert [item["invoice_reference"] for item in case["expense_lines"]] == ["F-2026-031"]
        assert case["claimed_cents"] == 840_000

        # An uncertified line is refused, by the API as by the workflow (rule 8).
        response = await http.post(
            f"/cases/{case_id}/expense-lines",
            json={
                **line,
                "invoice_reference": "F-2026-033",
                "document_refs": [other],
                "certification": {**CERTIFIED, "not_state_protection": False},
            },
        )
        assert response.status_code == 422 and response.json()["code"] == "line_not_certified"

        # 6. Deposit, stating the last round attended: sealed, and the receipt is emailed.
        response = await http.post(f"/cases/{case_id}/submission")
        assert response.status_code == 422
        assert response.json()["code"] == "rounds_attended_required"
        response = await http.post(f"/cases/{case_id}/submission", json={})
        assert response.json()["code"] == "rounds_attended_required"
        assert response.json()["field"] == "rounds_attended"
        case = await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})
        assert case["stage"] == "submitted"
        assert case["rounds_attended"] == 1 and case["decision_due"]

        async def sealed() -> dict[str, Any]:
            current = (await http.get(f"/cases/{case_id}")).json()
            assert current["seal"] is not None
            return current

        case = await assert_eventually(sealed)
        documents = (await http.get(f"/cases/{case_id}/documents")).json()
        receipt = case["seal"]["receipt_document_id"]
        assert receipt in [document["document_id"] for document in documents]
        download = await http.get(f"/cases/{case_id}/documents/{receipt}")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/pdf"
        assert download.content.startswith(b"%PDF")

    # 7. Contradictory procedure: observations, an answer; a message each way.
    line_id = case["expense_lines"][0]["line_id"]
    async with api.http(cnccfp) as http:
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/observations",
            {
                "observations": "Merci de joindre la preuve du paiement.",
                "contested_line_ids": [line_id],
            },
        )
        assert case["stage"] == "observations_pending"
        message = await act(
            http,
            "POST",
            f"/cases/{case_id}/messages",
            {"body": "La facture est-elle acquittée ?"},
            expected=201,
        )
        assert message["author_role"] == "cnccfp"
    async with api.http(candidate) as http:
        proof_of_payment = await upload(http, case_id, DocumentKind.PAYMENT_PROOF, "virement.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/answers",
            {"answer": "Voici le justificatif du virement.", "document_refs": [proof_of_payment]},
        )
        assert case["stage"] == "under_review"
        await act(http, "POST", f"/cases/{case_id}/messages", {"body": "Oui."}, expected=201)
        messages = (await http.get(f"/cases/{case_id}/messages")).json()
        assert [item["body"] for item in messages] == ["La facture est-elle acquittée ?", "Oui."]

    # 8. The CNCCFP checks the company itself and decides the amount.
    async with api.http(cnccfp) as http:
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/manual-verifications",
            {
                "line_id": line_id,
                "valid": True,
                "note": "Autorisation vérifiée sur le site du CNAPS.",
            },
        )
        case = await act(http, "POST", f"/cases/{case_id}/decision", {"amount_cents": 840_000})
        assert case["stage"] == "decided"
        assert case["decision"]["outcome"] == "approved"

    # 9. The candidate contacts the prefecture, which pays.
    async with api.http(candidate) as http:
        case = await act(http, "POST", f"/cases/{case_id}/prefecture-contact")
        assert case["stage"] == "payment_pending"
    async with api.http(pref) as http:
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/payment",
            {
                "amount_cents": 840_000,
                "paid_on": dt.date.today().isoformat(),
                "reference": "VIR-2026-000123",
            },
        )
        assert case["stage"] == "paid"
        assert case["available_actions"] == []

    # What the candidate received, in order of the procedure.
    async def mailed() -> list[str]:
        templates = templates_of(api.mail.store.for_recipient(candidate_email))
        assert "payment_recorded" in templates
        return templates

    templates = await assert_eventually(mailed)
    for expected in (
        "sign_in_link",
        "evaluation_recorded",
        "space_opened",
        "deposit_acknowledged",
        "observations_received",
        "new_message",
        "decision",
        "payment_recorded",
    ):
        assert expected in templates

    # Every action is in the audit log, with its outcome.
    async with api.http(api.staff["admin"]) as http:
        entries = (await http.get("/admin/audit", params={"case_id": case_id})).json()
    actions = {entry["action"] for entry in entries}
    assert {"open_case", "record_evaluation", "submit", "decide", "record_payment"} <= actions
    assert all(entry["outcome"] == "ok" for entry in entries)


async def test_a_pdf_uploaded_is_the_pdf_downloaded(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    async with api.http(token) as http:
        me = (await http.get("/auth/me")).json()
        case_id = case_id_of(api, me["account_id"])
        content = sample_pdf("aller-retour")
        document_id = await upload(http, case_id, DocumentKind.QUOTE, "devis.pdf", content)
        response = await http.get(f"/cases/{case_id}/documents/{document_id}")
    assert response.status_code == 200
    assert response.content == content
    assert "devis.pdf" in response.headers["content-disposition"]


async def test_the_link_in_the_email_opens_a_session_from_its_page(api: ApiStack) -> None:
    email = new_email()
    before = len(api.mail.store.for_recipient(email))
    async with api.http() as http:
        await http.post("/auth/accounts", json={"email": email, "name": "Camille Martin"})
        await api.link_token(email, before)
        body = api.mail.store.for_recipient(email)[-1].get_body(("plain",))
        assert body is not None
        link = next(
            word for word in str(body.get_content()).split() if "/auth/sign-in?token=" in word
        )
        assert link.startswith(api.settings.public_url)
        page = await http.get(link)
        assert page.status_code == 200
        token = link.rsplit("token=", 1)[1]
        assert f'value="{token}"' in page.text
        signed_in = await http.post("/auth/sign-in", data={"token": token})
        assert signed_in.status_code == 201
        session = signed_in.text.split("<pre>")[1].split("</pre>")[0]
    async with api.http(session) as http:
        me = await http.get("/auth/me")
    assert me.status_code == 200 and me.json()["email"] == email


async def test_a_threat_not_recognised_is_examined_again_and_ceilings_hold(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case_id = (await open_case(api, token))["case_id"]
    case = await record_evaluation(api, case_id, recognised=False)
    assert case["stage"] == "threat_not_recognised"
    async with api.http(api.staff["pref60"]) as http:
        # A level without a recognised threat is refused with the domain's code.
        response = await http.post(
            f"/cases/{case_id}/evaluation",
            json={
                "recognised": False,
                "level": 2,
                "decided_on": dt.date.today().isoformat(),
                "decision_document": case["evaluations"][0]["decision_document"],
                "candidacy_declared_on": case["candidacy_declared_on"],
            },
        )
        assert response.status_code == 422 and response.json()["code"] == "invalid_threat_level"
    async with api.http(token) as http:
        response = await http.post(f"/cases/{case_id}/space-request")
        assert response.status_code == 409 and response.json()["code"] == "wrong_stage"
        new_facts = await upload(http, case_id, DocumentKind.COMPLAINT_REPORT, "plainte-2.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/evaluation-requests",
            {"complaint_document_refs": [new_facts], "new_facts": "Nouvelles menaces."},
        )
        assert case["stage"] == "evaluation_requested"
        assert len(case["evaluation_requests"]) == 2
    await record_evaluation(api, case_id, recognised=True, level=1)
    await open_space(api, token, case_id)
    async with api.http(token) as http:
        invoice = await upload(http, case_id, DocumentKind.INVOICE, "facture.pdf")
        line = {
            "category": "close_protection",
            "company_name": "Protection Rapprochée Lutèce SAS (fictif)",
            "siren": "552100554",
            "cnaps_authorisation": "AUT-075-2124-07-01-20250906336",
            "invoice_reference": "PR-1",
            "service_start": (api.first_round - dt.timedelta(days=20)).isoformat(),
            "service_end": api.first_round.isoformat(),
            "amount_cents": 2_000_000,
            "document_refs": [invoice],
            "certification": CERTIFIED,
        }
        await act(http, "POST", f"/cases/{case_id}/expense-lines", line)
        await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})
    async with api.http(api.staff["cnccfp"]) as http:
        # Level 1: never above 15,000 €, whatever was claimed; less than that must give reasons.
        response = await http.post(f"/cases/{case_id}/decision", json={"amount_cents": 2_000_000})
        assert response.status_code == 422
        assert response.json()["code"] == "amount_above_ceiling"
        # Less than the ceiling, without a contradictory procedure: refused (rule 1).
        response = await http.post(
            f"/cases/{case_id}/decision", json={"amount_cents": 1_000_000, "reasons": "Réduit."}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "contradictory_procedure_required"
        case = await act(http, "POST", f"/cases/{case_id}/decision", {"amount_cents": 1_500_000})
        assert case["decision"]["outcome"] == "approved"
        assert case["decision"]["ceiling_cents"] == 1_500_000
