"""Steps of a case over HTTP, shared by the API tests (each asserts its own status)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from domain.documents import DocumentKind
from domain.expenses import ALL_CERTIFIED
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack

PDF = "application/pdf"


def new_email(prefix: str = "cand") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}@example.test"


async def upload(
    http: httpx.AsyncClient,
    case_id: str,
    kind: DocumentKind = DocumentKind.INVOICE,
    filename: str = "piece.pdf",
    content: bytes | None = None,
) -> str:
    data = content or sample_pdf(f"{kind.label} (document fictif) {uuid.uuid4().hex}")
    response = await http.post(
        f"/cases/{case_id}/documents",
        params={"kind": kind.value, "filename": filename},
        content=data,
        headers={"Content-Type": PDF},
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["document_id"]
    return document_id


async def account_id(http: httpx.AsyncClient) -> str:
    response = await http.get("/auth/me")
    assert response.status_code == 200, response.text
    value: str = response.json()["account_id"]
    return value


def case_id_of(stack: ApiStack, candidate_id: str) -> str:
    return f"case-{stack.election_id}-{candidate_id}"


CERTIFIED = ALL_CERTIFIED.model_dump()
"""The three certifications a candidate gives for each expense line (rule 8)."""


def declared_on(stack: ApiStack) -> dt.date:
    """The candidacy declaration date the flow's cases carry."""
    return stack.first_round - dt.timedelta(days=120)


async def evaluation_proofs(http: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    """Upload the complaint report and the candidacy proof; the opening body's fields."""
    complaint = await upload(http, case_id, DocumentKind.COMPLAINT_REPORT, "plainte.pdf")
    proof = await upload(http, case_id, DocumentKind.CANDIDACY_PROOF, "declaration.pdf")
    return {"complaint_document_refs": [complaint], "candidacy_proof_ref": proof}


async def open_case(stack: ApiStack, token: str, *, departement: str = "60") -> dict[str, Any]:
    """Open a case with its complaint and candidacy proof uploaded first; returns the case as
    the API shows it."""
    async with stack.http(token) as http:
        case_id = case_id_of(stack, await account_id(http))
        response = await http.post(
            "/cases",
            json={
                "election_id": stack.election_id,
                "departement": departement,
                "candidacy_declared_on": declared_on(stack).isoformat(),
                **await evaluation_proofs(http, case_id),
            },
        )
        assert response.status_code == 201, response.text
        case: dict[str, Any] = response.json()
        return case


def expense_line(
    stack: ApiStack, document_id: str, invoice: str = "F-001", amount_cents: int = 840_000
) -> dict[str, Any]:
    end = stack.first_round
    return {
        "category": "premises_security",
        "company_name": "Gardiennage Picard SARL (fictif)",
        "siren": "732829320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": invoice,
        "service_start": (end - dt.timedelta(days=30)).isoformat(),
        "service_end": end.isoformat(),
        "amount_cents": amount_cents,
        "document_refs": [document_id],
        "certification": CERTIFIED,
    }


async def act(
    http: httpx.AsyncClient, method: str, path: str, body: Any = None, expected: int = 200
) -> dict[str, Any]:
    response = await http.request(method, path, json=body)
    assert response.status_code == expected, response.text
    result: dict[str, Any] = response.json()
    return result


async def record_evaluation(
    stack: ApiStack, case_id: str, *, recognised: bool = True, level: int | None = 1
) -> dict[str, Any]:
    """The prefecture of the 60 uploads its decision and records it."""
    async with stack.http(stack.staff["pref60"]) as http:
        decision = await upload(http, case_id, DocumentKind.EVALUATION_DECISION, "decision.pdf")
        return await act(
            http,
            "POST",
            f"/cases/{case_id}/evaluation",
            {
                "recognised": recognised,
                "level": level if recognised else None,
                "decided_on": dt.date.today().isoformat(),
                "decision_document": decision,
                "candidacy_declared_on": declared_on(stack).isoformat(),
            },
        )


async def open_space(stack: ApiStack, token: str, case_id: str) -> dict[str, Any]:
    """The candidate asks for the deposit space; the CNCCFP opens it."""
    async with stack.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/space-request")
    async with stack.http(stack.staff["cnccfp"]) as http:
        return await act(http, "POST", f"/cases/{case_id}/space")


async def submitted_case(
    stack: ApiStack, lines: list[tuple[str, int]], *, token: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """A candidate's case, recognised at level 1, with ``lines`` (invoice, amount) deposited for
    the first round. Returns the candidate's token, the case id and the case as submitted."""
    token = token or await stack.sign_in(new_email())
    case_id = (await open_case(stack, token))["case_id"]
    await record_evaluation(stack, case_id)
    await open_space(stack, token, case_id)
    async with stack.http(token) as http:
        for invoice, amount in lines:
            document = await upload(http, case_id, DocumentKind.INVOICE, f"{invoice}.pdf")
            await act(
                http,
                "POST",
                f"/cases/{case_id}/expense-lines",
                expense_line(stack, document, invoice, amount),
            )
        case = await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})
    return token, case_id, case


async def decide(stack: ApiStack, case_id: str, amount_cents: int) -> dict[str, Any]:
    """The CNCCFP decides ``amount_cents`` on a submitted case (the amount claimed or less)."""
    async with stack.http(stack.staff["cnccfp"]) as http:
        return await act(http, "POST", f"/cases/{case_id}/decision", {"amount_cents": amount_cents})


async def pay(
    stack: ApiStack, token: str, case_id: str, amount_cents: int, reference: str = "VIR-1"
) -> dict[str, Any]:
    """A decided case: the candidate contacts the prefecture of the 60, which pays."""
    async with stack.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/prefecture-contact")
    async with stack.http(stack.staff["pref60"]) as http:
        return await act(
            http,
            "POST",
            f"/cases/{case_id}/payment",
            {
                "amount_cents": amount_cents,
                "paid_on": dt.date.today().isoformat(),
                "reference": reference,
            },
        )
