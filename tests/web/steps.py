"""Steps the page tests share: what a candidate types in the forms, and the first steps of a
case in the browser (an account from the emailed link, a case opened with its two documents)."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page

from api.web.session import SESSION_COOKIE
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import declared_on, new_email
from tests.web.conftest import Screens, check_accessibility
from tests.web.pages import csrf_of


def line_fields(web: ApiStack, amount: str = "2 400,00", invoice: str = "F-001") -> dict[str, str]:
    """The fields of the expense line form, as a candidate fills them (three certifications)."""
    end = web.first_round
    return {
        "category": "premises_security",
        "company_name": "Gardiennage Picard SARL (fictif)",
        "siren": "732 829 320",
        "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
        "invoice_reference": invoice,
        "service_start": (end - dt.timedelta(days=30)).isoformat(),
        "service_end": end.isoformat(),
        "amount": amount,
        "certification.not_public_service": "oui",
        "certification.not_in_campaign_account": "oui",
        "certification.not_state_protection": "oui",
    }


EDIT_FORM = re.compile(
    r'name="line_id" value="([^"]*)"><input type="hidden" name="document_refs" value="([^"]*)"'
)
"""The hidden fields of the line correction form: the line it corrects, the documents it keeps."""


async def send_corrected_line(
    http: httpx.AsyncClient, path: str, shown: str, fields: dict[str, str]
) -> httpx.Response:
    """Send the line correction form of the page ``shown`` (its line, documents and token), as a
    browser without JavaScript does, with ``fields`` typed in."""
    found = EDIT_FORM.search(shown)
    assert found, "no line correction form on the page"
    line_id, refs = found.groups()
    return await http.post(
        f"{path}/modifier-ligne",
        data={**fields, "line_id": line_id, "document_refs": refs, "csrf_token": csrf_of(shown)},
    )


def pdf_uploads(**names: str) -> dict[str, tuple[str, bytes, str]]:
    """A unique PDF for each upload field (field=filename), never a duplicate of another's."""
    return {
        field: (filename, sample_pdf(f"{filename} {new_email()}"), "application/pdf")
        for field, filename in names.items()
    }


def pdf(name: str) -> dict[str, object]:
    """A PDF for a browser's file input (``set_input_files``)."""
    return {"name": name, "mimeType": "application/pdf", "buffer": sample_pdf(name)}


async def page_context(
    browser: Browser, web: ApiStack, token: str, **options: Any
) -> BrowserContext:
    """A browser signed in to the pages with ``token`` (the session the sign-in pages set)."""
    context = await browser.new_context(base_url=web.base_url, locale="fr-FR", **options)
    host = urllib.parse.urlsplit(web.base_url).hostname or ""
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "domain": host, "path": "/"}]
    )
    return context


async def staff_context(
    browser: Browser, web: ApiStack, key: str, **options: Any
) -> BrowserContext:
    """A staff member's browser, signed in to the pages (the session the staff sign-in sets)."""
    return await page_context(browser, web, web.staff[key], **options)


async def sign_up(page: Page, web: ApiStack, email: str, name: str = "Camille Martin") -> None:
    """From the account creation page: the link read in the real mailbox, then the name; ends
    on "Mes dossiers"."""
    before = len(web.mail.store.for_recipient(email))
    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await page.goto(f"/auth/sign-in?token={await web.link_token(email, before)}")
    await page.get_by_role("button", name="Me connecter").click()
    await page.get_by_label("Votre nom").fill(name)
    await page.get_by_role("button", name="Enregistrer mon nom").click()
    await page.wait_for_url("**/dossiers")


async def fill_opening(page: Page, web: ApiStack, departement: str = "60") -> None:
    """The opening form filled in, with the complaint report and the proof of candidacy."""
    await page.get_by_label("Élection").select_option(web.election_id)
    await page.get_by_label("Département de la circonscription").fill(departement)
    await page.get_by_label("Date de la déclaration publique de candidature").fill(
        declared_on(web).isoformat()
    )
    await attach_proofs(page)


async def attach_proofs(page: Page) -> None:
    await page.get_by_label("Procès-verbal de plainte").set_input_files(pdf("plainte.pdf"))
    await page.get_by_label("Justificatif de la déclaration").set_input_files(
        pdf("declaration.pdf")
    )


async def opened_case(page: Page) -> str:
    """Send the opening form; the new case's id."""
    await page.get_by_role("button", name="Ouvrir le dossier").click()
    await page.get_by_text("Votre dossier est ouvert").wait_for()
    return page.url.split("/dossiers/")[1].split("?")[0]


async def fill_line(page: Page, web: ApiStack, *, certify: bool = True) -> None:
    """The expense line form filled in as ``line_fields`` says, with its invoice."""
    fields = line_fields(web, "8 400,00")
    await page.get_by_label("Catégorie de dépense").select_option(fields["category"])
    await page.get_by_label("Entreprise de sécurité").fill(fields["company_name"])
    await page.get_by_label("SIREN de l’entreprise").fill(fields["siren"])
    await page.get_by_label("Numéro d’autorisation d’exercice CNAPS").fill(
        fields["cnaps_authorisation"]
    )
    await page.get_by_label("Numéro de la facture").fill(fields["invoice_reference"])
    await page.get_by_label("Début de la prestation").fill(fields["service_start"])
    await page.get_by_label("Fin de la prestation").fill(fields["service_end"])
    await page.get_by_label("Montant TTC (en euros)").fill(fields["amount"])
    await page.locator("#ajouter-ligne-piece-facture").set_input_files(pdf("F-001.pdf"))
    if certify:
        await certify_line(page)


async def certify_line(page: Page) -> None:
    for name in ("not_public_service", "not_in_campaign_account", "not_state_protection"):
        await page.locator(f"#ajouter-ligne-{name}").check(force=True)


async def check_page(
    browser: Browser, web: ApiStack, token: str, path: str, screens: Screens, name: str
) -> None:
    """axe-core on the page ``path`` as ``token``'s holder sees it in Chromium, and its
    screenshot: on the first backend only (a page does not depend on the database)."""
    if not screens.first_backend:
        return
    context = await page_context(browser, web, token)
    try:
        page = await context.new_page()
        answer = await page.goto(path)
        assert answer is not None and answer.status == 200, path
        await check_accessibility(page)
        await screens.take(page, name)
    finally:
        await context.close()
