"""The prefecture's and the CNCCFP's pages without a browser: a case taken from evaluation to
payment through the staff forms (the candidate acting through the API), the refusals shown next
to their field, the exports and the statistics, and who may open what."""

from __future__ import annotations

import csv
import datetime as dt
import io

from api.exports import COLUMNS
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import (
    act,
    declared_on,
    expense_line,
    new_email,
    open_case,
    upload,
)
from tests.helpers import assert_eventually
from tests.web.staff import post_page_form, staff_client, text_of


async def test_a_case_through_the_staff_pages(web: ApiStack) -> None:
    token = await web.sign_in(new_email("pages"))
    case_id = (await open_case(web, token))["case_id"]
    page = f"/agents/dossiers/{case_id}"

    async with staff_client(web, "pref60") as pref:

        async def listed() -> None:
            response = await pref.get("/agents/dossiers")
            assert response.status_code == 200 and case_id in response.text

        await assert_eventually(listed)
        # A refusal is told next to its field, in French, and nothing is recorded.
        refused = await post_page_form(
            pref,
            page,
            f"{page}/evaluation",
            {"recognised": "oui", "level": "1", "decided_on": dt.date.today().isoformat()},
        )
        assert refused.status_code == 422
        assert "Joignez la décision signée du préfet." in refused.text
        assert 'id="champ-decision_file-erreur"' in refused.text
        assert 'aria-describedby="champ-decision_file-messages"' in refused.text
        recorded = await post_page_form(
            pref,
            page,
            f"{page}/evaluation",
            {
                "recognised": "oui",
                "level": "1",
                "decided_on": dt.date.today().isoformat(),
                "candidacy_declared_on": declared_on(web).isoformat(),
            },
            files={"decision_file": ("decision.pdf", sample_pdf("Décision"), "application/pdf")},
        )
        assert recorded.status_code == 303, recorded.text
        shown = await pref.get(recorded.headers["location"])
        assert "La décision d’évaluation est enregistrée." in shown.text
        assert "menace avérée, niveau 1" in text_of(shown.text)
        assert "decision.pdf</a>" in shown.text  # its document, downloadable

    async with web.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/space-request")
    async with staff_client(web, "cnccfp") as cnccfp:
        opened = await post_page_form(cnccfp, page, f"{page}/espace", {})
        assert opened.status_code == 303, opened.text
    async with web.http(token) as http:
        document = await upload(http, case_id)
        await act(http, "POST", f"/cases/{case_id}/expense-lines", expense_line(web, document))
        await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})

    async with staff_client(web, "cnccfp") as cnccfp:
        review = await cnccfp.get(page)
        assert "Ligne 1 : Gardiennage Picard SARL (fictif)" in review.text
        assert "Arrêter le montant du remboursement" in review.text
        # Above the claim: refused with the domain's French message, next to the amount.
        too_much = await post_page_form(
            cnccfp, page, f"{page}/decision", {"amount_cents": "9 000,00", "reasons": ""}
        )
        assert too_much.status_code in (409, 422)
        assert 'id="champ-amount_cents-erreur"' in too_much.text
        bad = await post_page_form(cnccfp, page, f"{page}/decision", {"amount_cents": "huit"})
        assert bad.status_code == 422 and "Indiquez un montant en euros" in bad.text
        decided = await post_page_form(
            cnccfp, page, f"{page}/decision", {"amount_cents": "8 400,00"}
        )
        assert decided.status_code == 303, decided.text
        message = await post_page_form(
            cnccfp, page, f"{page}/message", {"body": "Décision rendue."}
        )
        assert message.status_code == 303
        assert "Décision rendue." in (await cnccfp.get(page)).text

    async with web.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/prefecture-contact")
    async with staff_client(web, "pref60") as pref:
        paid = await post_page_form(
            pref,
            page,
            f"{page}/paiement",
            {"amount_cents": "8400", "paid_on": dt.date.today().isoformat(), "reference": "VIR-P"},
        )
        assert paid.status_code == 303, paid.text
        shown = text_of((await pref.get(page)).text)
        assert "Remboursement payé" in shown and "référence VIR-P" in shown

    # The audit log holds the pages' actions as it holds the API's.
    async with web.http(web.staff["admin"]) as http:
        entries = (await http.get("/admin/audit", params={"case_id": case_id})).json()
    actions = {entry["action"] for entry in entries if entry["outcome"] == "ok"}
    assert {"record_evaluation", "open_space", "decide", "record_payment"} <= actions


async def test_exports_and_statistics_pages(web: ApiStack) -> None:
    token = await web.sign_in(new_email("pages"))
    case_id = (await open_case(web, token))["case_id"]
    async with staff_client(web, "pref60") as pref:

        async def exported() -> None:
            response = await pref.get(
                "/agents/exports/dossiers.csv",
                params={"election_id": web.election_id, "stage": "evaluation_requested"},
            )
            assert response.status_code == 200
            reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
            header, *rows = list(reader)
            assert tuple(header) == COLUMNS
            assert case_id in {row[0] for row in rows}

        await assert_eventually(exported)
        listed = await pref.get("/agents/dossiers", params={"stage": "evaluation_requested"})
        assert "/agents/exports/dossiers.xlsx?stage=evaluation_requested" in listed.text
        xlsx = await pref.get("/agents/exports/dossiers.xlsx")
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        statistics = await pref.get("/agents/statistiques")
        assert statistics.status_code == 200
        assert statistics.text.count('role="img"') == 3
        assert "Dossiers par étape (données du graphique)" in statistics.text
        bad = await pref.get("/agents/dossiers", params={"departement": "xx9"})
        assert bad.status_code == 422 and 'id="champ-departement-erreur"' in bad.text


async def test_only_staff_open_the_staff_pages(web: ApiStack) -> None:
    token = await web.sign_in(new_email("pages"))
    case_id = (await open_case(web, token))["case_id"]
    async with web.http() as anonymous:
        response = await anonymous.get("/agents/dossiers")
        assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
    async with staff_client(web, "pref75") as other:
        # Another département's case is "not found", as in the JSON API.
        response = await other.get(f"/agents/dossiers/{case_id}")
        assert response.status_code == 404
    async with staff_client(web, "operator") as operator:
        assert (await operator.get("/agents/dossiers")).status_code == 403
