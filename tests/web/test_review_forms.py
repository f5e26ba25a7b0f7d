"""The review's forms driven end to end over plain HTTP (cookie session and CSRF token, as a
browser without JavaScript posts them), against the real workflow: the CNCCFP's observations
on a line answered by the candidate on their page before the deadline, then the line verdicts
and the decision; a case whose deposit deadline passed while it waited on the administration,
given a late window in which the candidate deposits, and another one closed.

The setup steps (opening, evaluation, space) go through the JSON API: their pages have their
own tests. The deadline passes through the operator's correction, as it would after a legal
change, so that no test waits for a real deadline. axe-core checks, in Chromium, the pages whose
forms no browser test visits (the answer to observations, the late window and the closing)."""

from __future__ import annotations

import datetime as dt
import re

from playwright.async_api import Browser

from domain.calendar import PARIS
from tests.api.conftest import ApiStack
from tests.api.flow import act, new_email, open_case, record_evaluation, submitted_case
from tests.helpers import assert_eventually
from tests.web.conftest import Screens
from tests.web.staff import page_client, post_page_form, staff_client, text_of
from tests.web.steps import check_page, line_fields, pdf_uploads


def line_ids(html: str) -> list[str]:
    """The expense lines of a staff case page, in order (the verdict forms name them)."""
    return re.findall(r'name="line_id" value="([^"]+)"', html)


async def test_observations_answered_on_the_page_then_the_decision(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    token, case_id, _ = await submitted_case(web, [("F-1", 500_000), ("F-2", 340_000)])
    staff_page = f"/agents/dossiers/{case_id}"
    case_page = f"/dossiers/{case_id}"

    async with staff_client(web, "cnccfp") as cnccfp:
        review = await cnccfp.get(staff_page)
        first, second = dict.fromkeys(line_ids(review.text))
        # Observations without a text: refused next to the field, nothing sent.
        empty = await post_page_form(
            cnccfp, staff_page, f"{staff_page}/observations", {"observations": " "}
        )
        assert empty.status_code == 422
        assert 'id="champ-observations-erreur"' in empty.text
        sent = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/observations",
            {"observations": "Joignez la preuve du paiement.", "contested_line_ids": [second]},
        )
        assert sent.status_code == 303, sent.text
        shown = text_of((await cnccfp.get(sent.headers["location"])).text)
        assert "Les observations sont adressées au candidat." in shown
        assert "Observations de la Commission en attente de réponse" in shown

    await check_page(browser, web, token, case_page, screens, "candidat-observations")
    async with page_client(web, token) as candidate:
        page = text_of((await candidate.get(case_page)).text)
        assert "Joignez la preuve du paiement." in page
        assert "Réponse attendue avant le" in page and "Votre réponse" in page
        empty = await post_page_form(candidate, case_page, f"{case_page}/repondre", {"answer": ""})
        assert empty.status_code == 422 and 'id="champ-answer-erreur"' in empty.text
        answered = await post_page_form(
            candidate,
            case_page,
            f"{case_page}/repondre",
            {"answer": "Voici le virement."},
            files=pdf_uploads(answer_document="virement.pdf"),
        )
        assert answered.status_code == 303, answered.text
        page = text_of((await candidate.get(answered.headers["location"])).text)
        assert "Votre réponse est transmise à la CNCCFP." in page
        assert "Votre réponse du" in page and "Voici le virement." in page
        assert "virement.pdf" in page
        # The form is gone: the round is answered.
        assert f"{case_page}/repondre" not in (await candidate.get(case_page)).text

    async with staff_client(web, "cnccfp") as cnccfp:
        review = text_of((await cnccfp.get(staff_page)).text)
        assert "Répondu le" in review and "Voici le virement." in review
        # A reduced line needs a reason; the contested line is reduced, the other kept whole.
        no_reason = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/verdict",
            {"line_id": second, "accepted_cents": "1 000"},
        )
        assert no_reason.status_code in (409, 422), no_reason.text
        assert "Votre demande n’a pas été acceptée" in no_reason.text
        for line_id, amount, reason in (
            (first, "5 000,00", ""),
            (second, "1 000", "Paiement non justifié au-delà."),
        ):
            verdict = await post_page_form(
                cnccfp,
                staff_page,
                f"{staff_page}/verdict",
                {"line_id": line_id, "accepted_cents": amount, "reason": reason},
            )
            assert verdict.status_code == 303, verdict.text
        decided = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/decision",
            {"amount_cents": "6 000", "reasons": "Ligne 2 réduite après observations."},
        )
        assert decided.status_code == 303, decided.text

    state = await web.cases.state(case_id)
    assert state.stage.value == "decided"
    assert state.decision is not None and state.decision.amount_cents == 600_000
    async with page_client(web, token) as candidate:
        page = text_of((await candidate.get(case_page)).text)
        assert "Montant retenu par la CNCCFP : 1 000,00 € — Paiement non justifié au-delà." in page
        assert "Ligne 2 réduite après observations." in page


