"""A line whose company the registries could not check, through the pages: the candidate adds it
and is told nothing is expected of them, deposits; the CNCCFP sees it "à vérifier
manuellement" and records its own verification on the page.

The stack's worker asks a CNAPS registry nobody listens on, once (``registry_max_attempts``),
so the line is marked for manual verification within a second. One database: what is tested is
the pages and the workflow, not the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser
from temporalio.client import Client

from core.settings import Settings
from embedded.mailbox import MailServer
from tests.api.conftest import ApiStack, api_stack
from tests.api.flow import new_email, open_case, open_space, record_evaluation
from tests.helpers import assert_eventually, unreachable_cnaps
from tests.web.conftest import Screens
from tests.web.staff import page_client, post_page_form, staff_client, text_of
from tests.web.steps import check_page, line_fields, pdf_uploads


@pytest.fixture(scope="module")
async def web_without_cnaps(
    workdir: Path, settings: Settings, client: Client, mail_server: MailServer
) -> AsyncIterator[ApiStack]:
    local = settings.model_copy(update={**unreachable_cnaps(), "registry_max_attempts": 1})
    directory = workdir / f"web-no-cnaps-{uuid.uuid4().hex[:6]}"
    async with api_stack("sqlite", directory, local, client, mail_server) as stack:
        yield stack


async def test_a_line_verified_by_hand_through_the_pages(
    web_without_cnaps: ApiStack, browser: Browser, screens: Screens
) -> None:
    web = web_without_cnaps
    token = await web.sign_in(new_email("manuel"))
    case_id = (await open_case(web, token))["case_id"]
    await record_evaluation(web, case_id)
    await open_space(web, token, case_id)
    case_page = f"/dossiers/{case_id}"
    async with page_client(web, token) as candidate:
        added = await post_page_form(
            candidate,
            case_page,
            f"{case_page}/ajouter-ligne",
            line_fields(web, invoice="F-M1"),
            files=pdf_uploads(invoice="F-M1.pdf"),
        )
        assert added.status_code == 303, added.text

        async def told() -> None:
            page = text_of((await candidate.get(case_page)).text)
            assert "Vérification manuelle." in page and "Rien n’est attendu de vous" in page
            assert "registre momentanément indisponible" in page

        await assert_eventually(told)
        deposited = await post_page_form(
            candidate, case_page, f"{case_page}/deposer", {"rounds_attended": "1"}
        )
        assert deposited.status_code == 303, deposited.text

    staff_page = f"/agents/dossiers/{case_id}"
    await check_page(browser, web, web.staff["cnccfp"], staff_page, screens, "cnccfp-verification")
    async with staff_client(web, "cnccfp") as cnccfp:
        page = await cnccfp.get(staff_page)
        shown = text_of(page.text)
        assert "CNAPS : à vérifier manuellement" in shown
        assert "Vérifier l’entreprise de la ligne 1" in shown
        line_id = (await web.cases.state(case_id)).expense_lines[0].line_id
        # Neither yes nor no: refused next to the question, nothing recorded.
        unanswered = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/verification",
            {"line_id": line_id, "note": "Site du CNAPS consulté."},
        )
        assert unanswered.status_code == 422, unanswered.text
        assert 'id="champ-valide-1-erreur"' in unanswered.text
        verified = await post_page_form(
            cnccfp,
            staff_page,
            f"{staff_page}/verification",
            {"line_id": line_id, "valid": "oui", "note": "Autorisation lue sur le site du CNAPS."},
        )
        assert verified.status_code == 303, verified.text
        shown = text_of((await cnccfp.get(verified.headers["location"])).text)
        assert "La vérification est enregistrée." in shown
        assert "vérification manuelle : valide" in shown
        assert "Vérifier l’entreprise de la ligne 1" not in shown
    check = (await web.cases.state(case_id)).line_checks[0]
    assert check.manual is not None and check.manual.valid
    async with page_client(web, token) as candidate:
        page = text_of((await candidate.get(case_page)).text)
        assert "Avis du rapporteur : entreprise vérifiée" in page
        assert "Autorisation lue sur le site du CNAPS." in page
