"""The attacker's steps of issue 12, replayed: an anonymous client on the open internet.

Each step runs on an API with the production limits (the defaults of ``Settings``), on its own
database, except the steps that need cases (the shared stack, whose limits are raised)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from api.staff import create_staff
from core.accounts import Accounts
from core.settings import Settings
from domain.documents import DocumentKind
from domain.stages import Role
from embedded.mailbox import MailServer
from tests.api.abuse_steps import (
    accepted_before_limit,
    assert_limited,
    body_of,
    limited_api,
    new_address,
)
from tests.api.conftest import ApiStack
from tests.api.flow import account_id, case_id_of, new_email, open_case, upload
from tests.helpers import assert_eventually

# A line break in a name is refused outright (input hygiene); the URL alone still gets through the
# name field, and must still never reach the email.
ATTACKER_NAME = "Urgent : payez sur http://phishing.example/etat - La Préfecture"
SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy")


def assert_security_headers(response: Any) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    assert response.headers["cache-control"] == "no-store"


async def test_thirty_account_creations_get_five_through_and_no_attacker_text(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    strangers = [new_address("inconnu") for _ in range(30)]
    async with (
        limited_api(settings, workdir / f"abuse-{uuid.uuid4().hex[:6]}", mail_server) as app,
        app.http() as http,
    ):
        accepted, refused = await accepted_before_limit(
            lambda i: http.post(
                "/auth/accounts", json={"email": strangers[i], "name": ATTACKER_NAME}
            ),
            30,
        )
        assert accepted == 5
        body = assert_limited(refused)
        assert_security_headers(refused)
        assert "Retry-After" in body["detail"]
        for stranger in strangers[accepted + 1 :]:
            assert_limited(await http.post("/auth/accounts", json={"email": stranger}))

        async def five_sent() -> None:
            assert all(app.emails_to(address) for address in strangers[:accepted])

        await assert_eventually(five_sent)
        # Nothing went to the addresses past the limit, and no email carries the attacker's text.
        assert not any(app.emails_to(address) for address in strangers[accepted:])
        for address in strangers[:accepted]:
            (email,) = app.emails_to(address)
            text = body_of(email)
            assert "phishing" not in text and "Urgent" not in text and "Préfecture" not in text
            assert text.startswith("Bonjour,\n")
            account = await app.accounts.find_by_email(address)
            assert account is not None and account.display_name == ""


async def test_sign_in_tokens_cannot_be_guessed_at_speed(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(settings, workdir / f"abuse-{uuid.uuid4().hex[:6]}", mail_server) as app,
        app.http() as http,
    ):
        accepted, refused = await accepted_before_limit(
            lambda i: http.post("/auth/sessions", json={"token": f"devine-{i:06d}"}), 100
        )
        assert accepted == 10
        assert_limited(refused)
        assert_security_headers(refused)
        # Bearer tokens: 30 refusals a minute, then none is even checked.
        accepted, refused = await accepted_before_limit(
            lambda i: http.get("/auth/me", headers={"Authorization": f"Bearer devine-{i}"}), 100
        )
        assert accepted == 30
        assert_limited(refused)


async def test_staff_addresses_get_no_emailed_link_and_the_answer_of_an_unknown_one(
    settings: Settings, workdir: Path, mail_server: MailServer
) -> None:
    async with (
        limited_api(
            settings,
            workdir / f"abuse-{uuid.uuid4().hex[:6]}",
            mail_server,
            rate_limit_emails="100/minute",
        ) as app,
        app.http() as http,
    ):
        staff = []
        for role, departements in (
            (Role.ADMIN, []),
            (Role.OPERATOR, []),
            (Role.PREFECTURE, ["60"]),
            (Role.CNCCFP, []),
        ):
            address = new_address(role.value.replace("_", ""))
            await create_staff(
                app.accounts,
                email=address,
                display_name="Agent",
                role=role,
                departements=departements,
            )
            staff.append(address)
        unknown = await http.post("/auth/sign-in-links", json={"email": new_address()})
        for address in staff:
            for path, body in (
                ("/auth/sign-in-links", {"email": address}),
                ("/auth/accounts", {"email": address, "name": "Agent"}),
            ):
                response = await http.post(path, json=body)
                assert (response.status_code, response.json()) == (
                    unknown.status_code,
                    unknown.json(),
                )
        # One queue sends the links in order: once a candidate's arrives, the staff's were
        # handled before it.
        candidate = new_address("candidat")
        await http.post("/auth/accounts", json={"email": candidate})
        await app.link_for(candidate)
        assert not any(app.emails_to(address) for address in staff)


async def test_a_squatted_address_names_no_case_until_its_owner_names_it(api: ApiStack) -> None:
    victim = new_email("victime")
    async with api.http() as http:
        # The attacker creates the account first, with a name of their choosing.
        response = await http.post("/auth/accounts", json={"email": victim, "name": ATTACKER_NAME})
        assert response.status_code == 202
    # The owner of the address signs in from the link they received.
    token = await api.link_token(victim, 0)
    async with api.http() as http:
        session = (await http.post("/auth/sessions", json={"token": token})).json()["token"]
    async with api.http(session) as http:
        me = (await http.get("/auth/me")).json()
        assert me["confirmed"] is True and me["name_confirmed"] is False
        assert me["display_name"] == ""
        case_id = case_id_of(api, await account_id(http))
        proof = await upload(http, case_id, DocumentKind.CANDIDACY_PROOF, "declaration.pdf")
        complaint = await upload(http, case_id, DocumentKind.COMPLAINT_REPORT, "plainte.pdf")
        opening = {
            "election_id": api.election_id,
            "departement": "60",
            "candidacy_declared_on": api.first_round.isoformat(),
            "complaint_document_refs": [complaint],
            "candidacy_proof_ref": proof,
        }
        refused = await http.post("/cases", json=opening)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "account_not_confirmed"
        assert "indiquez votre nom" in refused.json()["detail"]
        # A name is checked as any name is.
        invalid = await http.patch("/auth/me", json={"display_name": ""})
        assert invalid.status_code == 422 and invalid.json()["detail"]
        named = await http.patch("/auth/me", json={"display_name": "Camille Lefèvre"})
        assert named.status_code == 200, named.text
        assert named.json()["name_confirmed"] is True
        assert named.json()["display_name"] == "Camille Lefèvre"
    case = await open_case(api, session)
    assert case["candidate"]["name"] == "Camille Lefèvre"


async def test_an_account_never_signed_in_from_its_link_opens_no_case(api: ApiStack) -> None:
    accounts = Accounts(api.engine, api.settings)
    account = await accounts.create(email=new_email(), display_name="", role=Role.CANDIDATE)
    session = await accounts.open_session(account.account_id)
    async with api.http(session) as http:
        named = await http.patch("/auth/me", json={"display_name": "Camille Lefèvre"})
        assert named.json()["confirmed"] is False
        response = await http.post(
            "/cases",
            json={
                "election_id": api.election_id,
                "departement": "60",
                "candidacy_declared_on": api.first_round.isoformat(),
                "complaint_document_refs": ["absent"],
                "candidacy_proof_ref": "absent",
            },
        )
        assert response.status_code == 409 and response.json()["code"] == "account_not_confirmed"


async def test_the_mandate_route_answers_alike_for_every_kind_of_address(api: ApiStack) -> None:
    accounts = Accounts(api.engine, api.settings)
    owner = await api.sign_in(new_email())
    case_id = (await open_case(api, owner))["case_id"]
    disabled = await accounts.create(
        email=new_email("ancien"), display_name="", role=Role.THIRD_PARTY
    )
    await accounts.disable(disabled.account_id)
    staff_address = new_email("agent")
    await create_staff(
        accounts,
        email=staff_address,
        display_name="Agent",
        role=Role.PREFECTURE,
        departements=["60"],
    )
    other_candidate = new_email("autre")
    await accounts.create(email=other_candidate, display_name="", role=Role.CANDIDATE)
    addresses = {
        "unknown": new_email("tiers"),
        "candidate": other_candidate,
        "staff": staff_address,
        "disabled": disabled.email,
    }
    answers = {}
    async with api.http(owner) as http:
        for kind, address in addresses.items():
            mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
            response = await http.post(
                f"/cases/{case_id}/third-party",
                json={"email": address, "name": "Dominique Tiers", "mandate_document": mandate},
            )
            assert_security_headers(response)
            body = response.json()
            answers[kind] = (
                response.status_code,
                body.get("stage"),
                tuple(sorted(body)),
                tuple(sorted(body.get("third_party") or {})),
            )
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == 200
    # Nobody but a third-party account gets access through a designation.
    for kind in ("candidate", "staff", "disabled"):
        account = await accounts.find_by_email(addresses[kind])
        assert account is not None
        assert not await accounts.holds_mandate(case_id=case_id, account_id=account.account_id)
