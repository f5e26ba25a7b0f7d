"""On a phone with JavaScript off, the main navigation is still within reach: the DSFR's header
menu is a modal only its script opens (and the breadcrumb is folded behind a button), so a sheet
loaded in <noscript> shows both and hides the buttons that would do nothing. (The forms work
without JavaScript: every page test over HTTP posts them as such a browser does.)"""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.web.conftest import PHONE, Screens
from tests.web.steps import page_context


async def _menu_reachable(page: Page, path: str, links: list[str], screens: Screens) -> None:
    await page.goto(path)
    menu = page.get_by_role("navigation", name="Menu principal")
    for label in links:
        await expect(menu.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    # The breadcrumb too, unfolded.
    trail = page.get_by_role("navigation", name="vous êtes ici :")
    await expect(trail.get_by_role("link", name="Accueil")).to_be_visible()
    unfolded = await page.locator("#fil-ariane").bounding_box()
    assert unfolded is not None and unfolded["height"] > 0  # not clipped to nothing
    # Nothing wider than the screen (Playwright measures it; the page itself runs no script).
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    if screens.first_backend:
        await screens.take(page, path.strip("/").replace("/", "-"))
    # The last link of the menu, followed: the page it names opens.
    await menu.get_by_role("link", name=links[-1], exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_be_visible()


async def test_the_menu_on_a_phone_without_javascript(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    token = await web.sign_in(new_email("sansjs"))
    for credentials, path, links in (
        (token, "/dossiers", ["Accueil", "Mes dossiers", "Mon compte"]),
        (web.staff["cnccfp"], "/agents/dossiers", ["Dossiers", "Statistiques"]),
    ):
        context = await page_context(
            browser, web, credentials, viewport=PHONE, java_script_enabled=False
        )
        try:
            await _menu_reachable(await context.new_page(), path, links, screens)
        finally:
            await context.close()
