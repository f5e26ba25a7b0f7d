"""The staff pages in Debian's Chromium: the prefecture evaluates, re-evaluates and pays, the
CNCCFP corrects the rounds attended, reviews and decides, an export is downloaded and read back;
axe-core finds nothing serious or critical on any staff page; screenshots of each are saved under
the test output folder.

Once, on the first database: what a page shows does not depend on it, and
``test_staff_pages_http`` sends the same forms on every database. The candidate's steps go
through the JSON API here (their pages have their own browser test).
"""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from playwright.async_api import Browser, Page, expect

from api.exports import COLUMNS
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import act, declared_on, expense_line, new_email, open_case, upload
from tests.helpers import assert_eventually
from tests.web.conftest import PHONE, Screens, check_accessibility
from tests.web.steps import staff_context


async def _check(page: Page, screens: Screens, name: str) -> None:
    """axe-core and a screenshot, once: on the first backend (a page does not depend on the
    database), where the fixture says which one it is."""
    if getattr(screens, "first_backend", True):
        await check_accessibility(page)
        await screens.take(page, name)


async def _visit(page: Page, screens: Screens, path: str, name: str) -> None:
    response = await page.goto(path)
    assert response is not None and response.status == 200, path
    await _check(page, screens, name)


async def test_staff_pages_in_a_browser(web: ApiStack, browser: Browser, screens: Screens) -> None:
    token = await web.sign_in(new_email("navigateur"))
    case_id = (await open_case(web, token))["case_id"]
    case_path = f"/agents/dossiers/{case_id}"

    # The prefecture: its list, then the evaluation recorded with its signed decision.
    prefecture = await staff_context(browser, web, "pref60")
    page = await prefecture.new_page()

    async def listed() -> None:
        await page.goto("/agents/dossiers")
        assert await page.get_by_role("link", name=case_id).count() == 1

    await assert_eventually(listed)
    await _check(page, screens, "prefecture-dossiers")
    await _visit(page, screens, case_path, "prefecture-dossier")
    await page.get_by_label("Oui, la menace est avérée").check(force=True)
    await page.get_by_label("Niveau 1", exact=False).check(force=True)
    await page.get_by_label("Date de déclaration de candidature").fill(declared_on(web).isoformat())
    await page.get_by_label("Décision signée du préfet").set_input_files(
        files=[{"name": "decision.pdf", "mimeType": "application/pdf", "buffer": sample_pdf("D")}]
    )
    await page.get_by_role("button", name="Enregistrer la décision").click()
    await expect(page.get_by_text("La décision d’évaluation est enregistrée.")).to_be_visible()

    # The candidate asks for the space, the CNCCFP opens it on its page.
    async with web.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/space-request")
    cnccfp = await staff_context(browser, web, "cnccfp")
    review = await cnccfp.new_page()
    await _visit(review, screens, case_path, "cnccfp-espace-demande")
    await review.get_by_role("button", name="Ouvrir l’espace de dépôt").click()
    await expect(review.get_by_text("L’espace de dépôt est ouvert")).to_be_visible()
    async with web.http(token) as http:
        document = await upload(http, case_id)
        await act(http, "POST", f"/cases/{case_id}/expense-lines", expense_line(web, document))
        await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})

    # Before the decision, the prefecture raises the threat to level 2 with its decision.
    await _visit(page, screens, case_path, "prefecture-reevaluation")
    await page.get_by_label("Niveau 2", exact=False).check(force=True)
    await page.get_by_label("Motif de la réévaluation ou de la correction").fill("Menaces de mort.")
    await page.get_by_label("Décision signée du préfet").set_input_files(
        files=[{"name": "reeval.pdf", "mimeType": "application/pdf", "buffer": sample_pdf("R")}]
    )
    await page.get_by_role("button", name="Enregistrer la réévaluation").click()
    await expect(page.get_by_text("La réévaluation de la menace est enregistrée")).to_be_visible()

    # The CNCCFP corrects the rounds attended, reviews the line (kept whole), sees a refusal
    # next to its field, decides.
    await _visit(review, screens, case_path, "cnccfp-examen")
    await review.get_by_label("Second tour").check(force=True)
    await review.get_by_label("Motif de la correction").fill("Résultats officiels.")
    await review.get_by_role("button", name="Corriger le tour de présence").click()
    await expect(
        review.get_by_text("Le dernier tour de présence du candidat est corrigé.")
    ).to_be_visible()
    await _check(review, screens, "cnccfp-tours-corriges")
    await review.get_by_role("button", name="Enregistrer la décision sur la ligne 1").click()
    await expect(review.get_by_text("La décision sur la ligne est enregistrée.")).to_be_visible()
    await review.get_by_label("Montant arrêté (en euros)").fill("90 000")
    await review.get_by_role("button", name="Arrêter le montant").click()
    error = review.locator("#champ-amount_cents-erreur")
    await expect(error).to_be_visible()
    await _check(review, screens, "cnccfp-refus-montant")
    await review.get_by_label("Montant arrêté (en euros)").fill("8 400,00")
    await review.get_by_role("button", name="Arrêter le montant").click()
    await expect(review.get_by_text("Le montant est arrêté")).to_be_visible()

    # The candidate contacts the prefecture, which records the payment.
    async with web.http(token) as http:
        await act(http, "POST", f"/cases/{case_id}/prefecture-contact")
    await page.goto(case_path)
    await page.get_by_label("Référence du paiement").fill("VIR-NAV-1")
    await page.get_by_role("button", name="Enregistrer le paiement").click()
    await expect(page.get_by_text("Le paiement est enregistré")).to_be_visible()
    await _check(page, screens, "prefecture-paiement-enregistre")

    # The reviewer's list, filtered, exported as XLSX and read back; the statistics.
    await review.goto(f"/agents/dossiers?election_id={web.election_id}&stage=paid")

    async def paid_listed() -> None:
        await review.reload()
        assert await review.get_by_role("link", name=case_id).count() == 1

    await assert_eventually(paid_listed)
    await _check(review, screens, "cnccfp-dossiers-filtres")
    async with review.expect_download() as waiting:
        await review.get_by_role("link", name="Exporter en XLSX").click()
    download = await waiting.value
    path = await download.path()
    sheet = load_workbook(io.BytesIO(path.read_bytes())).active
    assert sheet is not None
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows[case_id][COLUMNS.index("Montant payé (€)")] == 8400
    assert rows[case_id][COLUMNS.index("Payé le")].date() == dt.date.today()  # type: ignore[union-attr]
    await _visit(review, screens, "/agents/statistiques", "cnccfp-statistiques")
    assert await review.locator('svg[role="img"]').count() == 3
    await prefecture.close()
    await cnccfp.close()

    # The admin's pages, and one staff page on a phone.
    admin = await staff_context(browser, web, "admin")
    admin_page = await admin.new_page()
    for path, name in (
        ("/administration", "admin-accueil"),
        ("/administration/comptes", "admin-comptes"),
        ("/administration/prefectures", "admin-prefectures"),
        ("/administration/elections", "admin-elections"),
        (f"/administration/journal?case_id={case_id}", "admin-journal"),
    ):
        await _visit(admin_page, screens, path, name)
    await expect(admin_page.get_by_text("record_payment")).to_be_visible()
    await admin.close()
    phone = await staff_context(browser, web, "cnccfp", viewport=PHONE)
    small = await phone.new_page()
    await _visit(small, screens, case_path, "cnccfp-dossier-telephone")
    await phone.close()