async def deadline_passed(web: ApiStack, case_id: str) -> None:
    """The operator moves the deposit deadline into the past; the case, waiting on the
    administration, is then "en attente de l'administration" (never time-barred)."""
    async with web.http(web.staff["operator"]) as operator:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)  # beyond the receipt grace
        await act(
            operator,
            "POST",
            f"/cases/{case_id}/operator/deposit-deadline",
            {"deposit_deadline": past.isoformat(), "reason": "Exercice de test."},
        )

    async def waiting() -> None:
        assert (await web.cases.state(case_id)).stage.value == "awaiting_administration"

    await assert_eventually(waiting)


async def test_a_late_window_then_the_deposit_and_a_case_closed(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    # A case whose space the CNCCFP did not open in time.
    token = await web.sign_in(new_email("tardif"))
    case_id = (await open_case(web, token))["case_id"]
    await record_evaluation(web, case_id)
    async with web.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/space-request")
    await deadline_passed(web, case_id)
    staff_page = f"/agents/dossiers/{case_id}"
    await check_page(browser, web, web.staff["cnccfp"], staff_page, screens, "cnccfp-echeance")
    async with staff_client(web, "cnccfp") as cnccfp:
        page = text_of((await cnccfp.get(staff_page)).text)
        assert "Échéance passée : en attente de l'administration" in page
        assert "Espace de dépôt demandé" in page  # the stage it waited in, in French
        # A new deadline in the past is refused next to its field.
        yesterday = dt.datetime.now(PARIS) - dt.timedelta(days=1)
        refused = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/delai-tardif",
            {"deposit_deadline": yesterday.strftime("%Y-%m-%dT%H:%M"), "reason": "Retard."},
        )
        assert refused.status_code in (409, 422), refused.text
        assert 'id="champ-deposit_deadline-erreur"' in refused.text
        later = dt.datetime.now(PARIS) + dt.timedelta(days=10)
        opened = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/delai-tardif",
            {
                "deposit_deadline": later.strftime("%Y-%m-%dT%H:%M"),
                "reason": "Espace ouvert en retard par la Commission.",
            },
        )
        assert opened.status_code == 303, opened.text
        assert (
            "Le nouveau délai de dépôt est ouvert."
            in (await cnccfp.get(opened.headers["location"])).text
        )
    state = await web.cases.state(case_id)
    assert state.stage.value == "space_open"
    assert state.deposit_deadline.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M") == later.strftime(
        "%Y-%m-%dT%H:%M"
    )

    # The candidate deposits in the late window, on their page.
    case_page = f"/dossiers/{case_id}"
    async with page_client(web, token) as candidate:
        page = await candidate.get(case_page)
        assert "Ajouter une ligne de dépense" in page.text
        added = await post_page_form(
            candidate,
            case_page,
            f"{case_page}/ajouter-ligne",
            line_fields(web, invoice="F-T1"),
            files=pdf_uploads(invoice="F-T1.pdf"),
        )
        assert added.status_code == 303, added.text
        deposited = await post_page_form(
            candidate, case_page, f"{case_page}/deposer", {"rounds_attended": "1"}
        )
        assert deposited.status_code == 303, deposited.text
        shown = await candidate.get(deposited.headers["location"])
        assert "Votre demande est déposée" in shown.text
    assert (await web.cases.state(case_id)).stage.value == "submitted"

    # Another case, whose evaluation the prefect never recorded: the CNCCFP closes it.
    other = await web.sign_in(new_email("clos"))
    closed_id = (await open_case(web, other))["case_id"]
    await deadline_passed(web, closed_id)
    staff_page = f"/agents/dossiers/{closed_id}"
    async with staff_client(web, "cnccfp") as cnccfp:
        no_reason = await post_page_form(cnccfp, staff_page, f"{staff_page}/cloture", {})
        assert no_reason.status_code == 422
        assert 'id="champ-motif-cloture-erreur"' in no_reason.text
        closing = await post_page_form(
            cnccfp, staff_page, f"{staff_page}/cloture", {"reason": "Candidature retirée."}
        )
        assert closing.status_code == 303, closing.text
        # Never recognised, the closed case leaves the reviewer's list (rule 9): the list
        # says it is done.
        page = text_of((await cnccfp.get(closing.headers["location"])).text)
        assert "Le dossier est clos." in page
        assert f"Le dossier {closed_id} ne figure plus parmi ceux que vous consultez." in page
    async with page_client(web, other) as candidate:
        page = text_of((await candidate.get(f"/dossiers/{closed_id}")).text)
        assert "Dossier clos par la Commission" in page and "Candidature retirée." in page


