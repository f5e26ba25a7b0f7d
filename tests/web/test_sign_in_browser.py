"""Signing in from the emailed link in Debian's Chromium, on a phone-sized screen."""

from __future__ import annotations

from playwright.async_api import Browser, Page

from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.web.conftest import PHONE, Screens, check_accessibility


async def visit(page: Page, screens: Screens, name: str | None = None) -> None:
    """axe-core (and a screenshot) once, on the first backend."""
    if screens.first_backend:
        await check_accessibility(page)
        if name:
            await screens.take(page, name)


async def test_a_candidate_signs_in_from_the_emailed_link_on_a_phone(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    email = new_email()
    context = await browser.new_context(base_url=web.base_url, viewport=PHONE, locale="fr-FR")
    try:
        page = await context.new_page()
        await page.goto("/")
        await visit(page, screens, "accueil")
        await page.get_by_role("link", name="Créer un compte (candidats)").click()
        await page.get_by_label("Adresse électronique").fill(email)
        before = len(web.mail.store.for_recipient(email))
        await page.get_by_role("button", name="Recevoir un lien de connexion").click()
        await page.get_by_text("Demande enregistrée").wait_for()
        await visit(page, screens)
        token = await web.link_token(email, before)
        await page.goto(f"/auth/sign-in?token={token}")
        await visit(page, screens, "lien-de-connexion")
        await page.get_by_role("button", name="Me connecter").click()
        await page.wait_for_url("**/compte?suite=*")
        await visit(page, screens)
        # An empty name is refused, in French, next to its field.
        await page.get_by_label("Votre nom").fill(" ")
        await page.get_by_role("button", name="Enregistrer mon nom").click()
        error = page.locator("#champ-display_name-erreur")
        await error.wait_for()
        assert await page.get_by_label("Votre nom").get_attribute("aria-describedby") == (
            "champ-display_name-messages"
        )
        await visit(page, screens, "compte-refus")
        await page.get_by_label("Votre nom").fill("Camille Martin")
        await page.get_by_role("button", name="Enregistrer mon nom").click()
        await page.wait_for_url("**/dossiers")
        cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
        session = cookies["secupol_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"
    finally:
        await context.close()
