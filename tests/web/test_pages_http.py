"""The pages without a browser: session cookie, CSRF, headers, and the gateway's scope."""

from __future__ import annotations

import re

from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.web.pages import csrf_of, post_form, sign_in_pages


async def test_the_home_page_is_a_dsfr_page_served_with_its_files(web: ApiStack) -> None:
    async with web.http() as http:
        home = await http.get("/")
        assert home.status_code == 200
        assert home.headers["content-type"].startswith("text/html")
        assert (
            '<html lang="fr"' in home.text and "<title>Accueil — Sécu&#39;Pol</title>" in home.text
        )
        assert "République<br>Française" in home.text and "Créer un compte" in home.text
        policy = home.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe-inline" not in policy
        # Every file the layout names is served by the app itself (no CDN), cached a day.
        for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', home.text):
            asset = await http.get(path)
            assert asset.status_code == 200, path
            assert asset.headers["cache-control"] == "public, max-age=86400", path
        assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", home.text)


async def test_a_form_without_its_csrf_token_is_refused(web: ApiStack) -> None:
    email = new_email()
    async with web.http() as http:
        page = await http.get("/connexion")
        token = csrf_of(page.text)
        refused = await http.post("/connexion", data={"email": email})
        assert refused.status_code == 403 and "Ce formulaire a expiré" in refused.text
        forged = await http.post("/connexion", data={"email": email, "csrf_token": "0" * 64})
        assert forged.status_code == 403
    async with web.http() as stranger:
        # A token read by someone else is worth nothing without their cookie.
        stolen = await stranger.post("/connexion", data={"email": email, "csrf_token": token})
        assert stolen.status_code == 403
    async with web.http() as http:
        sent = await post_form(http, "/connexion", "/connexion", {"email": email})
        assert sent.status_code == 200 and "Si cette adresse correspond" in sent.text


async def test_the_emailed_link_opens_a_cookie_session(web: ApiStack) -> None:
    email = new_email()
    async with web.http() as http:
        await sign_in_pages(web, http, email, None)
        cookie = next(c for c in http.cookies.jar if c.name == "secupol_session")
        assert cookie.path == "/" and not cookie.secure
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (cookie.get_nonstandard_attr("SameSite") or "").lower() == "lax"
        assert cookie.expires is not None
        # The account is not named yet: the page asks for the name first.
        account = await http.get("/compte")
        assert account.status_code == 200 and "Indiquez votre nom" in account.text
        refused = await post_form(http, "/compte", "/compte", {"display_name": "   "})
        assert refused.status_code == 422
        assert 'aria-describedby="champ-display_name-messages"' in refused.text
        assert 'id="champ-display_name-erreur"' in refused.text
        named = await post_form(http, "/compte", "/compte", {"display_name": "Camille Martin"})
        assert named.status_code == 303
        # The cookie's session is an API session like any: the same account answers.
        me = await http.get("/auth/me", headers={"Authorization": f"Bearer {cookie.value}"})
        assert me.json()["display_name"] == "Camille Martin"
        signed_out = await post_form(http, "/compte", "/deconnexion", {})
        assert signed_out.status_code == 303
        again = await http.get("/compte")
        assert again.status_code == 303 and again.headers["location"].startswith("/connexion")
        me = await http.get("/auth/me", headers={"Authorization": f"Bearer {cookie.value}"})
        assert me.status_code == 401


async def test_the_api_token_path_of_the_link_still_works(web: ApiStack) -> None:
    email = new_email()
    before = len(web.mail.store.for_recipient(email))
    async with web.http() as http:
        await post_form(http, "/creer-un-compte", "/creer-un-compte", {"email": email})
        token = await web.link_token(email, before)
        landing = await http.get("/auth/sign-in", params={"token": token})
        assert "Obtenir un jeton d’API" in landing.text
        assert "script-src" not in landing.headers["content-security-policy"]
        answer = await http.post("/auth/sign-in", data={"token": token})
        assert answer.status_code == 201 and "<pre>" in answer.text
