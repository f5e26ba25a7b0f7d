"""A whole case through the pages only, in Debian's Chromium, to ``paid``: the candidate signs in
from the link read in the real SMTP mailbox, opens the case, asks for the space, adds a line,
deposits and contacts the prefecture; the prefecture evaluates and pays; the CNCCFP opens the
space and decides. Nothing goes through the JSON API.

Lean on purpose: each side's pages have their own tests (refusals, axe-core, screenshots); this
one shows they fit together. One screenshot at the end.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

from playwright.async_api import Browser, BrowserContext, Page, expect

from api.web.session import SESSION_COOKIE
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import declared_on, new_email
from tests.web.conftest import Screens


def pdf(name: str) -> dict[str, object]:
    return {"name": name, "mimeType": "application/pdf", "buffer": sample_pdf(name)}


async def staff(browser: Browser, web: ApiStack, key: str) -> tuple[BrowserContext, Page]:
    """A staff member's browser, signed in to the pages (the session the staff sign-in sets)."""
    context = await browser.new_context(base_url=web.base_url, locale="fr-FR")
    host = urllib.parse.urlsplit(web.base_url).hostname or ""
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": web.staff[key], "domain": host, "path": "/"}]
    )
    return context, await context.new_page()


async def test_a_case_to_paid_through_the_pages_only(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    email = new_email("bout-en-bout")
    candidate = await browser.new_context(base_url=web.base_url, locale="fr-FR")
    prefecture, pref = await staff(browser, web, "pref60")
    commission, cnccfp = await staff(browser, web, "cnccfp")
    page = await candidate.new_page()
    try:
        # The candidate: an account, the link from the mailbox, a name.
        await page.goto("/creer-un-compte")
        before = len(web.mail.store.for_recipient(email))
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_role("button", name="Recevoir un lien de connexion").click()
        await page.goto(f"/auth/sign-in?token={await web.link_token(email, before)}")
        await page.get_by_role("button", name="Me connecter").click()
        await page.get_by_label("Votre nom").fill("Camille Martin")
        await page.get_by_role("button", name="Enregistrer mon nom").click()
        await page.wait_for_url("**/dossiers")

        # The case, opened with its complaint report and proof of candidacy.
        await page.get_by_role("link", name="Ouvrir un dossier").click()
        await page.get_by_label("Élection").select_option(web.election_id)
        await page.get_by_label("Département de la circonscription").fill("60")
        await page.get_by_label("Date de la déclaration publique de candidature").fill(
            declared_on(web).isoformat()
        )
        await page.get_by_label("Procès-verbal de plainte").set_input_files(pdf("plainte.pdf"))
        await page.get_by_label("Justificatif de la déclaration").set_input_files(
            pdf("declaration.pdf")
        )
        await page.get_by_role("button", name="Ouvrir le dossier").click()
        await page.get_by_text("Votre dossier est ouvert").wait_for()
        case_id = page.url.split("/dossiers/")[1].split("?")[0]
        staff_case = f"/agents/dossiers/{case_id}"

        # The prefecture records its evaluation with the signed decision.
        await pref.goto(staff_case)
        await pref.get_by_label("Oui, la menace est avérée").check(force=True)
        await pref.get_by_label("Niveau 1", exact=False).check(force=True)
        await pref.get_by_label("Décision signée du préfet").set_input_files(pdf("decision.pdf"))
        await pref.get_by_role("button", name="Enregistrer la décision").click()
        await expect(pref.get_by_text("La décision d’évaluation est enregistrée.")).to_be_visible()

        # The space: asked for by the candidate, opened by the CNCCFP.
        await page.reload()
        await page.get_by_role("button", name="Demander l’ouverture de l’espace").click()
        await page.get_by_text("est demandée à la CNCCFP").wait_for()
        await cnccfp.goto(staff_case)
        await cnccfp.get_by_role("button", name="Ouvrir l’espace de dépôt").click()
        await expect(cnccfp.get_by_text("L’espace de dépôt est ouvert")).to_be_visible()

        # A line with its invoice and certifications, then the deposit.
        await page.reload()
        end = web.first_round
        await page.get_by_label("Catégorie de dépense").select_option("premises_security")
        await page.get_by_label("Entreprise de sécurité").fill("Gardiennage Picard SARL (fictif)")
        await page.get_by_label("SIREN de l’entreprise").fill("732829320")
        await page.get_by_label("Numéro d’autorisation d’exercice CNAPS").fill(
            "AUT-060-2124-07-01-20250906336"
        )
        await page.get_by_label("Numéro de la facture").fill("F-001")
        await page.get_by_label("Début de la prestation").fill(
            (end - dt.timedelta(days=30)).isoformat()
        )
        await page.get_by_label("Fin de la prestation").fill(end.isoformat())
        await page.get_by_label("Montant TTC (en euros)").fill("8 400,00")
        await page.locator("#ajouter-ligne-piece-facture").set_input_files(pdf("F-001.pdf"))
        for name in ("not_public_service", "not_in_campaign_account", "not_state_protection"):
            await page.locator(f"#ajouter-ligne-{name}").check(force=True)
        await page.get_by_role("button", name="Ajouter la ligne").click()
        await page.get_by_text("La ligne de dépense est ajoutée").wait_for()
        await page.get_by_label("Premier tour").check(force=True)
        await page.get_by_role("button", name="Déposer ma demande").click()
        await page.get_by_text("Votre demande est déposée").first.wait_for()

        # The CNCCFP decides the amount claimed.
        await cnccfp.goto(staff_case)
        await cnccfp.get_by_label("Montant arrêté (en euros)").fill("8 400,00")
        await cnccfp.get_by_role("button", name="Arrêter le montant").click()
        await expect(cnccfp.get_by_text("Le montant est arrêté")).to_be_visible()

        # The candidate contacts the prefecture, which pays.
        await page.reload()
        await page.get_by_role(
            "button", name="Me signaler à la préfecture pour le paiement"
        ).click()
        await pref.goto(staff_case)
        await pref.get_by_label("Référence du paiement").fill("VIR-BOUT-EN-BOUT")
        await pref.get_by_role("button", name="Enregistrer le paiement").click()
        await expect(pref.get_by_text("Le paiement est enregistré")).to_be_visible()

        # The candidate sees it paid.
        await page.reload()
        assert "VIR-BOUT-EN-BOUT" in await page.content()
        if screens.first_backend:
            await screens.take(page, "candidat-dossier-paye")
        state = await web.cases.state(case_id)
        assert state.stage.value == "paid" and state.payment is not None
        assert state.payment.amount_cents == 840_000
    except BaseException:
        for context in (candidate, prefecture, commission):
            for open_page in context.pages:
                await screens.take(open_page, "echec")
        raise
    finally:
        for context in (candidate, prefecture, commission):
            await context.close()
