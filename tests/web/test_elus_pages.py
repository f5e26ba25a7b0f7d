"""The élus' pages (``/espace-elus``): each procedure through its forms, over HTTP, with the CSRF
token a browser would send; the refusals beside their field; someone else's procedure is a 404
page. Then the two main pages pass axe-core in Chromium."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import uuid

import httpx
from playwright.async_api import Browser

from api.web.session import SESSION_COOKIE
from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.helpers import assert_eventually, paris_today
from tests.web.conftest import check_accessibility
from tests.web.staff import post_page_form, text_of

DAY = dt.timedelta(days=1)
HOME = "/espace-elus"


def page_client(web: ApiStack, token: str) -> httpx.AsyncClient:
    """A client whose page session is ``token``'s (the cookie holds the session token)."""
    http = web.http()
    host = urllib.parse.urlsplit(web.base_url).hostname or ""
    http.cookies.set(SESSION_COOKIE, token, domain=host, path="/")
    return http


async def _collectivite_staff(web: ApiStack, departement: str) -> tuple[str, str]:
    collectivite_id = f"commune-{departement}-{uuid.uuid4().hex[:6]}"
    async with web.http(web.staff["admin"]) as http:
        response = await http.post(
            "/elus/collectivites",
            json={
                "collectivite_id": collectivite_id,
                "name": f"Commune {collectivite_id}",
                "departement": departement,
                "email": f"service-{collectivite_id}@mairie.example.test",
            },
        )
        assert response.status_code == 201, response.text
        response = await http.post(
            "/elus/collectivite-staff",
            json={
                "email": new_email("coll"),
                "display_name": "Agent",
                "collectivites": [collectivite_id],
            },
        )
        assert response.status_code == 201, response.text
    return collectivite_id, response.json()["token"]


