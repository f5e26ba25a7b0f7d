"""The rules of DOMAIN.md's legal review, over HTTP: no cut without a contradictory procedure
(rule 1), line verdicts (rule 8), invoices claimed twice (rule 8), and who sees what (rule 9)."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from domain.documents import DocumentKind
from tests.api.conftest import ApiStack
from tests.api.flow import (
    act,
    expense_line,
    open_case,
    open_space,
    record_evaluation,
    submitted_case,
    upload,
)

LINE_CENTS = 840_000


async def test_a_cut_needs_a_contradictory_procedure_then_verdicts_that_sum_up(
    api: ApiStack,
) -> None:
    token, case_id, case = await submitted_case(api, [("F-CUT-1", LINE_CENTS)])
    line_id = case["expense_lines"][0]["line_id"]
    cut = 600_000
    async with api.http(api.staff["cnccfp"]) as http:
        # Rule 1: less than the claim, without observations, is refused, and says why.
        response = await http.post(
            f"/cases/{case_id}/decision", json={"amount_cents": cut, "reasons": "Réduction."}
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "contradictory_procedure_required"
        assert "procédure contradictoire" in problem["detail"]
        # Neither can a line be cut before observations that contest it.
        response = await http.post(
            f"/cases/{case_id}/expense-lines/{line_id}/verdict",
            json={"accepted_cents": cut, "reason": "Prestation hors période."},
        )
        assert response.status_code == 409 and response.json()["code"] == "line_not_contested"
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/observations",
            {
                "observations": "Une partie de la prestation est hors période.",
                "contested_line_ids": [line_id],
            },
        )
        assert case["stage"] == "observations_pending"
        # The answer delay ends at the end of a Paris day.
        answer_due = dt.datetime.fromisoformat(case["rounds"][0]["answer_due"])
        assert answer_due.astimezone(ZoneInfo("Europe/Paris")).time() == dt.time(23, 59, 59)
    async with api.http(token) as http:
        case = await act(
            http, "POST", f"/cases/{case_id}/answers", {"answer": "La prestation était due."}
        )
        assert case["stage"] == "under_review"
    async with api.http(api.staff["cnccfp"]) as http:
        # The round is closed; a decision below the claim now needs a verdict on every line.
        response = await http.post(
            f"/cases/{case_id}/decision", json={"amount_cents": cut, "reasons": "Réduction."}
        )
        assert response.status_code == 409 and response.json()["code"] == "line_verdicts_required"
        response = await http.post(
            f"/cases/{case_id}/expense-lines/{line_id}/verdict", json={"accepted_cents": cut}
        )
        assert response.status_code == 422 and response.json()["code"] == "reasons_required"
        response = await http.post(
            f"/cases/{case_id}/expense-lines/{line_id}/verdict",
            json={"accepted_cents": LINE_CENTS + 1, "reason": "Trop."},
        )
        assert response.status_code == 422 and response.json()["code"] == "verdict_above_line"
        case = await act(
            http,
            "POST",
            f"/cases/{case_id}/expense-lines/{line_id}/verdict",
            {"accepted_cents": cut, "reason": "Prestation en partie hors période."},
        )
        assert case["line_verdicts"] == [
            {
                "line_id": line_id,
                "accepted_cents": cut,
                "reason": "Prestation en partie hors période.",
                "recorded_at": case["line_verdicts"][0]["recorded_at"],
            }
        ]
        response = await http.post(
            f"/cases/{case_id}/decision", json={"amount_cents": cut - 1, "reasons": "Réduction."}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "amount_differs_from_verdicts"
        case = await act(
            http, "POST", f"/cases/{case_id}/decision", {"amount_cents": cut, "reasons": "Réduit."}
        )
        assert case["stage"] == "decided"
        assert case["decision"]["amount_cents"] == cut
        assert case["decision"]["outcome"] == "amended"
    # The prefecture sees the decided amount, not the lines, verdicts or observations.
    async with api.http(api.staff["pref60"]) as http:
        seen = await act(http, "GET", f"/cases/{case_id}")
        assert seen["decision"]["amount_cents"] == cut
        assert seen["expense_lines"] == [] and seen["rounds"] == []
        assert seen["line_verdicts"] == [] and seen["line_checks"] == []
        assert seen["seal"] is None and seen["claimed_cents"] is None
        assert seen["decision"]["reasons"] is None
        assert seen["evaluations"][0]["decision_document"]


async def test_the_same_invoice_in_two_cases_is_flagged_to_the_cnccfp_only(
    api: ApiStack,
) -> None:
    invoice = f"DUP-{uuid.uuid4().hex[:8]}"
    first_token, first_case, first = await submitted_case(api, [(invoice, LINE_CENTS)])
    # The other candidate's reference differs only in case and spacing: the same invoice.
    second_token, second_case, second = await submitted_case(
        api, [(f" {invoice.lower()} ", LINE_CENTS), ("F-OTHER-1", 100_000)]
    )
    first_line = first["expense_lines"][0]["line_id"]
    second_line = second["expense_lines"][0]["line_id"]
    async with api.http(api.staff["cnccfp"]) as http:
        seen = await act(http, "GET", f"/cases/{first_case}")
        assert seen["duplicate_invoices"] == [
            {"line_id": first_line, "other_case_ids": [second_case]}
        ]
        seen = await act(http, "GET", f"/cases/{second_case}")
        assert seen["duplicate_invoices"] == [
            {"line_id": second_line, "other_case_ids": [first_case]}
        ]
    for token, case_id in (
        (first_token, first_case),
        (second_token, second_case),
        (api.staff["pref60"], first_case),
    ):
        async with api.http(token) as http:
            seen = await act(http, "GET", f"/cases/{case_id}")
            assert seen["duplicate_invoices"] == []


async def test_a_removed_line_no_longer_claims_its_invoice(api: ApiStack) -> None:
    invoice = f"DUP-{uuid.uuid4().hex[:8]}"
    _, first_case, _ = await submitted_case(api, [(invoice, LINE_CENTS)])
    token = await api.sign_in(f"retire{uuid.uuid4().hex[:8]}@example.test")
    # The second case keeps its line in an open space: the candidate can still remove it.
    second_case = (await open_case(api, token))["case_id"]
    await record_evaluation(api, second_case)
    await open_space(api, token, second_case)
    async with api.http(token) as http:
        document = await upload(http, second_case, DocumentKind.INVOICE, "facture.pdf")
        case = await act(
            http,
            "POST",
            f"/cases/{second_case}/expense-lines",
            expense_line(api, document, invoice),
        )
        line_id = case["expense_lines"][0]["line_id"]
    async with api.http(api.staff["cnccfp"]) as http:
        seen = await act(http, "GET", f"/cases/{first_case}")
        assert seen["duplicate_invoices"][0]["other_case_ids"] == [second_case]
    async with api.http(token) as http:
        await act(http, "DELETE", f"/cases/{second_case}/expense-lines/{line_id}")
    async with api.http(api.staff["cnccfp"]) as http:
        seen = await act(http, "GET", f"/cases/{first_case}")
        assert seen["duplicate_invoices"] == []


async def test_the_cnccfp_never_lists_nor_reads_the_complaint_or_the_candidacy_proof(
    api: ApiStack,
) -> None:
    token, case_id, _ = await submitted_case(api, [("F-DOCS-1", LINE_CENTS)])
    async with api.http(token) as http:
        mine = await act(http, "GET", f"/cases/{case_id}/documents")
    by_kind = {document["kind"]: document["document_id"] for document in mine}
    assert {"complaint_report", "candidacy_proof", "invoice"} <= by_kind.keys()
    async with api.http(api.staff["cnccfp"]) as http:
        response = await http.get(f"/cases/{case_id}/documents")
        assert response.status_code == 200
        kinds = {document["kind"] for document in response.json()}
        assert "invoice" in kinds and "evaluation_decision" in kinds
        assert not kinds & {"complaint_report", "candidacy_proof"}
        # Asking for them by id answers as for a document that does not exist.
        ghost = await http.get(f"/cases/{case_id}/documents/inexistant")
        assert ghost.json()["code"] == "document_not_found"
        for kind in ("complaint_report", "candidacy_proof"):
            response = await http.get(f"/cases/{case_id}/documents/{by_kind[kind]}")
            assert (response.status_code, response.json()) == (ghost.status_code, ghost.json())
        seen = await act(http, "GET", f"/cases/{case_id}")
        assert seen["evaluation_requests"][0]["document_refs"] == []
        assert seen["candidate"]["name"] and seen["evaluations"][0]["level"] == 1
    async with api.http(api.staff["pref60"]) as http:
        response = await http.get(f"/cases/{case_id}/documents")
        kinds = {document["kind"] for document in response.json()}
        assert {"complaint_report", "candidacy_proof", "evaluation_decision"} <= kinds
        assert "invoice" not in kinds
        response = await http.get(f"/cases/{case_id}/documents/{by_kind['invoice']}")
        assert response.json()["code"] == "document_not_found"
