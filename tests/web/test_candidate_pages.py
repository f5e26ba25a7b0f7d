"""A candidate's case through the pages, in Debian's Chromium: signed in from the emailed link,
the account named, the case opened with its two documents, the space asked for, a line added
(after a refusal shown next to its field), the request deposited and its receipt downloaded.

The prefecture's evaluation and the CNCCFP's opening of the space go through the JSON API: their
pages are tested with theirs. axe-core checks every page visited.
"""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page

from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import act, declared_on, new_email, record_evaluation
from tests.web.conftest import PHONE, Screens, check_accessibility
from tests.web.pages import csrf_of, sign_in_pages
from tests.web.steps import (
    attach_proofs,
    certify_line,
    fill_line,
    fill_opening,
    opened_case,
    sign_up,
)


async def visit(page: Page, screens: Screens, name: str) -> None:
    """axe-core on the page and its screenshot, on the first backend only: what a page shows
    does not depend on the database, and each check costs a second."""
    if screens.first_backend:
        await check_accessibility(page)
        await screens.take(page, name)


async def test_a_candidate_takes_a_case_to_its_deposit_through_the_pages(
    web: ApiStack, browser: Browser, screens: Screens
) -> None:
    email = new_email()
    context = await browser.new_context(base_url=web.base_url, locale="fr-FR")
    try:
        page = await context.new_page()
        # Signed in from the emailed link, read from the real SMTP mailbox.
        await page.goto("/connexion")
        await visit(page, screens, "connexion")
        await page.get_by_role("link", name="Créer un compte").first.click()
        await sign_up(page, web, email)
        await visit(page, screens, "mes-dossiers")

        # Opening the case: a wrong département is refused next to its field, in French.
        await page.get_by_role("link", name="Ouvrir un dossier").click()
        await fill_opening(page, web, departement="999")
        await page.get_by_role("button", name="Ouvrir le dossier").click()
        error = page.locator("#champ-departement-erreur")
        assert "département" in (await error.inner_text()).lower()
        field = page.get_by_label("Département de la circonscription")
        assert await field.get_attribute("aria-describedby") == "champ-departement-messages"
        await visit(page, screens, "ouvrir-un-dossier-refus")
        await field.fill("60")
        await attach_proofs(page)
        case_id = await opened_case(page)
        timeline = await page.locator("#etat").inner_text()
        assert "Le préfet de votre département évalue la menace" in timeline
        assert "heure de Paris" in timeline and "il reste" in timeline
        assert "01 80 52 33 84" in await page.content()  # the security pack
        await visit(page, screens, "dossier-evaluation-demandee")

        # The prefecture recognises the threat (JSON API); the candidate asks for the space.
        await record_evaluation(web, case_id)
        await page.reload()
        await page.get_by_role("button", name="Demander l’ouverture de l’espace").click()
        await page.get_by_text("est demandée à la CNCCFP").wait_for()
        async with web.http(web.staff["cnccfp"]) as http:
            await act(http, "POST", f"/cases/{case_id}/space")
        await page.reload()
        await visit(page, screens, "dossier-espace-ouvert")

        # A line without its three certifications is refused next to them.
        await fill_line(page, web, certify=False)
        await page.get_by_role("button", name="Ajouter la ligne").click()
        refusal = page.locator("#ajouter-ligne-certifications-erreur")
        assert "certifi" in (await refusal.inner_text()).lower()
        await visit(page, screens, "ligne-refusee")
        await certify_line(page)
        # The invoice stored before the refusal is kept: nobody chooses it again.
        assert "Déjà joint : F-001.pdf" in await page.locator("#lignes").inner_text()
        await page.get_by_role("button", name="Ajouter la ligne").click()
        await page.get_by_text("La ligne de dépense est ajoutée").wait_for()
        lines = page.locator(".ligne-depense")
        assert await lines.count() == 1
        assert "8\u202f400,00" in await lines.first.inner_text()
        assert "Vérification des registres" in await lines.first.inner_text()
        await visit(page, screens, "ligne-ajoutee")

        # The deposit, with the rounds attended; then the receipt.
        await page.get_by_label("Premier tour").check(force=True)
        await page.get_by_role("button", name="Déposer ma demande").click()
        await page.get_by_text("Votre demande est déposée").first.wait_for()
        receipt = page.get_by_role("link", name="Télécharger le récépissé de dépôt")
        answer = await page.request.get(str(await receipt.get_attribute("href")))
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        await visit(page, screens, "demande-deposee")

        # On a phone: the case page fits the screen's width (no sideways scrolling).
        await page.set_viewport_size(PHONE)
        await page.reload()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        await visit(page, screens, "demande-deposee-telephone")

        # A case that is not theirs: the same French "not found" page as any unknown case.
        answer = await page.goto(f"/dossiers/case-{web.election_id}-cand0000000000000000")
        assert answer is not None and answer.status == 404
        await visit(page, screens, "dossier-introuvable")
    except BaseException:
        # What the browser showed when the test failed, beside the screenshots.
        for open_page in context.pages:
            await screens.take(open_page, "echec")
            (screens.folder / "failure.html").write_text(await open_page.content())
        raise
    finally:
        await context.close()


async def test_someone_elses_case_is_a_404_page(web: ApiStack) -> None:
    async with web.http() as owner, web.http() as stranger:
        await sign_in_pages(web, owner, new_email(), "Camille Martin")
        await sign_in_pages(web, stranger, new_email(), "Dominique Petit")
        me = (await owner.get("/compte")).text
        assert "Camille Martin" in me
        page = await owner.get("/dossiers/nouveau")
        form = {
            "csrf_token": csrf_of(page.text),
            "election_id": web.election_id,
            "departement": "60",
            "declared_on": declared_on(web).isoformat(),
        }
        files = {
            "complaint_report": ("plainte.pdf", sample_pdf("plainte"), "application/pdf"),
            "candidacy_proof": ("declaration.pdf", sample_pdf("decl"), "application/pdf"),
        }
        opened = await owner.post("/dossiers/nouveau", data=form, files=files)
        assert opened.status_code == 303, opened.text
        case_path = opened.headers["location"].split("?")[0]
        assert (await owner.get(case_path)).status_code == 200
        hidden = await stranger.get(case_path)
        assert hidden.status_code == 404
        assert hidden.headers["content-type"].startswith("text/html")
        assert "Dossier introuvable" in hidden.text or "introuvable" in hidden.text
        # Acting on it is refused the same way, whatever the form carries.
        page = await stranger.get("/dossiers")
        refused = await stranger.post(
            f"{case_path}/demander-espace", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 404
        assert isinstance(refused, httpx.Response)