def _procedure_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = re.match(rf"{HOME}/([a-z0-9-]+)\?fait=", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def test_a_functional_protection_through_the_collectivite_pages(web: ApiStack) -> None:
    collectivite_id, token = await _collectivite_staff(web, "60")
    _, other_token = await _collectivite_staff(web, "75")
    received = paris_today() - 200 * DAY
    async with page_client(web, token) as coll:
        filed = await post_page_form(
            coll,
            HOME,
            f"{HOME}/nouvelle/protection",
            {
                "collectivite_id": collectivite_id,
                "official_name": "Dominique Leroy",
                "official_email": new_email("elu"),
                "received_on": received.isoformat(),
                "mandate": "Conseillère municipale",
                "facts": "Menaces reçues après la séance du conseil.",
            },
        )
        procedure_id = _procedure_of(filed)
        page = f"{HOME}/{procedure_id}"
        # A day in the future: refused beside its field, nothing recorded.
        refused = await post_page_form(
            coll,
            page,
            f"{page}/transmission",
            {"done_on": (paris_today() + DAY).isoformat()},
        )
        assert refused.status_code == 422
        assert "ne peut pas être dans le futur" in refused.text
        assert 'id="champ-transmission-done_on-erreur"' in refused.text
        # Without the CSRF token: refused.
        forged = await coll.post(f"{page}/transmission", data={"done_on": received.isoformat()})
        assert forged.status_code == 403
        in_time = {"done_on": (received + 2 * DAY).isoformat()}
        for segment in ("transmission", "council-information"):
            done = await post_page_form(coll, page, f"{page}/{segment}", in_time)
            assert done.status_code == 303, done.text

        async def final() -> None:
            shown = await coll.get(page)
            assert "Protection définitive" in text_of(shown.text)

        await assert_eventually(final)
        listed = await coll.get(HOME)
        assert procedure_id in listed.text
    async with page_client(web, other_token) as other:
        hidden = await other.get(page)
        assert hidden.status_code == 404
        assert procedure_id not in (await other.get(HOME)).text


async def test_the_council_convened_at_its_members_request_through_the_pages(
    web: ApiStack,
) -> None:
    collectivite_id, token = await _collectivite_staff(web, "60")
    today = paris_today()
    async with page_client(web, token) as coll:
        filed = await post_page_form(
            coll,
            HOME,
            f"{HOME}/nouvelle/protection",
            {
                "collectivite_id": collectivite_id,
                "official_name": "Dominique Leroy",
                "official_email": new_email("elu"),
                "received_on": today.isoformat(),
                "mandate": "Maire",
                "facts": "Menaces reçues après la séance du conseil.",
            },
        )
        page = f"{HOME}/{_procedure_of(filed)}"
        for segment in ("transmission", "council-information"):
            done = await post_page_form(
                coll, page, f"{page}/{segment}", {"done_on": today.isoformat()}
            )
            assert done.status_code == 303, done.text
        shown = text_of((await coll.get(page)).text)
        assert "Enregistrer la convocation du conseil" in shown
        assert "convoqué à la demande de ses membres : au plus tard le" in shown
        asked = await post_page_form(
            coll, page, f"{page}/convening-request", {"requested_on": today.isoformat()}
        )
        assert asked.status_code == 303, asked.text
        # A session before its convocation: refused beside its field.
        refused = await post_page_form(
            coll,
            page,
            f"{page}/council-convened",
            {"convened_on": today.isoformat(), "session_on": (today - DAY).isoformat()},
        )
        assert refused.status_code == 422
        assert 'id="champ-council-convened-session_on-erreur"' in refused.text
        late = today + 200 * DAY
        convened = await post_page_form(
            coll,
            page,
            f"{page}/council-convened",
            {"convened_on": today.isoformat(), "session_on": late.isoformat()},
        )
        assert convened.status_code == 303, convened.text
        shown = text_of((await coll.get(page)).text)
        assert "Convocation demandée par des membres du conseil" in shown
        assert "hors délai" in shown


async def test_an_alert_button_and_a_candidate_request_through_the_pages(
    web: ApiStack,
) -> None:
    today = paris_today().isoformat()
    async with page_client(web, web.staff["pref60"]) as pref:
        decided = await post_page_form(
            pref,
            HOME,
            f"{HOME}/nouvelle/bouton",
            {
                "departement": "60",
                "official_name": "Dominique Leroy",
                "official_email": new_email("elu"),
                "mandate": "Maire",
                "referent_evaluated_on": today,
                "decided_on": today,
            },
        )
        loan = f"{HOME}/{_procedure_of(decided)}"
        handed = await post_page_form(pref, loan, f"{loan}/handover", {"handed_over_on": today})
        assert handed.status_code == 303, handed.text
        shown = text_of((await pref.get(loan)).text)
        assert "appel remis" in shown and "Période 1" in shown
        assert "Renouveler le prêt" in shown
        returned = await post_page_form(pref, loan, f"{loan}/return", {"returned_on": today})
        assert returned.status_code == 303, returned.text

    email = new_email("cand")
    token = await web.sign_in(email, name="Camille Martin")
    async with page_client(web, token) as candidate:
        home = await candidate.get(HOME)
        assert "Demander la protection fonctionnelle de l" in home.text
        requested = await post_page_form(
            candidate,
            HOME,
            f"{HOME}/nouvelle/protection-candidat",
            {
                "election_id": web.election_id,
                "departement": "60",
                "facts": "Agression lors d'un tractage.",
                "complaint_reference": "PV 2026/00123",
                "candidacy_declared_on": (paris_today() - 30 * DAY).isoformat(),
            },
        )
        request_page = f"{HOME}/{_procedure_of(requested)}"
    async with page_client(web, web.staff["pref60"]) as pref:
        unmotivated = await post_page_form(
            pref, request_page, f"{request_page}/decision", {"granted": "non", "decided_on": today}
        )
        assert unmotivated.status_code == 422
        assert "doit être motivé" in unmotivated.text
        decided = await post_page_form(
            pref,
            request_page,
            f"{request_page}/decision",
            {"granted": "non", "decided_on": today, "reasons": "Faits antérieurs."},
        )
        assert decided.status_code == 303, decided.text
    async with page_client(web, token) as candidate:
        shown = text_of((await candidate.get(request_page)).text)
        assert "Protection fonctionnelle refusée" in shown
    async with page_client(web, web.staff["pref75"]) as other:
        assert (await other.get(request_page)).status_code == 404


async def test_the_elus_pages_pass_axe(web: ApiStack, browser: Browser) -> None:
    context = await browser.new_context(base_url=web.base_url)
    host = urllib.parse.urlsplit(web.base_url).hostname or ""
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": web.staff["pref60"], "domain": host, "path": "/"}]
    )
    try:
        page = await context.new_page()
        await page.goto(HOME)
        await check_accessibility(page)
        await page.fill("#champ-official_name", "Dominique Leroy")
        await page.fill("#champ-official_email", new_email("elu"))
        await page.fill("#champ-mandate", "Maire")
        await page.fill("#champ-referent_evaluated_on", paris_today().isoformat())
        await page.select_option("#champ-departement", "60")
        await page.click("text=Enregistrer la décision")
        await page.wait_for_url(re.compile(r".*/espace-elus/bouton-.*"))
        await check_accessibility(page)
    finally:
        await context.close()
