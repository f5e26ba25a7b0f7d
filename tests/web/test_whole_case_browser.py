"""A whole case through the pages only, in Debian's Chromium, to ``paid``: the candidate signs in
from the link read in the real SMTP mailbox, opens the case, asks for the space, adds a line,
deposits and contacts the prefecture; the prefecture evaluates and pays; the CNCCFP opens the
space and decides. Nothing goes through the JSON API.

Lean on purpose: each side's pages have their own tests (refusals, axe-core, screenshots); this
one shows they fit together. One screenshot at the end.
"""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.web.conftest import Screens
from tests.web.steps import fill_line, fill_opening, opened_case, pdf, sign_up, staff_context


async def test_a_case_to_paid_through_the_pages_only(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    email = new_email("bout-en-bout")
    candidate = await browser.new_context(base_url=web.base_url, locale="fr-FR")
    prefecture = await staff_context(browser, web, "pref60")
    commission = await staff_context(browser, web, "cnccfp")
    pref, cnccfp = await prefecture.new_page(), await commission.new_page()
    page = await candidate.new_page()
    try:
        # The candidate: an account, the link from the mailbox, a name.
        await page.goto("/creer-un-compte")
        await sign_up(page, web, email)

        # The case, opened with its complaint report and proof of candidacy.
        await page.get_by_role("link", name="Ouvrir un dossier").click()
        await fill_opening(page, web)
        case_id = await opened_case(page)
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
        await fill_line(page, web)
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
