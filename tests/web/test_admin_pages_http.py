"""The admin's pages without a browser: accounts, prefectures, elections, the audit log."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from tests.api.conftest import ApiStack
from tests.api.flow import new_email
from tests.web.staff import post_page_form, staff_client, text_of

TOKEN = re.compile(r'<pre id="jeton">([A-Za-z0-9_\-]+)</pre>')


async def test_the_admin_manages_staff_prefectures_and_elections(web: ApiStack) -> None:
    email = new_email("agent")
    async with staff_client(web, "admin") as http:
        created = await post_page_form(
            http,
            "/administration/comptes",
            "/administration/comptes",
            {
                "email": email,
                "display_name": "Agent Oise",
                "role": "prefecture",
                "departements": "60",
            },
        )
        assert created.status_code == 201, created.text
        token = TOKEN.search(created.text)
        assert token
        async with web.http(token.group(1)) as agent:
            me = (await agent.get("/auth/me")).json()
            assert me["role"] == "prefecture" and me["departements"] == ["60"]
        refused = await post_page_form(
            http,
            "/administration/comptes",
            "/administration/comptes",
            {"email": "pas-une-adresse", "display_name": "X", "role": "cnccfp"},
        )
        assert refused.status_code == 422 and 'id="champ-email-erreur"' in refused.text
        page = await http.get("/administration/comptes")
        account_id = me["account_id"]
        assert f"/administration/comptes/{account_id}/desactivation" in page.text
        disabled = await post_page_form(
            http,
            "/administration/comptes",
            f"/administration/comptes/{account_id}/desactivation",
            {},
        )
        assert disabled.status_code == 303
        async with web.http(token.group(1)) as agent:
            assert (await agent.get("/auth/me")).status_code == 401

        saved = await post_page_form(
            http,
            "/administration/prefectures",
            "/administration/prefectures",
            {"departement": "2A", "email": "pref-2a@interieur.example.test"},
        )
        assert saved.status_code == 303
        assert "pref-2a@interieur.example.test" in (await http.get(saved.headers["location"])).text

        election_id = f"legislatives-{uuid.uuid4().hex[:6]}"
        added = await post_page_form(
            http,
            "/administration/elections",
            "/administration/elections",
            {
                "election_id": election_id,
                "election_type": "legislatives",
                "label": "Législatives partielles",
                "first_round": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
                "second_round": "",
            },
        )
        assert added.status_code == 303, added.text
        elections = text_of((await http.get("/administration/elections")).text)
        assert "Législatives partielles" in elections and "Couverte" in elections

        journal = await http.get(
            "/administration/journal", params={"action": "add_election", "actor_role": "admin"}
        )
        assert journal.status_code == 200
        rows = re.findall(r"<tr>\s*<td>", journal.text)
        assert rows and "add_election" in journal.text and "set_prefecture" not in journal.text
        bad = await http.get("/administration/journal", params={"actor_role": "roi"})
        assert bad.status_code == 422 and 'id="champ-actor_role-erreur"' in bad.text

    async with staff_client(web, "cnccfp") as reviewer:
        assert (await reviewer.get("/administration/comptes")).status_code == 403