async def test_a_threat_reevaluated_and_the_rounds_corrected(web: ApiStack) -> None:
    _, case_id, _ = await submitted_case(web, [("F-1", 2_000_000)])
    staff_page = f"/agents/dossiers/{case_id}"
    reevaluation = {
        "level": "2",
        "decided_on": dt.date.today().isoformat(),
        "reason": "Nouvelles menaces de mort.",
    }
    async with staff_client(web, "pref60") as pref:
        page = text_of((await pref.get(staff_page)).text)
        assert "Réévaluer ou corriger le niveau de la menace" in page
        # Without the signed decision: refused next to the file field, nothing stored.
        refused = await post_page_form(pref, staff_page, f"{staff_page}/reevaluation", reevaluation)
        assert refused.status_code == 422
        assert 'id="reevaluation-decision-erreur"' in refused.text
        no_reason = await post_page_form(
            pref,
            staff_page,
            f"{staff_page}/reevaluation",
            {**reevaluation, "reason": ""},
            files=pdf_uploads(decision_file="reevaluation.pdf"),
        )
        assert no_reason.status_code == 422 and 'id="reevaluation-motif-erreur"' in no_reason.text
        recorded = await post_page_form(
            pref,
            staff_page,
            f"{staff_page}/reevaluation",
            reevaluation,
            files=pdf_uploads(decision_file="reevaluation.pdf"),
        )
        assert recorded.status_code == 303, recorded.text
        page = text_of((await pref.get(recorded.headers["location"])).text)
        assert "La réévaluation de la menace est enregistrée" in page
        assert "menace avérée, niveau 2 — Nouvelles menaces de mort." in page
        assert "Plafond en vigueur 75 000,00 €" in page
    async with staff_client(web, "cnccfp") as cnccfp:
        page = text_of((await cnccfp.get(staff_page)).text)
        assert "Dernier tour de présence du candidat premier tour" in page
        no_reason = await post_page_form(
            cnccfp, staff_page, f"{staff_page}/tours", {"rounds_attended": "2"}
        )
        assert no_reason.status_code == 422 and 'id="tours-motif-erreur"' in no_reason.text
        corrected = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/tours",
            {"rounds_attended": "2", "reason": "Résultats officiels du second tour."},
        )
        assert corrected.status_code == 303, corrected.text
        page = text_of((await cnccfp.get(corrected.headers["location"])).text)
        assert "Le dernier tour de présence du candidat est corrigé." in page
        assert "second tour Corrigé : Résultats officiels du second tour." in page
    state = await web.cases.state(case_id)
    assert state.rounds_attended == 2 and state.ceiling_cents == 7_500_000
    # The audit holds both, as for the JSON API.
    async with web.http(web.staff["admin"]) as http:
        entries = (await http.get("/admin/audit", params={"case_id": case_id})).json()
    done = {entry["action"] for entry in entries if entry["outcome"] == "ok"}
    assert {"reevaluate_threat", "correct_rounds_attended"} <= done
