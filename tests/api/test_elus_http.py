"""The élus' three procedures end to end over HTTP, on the real API, worker and dev server.

Dates in the past stand for the delays (no waiting): a request received months ago whose two
formalities were done in time became protected, then final, the moment it was filed; a loan
handed over more than three months ago is overdue at once and escalates to the prefecture.
Then every élus route × every kind of caller (the élus' authorisation matrix).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.deps import Allow
from api.routes import elus as elus_routes
from core.elus import ElusClient
from domain.elus import ELUS_RULES, ElusAction, ElusStage, ProtectionState
from domain.protection import add_months
from domain.stages import Role
from tests.api.conftest import ApiStack
from tests.api.flow import account_id, new_email
from tests.helpers import assert_eventually, paris_today

DAY = dt.timedelta(days=1)


@dataclass
class ElusWorld:
    collectivite_id: str
    tokens: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    closed: dict[str, str] = field(default_factory=dict)
    """A closed procedure of each kind: protection, bouton, protection-candidat."""


async def _post(api: ApiStack, token: str, path: str, body: dict[str, Any], expected: int) -> Any:
    async with api.http(token) as http:
        response = await http.post(path, json=body)
    assert response.status_code == expected, response.text
    return response.json()


async def _get(api: ApiStack, token: str, path: str, expected: int = 200) -> Any:
    async with api.http(token) as http:
        response = await http.get(path)
    assert response.status_code == expected, response.text
    return response.json()


def _subjects(api: ApiStack, address: str) -> list[str]:
    return [str(message["Subject"]) for message in api.mail.store.for_recipient(address)]


async def _mail(api: ApiStack, address: str, fragment: str) -> None:
    async def arrived() -> None:
        assert any(fragment in subject for subject in _subjects(api, address)), _subjects(
            api, address
        )

    await assert_eventually(arrived)


async def _stage(api: ApiStack, token: str, procedure_id: str, stage: ElusStage) -> Any:
    async def reached() -> Any:
        view = await _get(api, token, f"/elus/procedures/{procedure_id}")
        assert view["stage"] == stage.value, view["stage"]
        return view

    return await assert_eventually(reached)


@pytest.fixture(scope="module")
async def world(api: ApiStack) -> ElusWorld:
    """Two collectivités with a staff account each, two officials, two candidates."""
    tag = uuid.uuid4().hex[:6]
    admin = api.staff["admin"]
    world = ElusWorld(collectivite_id=f"commune-60057-{tag}")
    for key, collectivite_id, departement in (
        ("coll", world.collectivite_id, "60"),
        ("other_coll", f"commune-75056-{tag}", "75"),
    ):
        await _post(
            api,
            admin,
            "/elus/collectivites",
            {
                "collectivite_id": collectivite_id,
                "name": f"Commune {collectivite_id}",
                "departement": departement,
                "email": f"service-{collectivite_id}@mairie.example.test",
            },
            201,
        )
        created = await _post(
            api,
            admin,
            "/elus/collectivite-staff",
            {
                "email": new_email(key),
                "display_name": "Agent de la commune",
                "collectivites": [collectivite_id],
            },
            201,
        )
        world.tokens[key] = created["token"]
    for key in ("elu", "other_elu"):
        email = new_email(key)
        await _post(
            api,
            world.tokens["coll"],
            "/elus/officials",
            {"email": email, "name": "Dominique Leroy"},
            201,
        )
        world.tokens[key] = await api.sign_in(email, name="Dominique Leroy", create=False)
        world.emails[key] = email
    for key in ("candidate", "other_candidate"):
        email = new_email(key)
        world.tokens[key] = await api.sign_in(email, name="Camille Martin")
        world.emails[key] = email
    for key in ("pref60", "pref75", "cnccfp", "admin", "operator"):
        world.tokens[key] = api.staff[key]
    return world


async def test_functional_protection_filed_by_staff_long_ago_is_protected_then_final(
    api: ApiStack, world: ElusWorld
) -> None:
    received = paris_today() - 200 * DAY
    coll = world.tokens["coll"]
    filed = await _post(
        api,
        coll,
        "/elus/protections",
        {
            "collectivite_id": world.collectivite_id,
            "mandate": "Conseillère municipale",
            "facts": "Menaces reçues après la séance du conseil.",
            "official_name": "Dominique Leroy",
            "official_email": world.emails["elu"],
            "received_on": received.isoformat(),
        },
        201,
    )
    procedure_id = filed["procedure_id"]
    assert filed["delay_ends_on"] == (received + 5 * DAY).isoformat()
    # The settings' delays are the request's policy (the convening reminder's among them).
    state = await ElusClient(api.cases.client, api.cases.task_queue).state(procedure_id)
    assert isinstance(state, ProtectionState)
    assert state.request.policy.convening_reminder_before == dt.timedelta(days=12)
    # Out of scope: someone else's collectivité does not see it; a future day is refused.
    await _get(api, world.tokens["other_coll"], f"/elus/procedures/{procedure_id}", 404)
    future = {"done_on": (paris_today() + DAY).isoformat()}
    problem = await _post(api, coll, f"/elus/procedures/{procedure_id}/transmission", future, 422)
    assert problem["code"] == "invalid_date_range" and problem["detail"]

    in_time = {"done_on": (received + 2 * DAY).isoformat()}
    done = await _post(api, coll, f"/elus/procedures/{procedure_id}/transmission", in_time, 200)
    assert done["stage"] == ElusStage.FP_RECEIVED.value
    await _post(api, coll, f"/elus/procedures/{procedure_id}/council-information", in_time, 200)
    view = await _stage(api, coll, procedure_id, ElusStage.FP_FINAL)
    assert view["starts_on"] == (received + 6 * DAY).isoformat()
    official = world.emails["elu"]
    for fragment in ("Accusé de réception", "a commencé", "définitive"):
        await _mail(api, official, fragment)
    await _mail(api, "pref-60@interieur.example.test", "Transmission")
    # The official (whose account the address is) and the prefecture of the 60 see it.
    mine = await _get(api, world.tokens["elu"], "/elus/procedures")
    assert procedure_id in [item["procedure_id"] for item in mine]
    await _get(api, world.tokens["pref60"], f"/elus/procedures/{procedure_id}")
    await _get(api, world.tokens["pref75"], f"/elus/procedures/{procedure_id}", 404)
    await _get(api, world.tokens["other_elu"], f"/elus/procedures/{procedure_id}", 404)
    world.closed["protection"] = procedure_id


async def test_functional_protection_filed_by_the_official_is_withdrawn_by_deliberation(
    api: ApiStack, world: ElusWorld
) -> None:
    today = paris_today().isoformat()
    filed = await _post(
        api,
        world.tokens["elu"],
        "/elus/protections",
        {
            "collectivite_id": world.collectivite_id,
            "mandate": "Maire-adjointe",
            "facts": "Outrage lors d'une réunion publique.",
        },
        201,
    )
    procedure_id = filed["procedure_id"]
    assert filed["received_on"] == today
    coll = world.tokens["coll"]
    await _post(api, coll, f"/elus/procedures/{procedure_id}/transmission", {"done_on": today}, 200)
    scheduled = await _post(
        api,
        coll,
        f"/elus/procedures/{procedure_id}/council-information",
        {"done_on": today},
        200,
    )
    assert scheduled["stage"] == ElusStage.FP_SCHEDULED.value
    # Members ask for the council to be convened; it must sit within the four months.
    await _post(
        api,
        coll,
        f"/elus/procedures/{procedure_id}/convening-request",
        {"requested_on": today},
        200,
    )
    shown = await _get(api, coll, f"/elus/procedures/{procedure_id}")
    starts_on = dt.date.fromisoformat(shown["starts_on"])
    deadline = add_months(starts_on, 4) - dt.timedelta(days=1)
    assert (shown["convening_requested_on"], shown["convening_deadline"]) == (
        today,
        deadline.isoformat(),
    )
    late = (deadline + dt.timedelta(days=1)).isoformat()
    await _post(
        api,
        coll,
        f"/elus/procedures/{procedure_id}/council-convened",
        {"convened_on": today, "session_on": late},
        200,
    )
    shown = await _get(api, coll, f"/elus/procedures/{procedure_id}")
    assert (shown["council_session_on"], shown["council_session_late"]) == (late, True)
    # The official may not record the council's deliberation; an unmotivated one is refused.
    deliberation = {"kind": "retrait", "deliberation_on": today, "reason": "Faits sans lien."}
    await _post(
        api, world.tokens["elu"], f"/elus/procedures/{procedure_id}/deliberation", deliberation, 403
    )
    await _post(
        api,
        coll,
        f"/elus/procedures/{procedure_id}/deliberation",
        {**deliberation, "reason": ""},
        422,
    )
    withdrawn = await _post(
        api, coll, f"/elus/procedures/{procedure_id}/deliberation", deliberation, 200
    )
    assert withdrawn["stage"] == ElusStage.FP_WITHDRAWN.value
    await _mail(api, world.emails["elu"], "Délibération")


async def test_alert_button_loan_escalates_when_overdue_then_is_renewed_and_returned(
    api: ApiStack, world: ElusWorld
) -> None:
    pref = world.tokens["pref60"]
    today = paris_today()
    body = {
        "departement": "60",
        "official_name": "Dominique Leroy",
        "official_email": world.emails["elu"],
        "mandate": "Maire",
        "referent_evaluated_on": (today - 100 * DAY).isoformat(),
        "decided_on": (today - 99 * DAY).isoformat(),
    }
    await _post(api, world.tokens["pref75"], "/elus/alert-buttons", body, 422)
    decided = await _post(api, pref, "/elus/alert-buttons", body, 201)
    procedure_id = decided["procedure_id"]
    # Handed over 98 days ago: the three months are over, the loan escalates at once.
    handed = {"handed_over_on": (today - 98 * DAY).isoformat()}
    await _post(api, pref, f"/elus/procedures/{procedure_id}/handover", handed, 200)
    await _stage(api, pref, procedure_id, ElusStage.AB_OVERDUE)
    await _mail(api, "pref-60@interieur.example.test", "échu sans décision")
    renewed = await _post(
        api,
        pref,
        f"/elus/procedures/{procedure_id}/renewal",
        {"renewed_on": today.isoformat()},
        200,
    )
    assert renewed["stage"] == ElusStage.AB_LENT.value
    view = await _get(api, world.tokens["elu"], f"/elus/procedures/{procedure_id}")
    assert [period["starts_on"] for period in view["periods"]][-1] == today.isoformat()
    await _post(
        api,
        pref,
        f"/elus/procedures/{procedure_id}/return",
        {"returned_on": today.isoformat()},
        200,
    )
    await _stage(api, pref, procedure_id, ElusStage.AB_RETURNED)
    for fragment in ("Attribution", "Remise", "Renouvellement", "Restitution"):
        await _mail(api, world.emails["elu"], fragment)
    world.closed["bouton"] = procedure_id


async def test_candidate_state_protection_request_decided_with_its_notice(
    api: ApiStack, world: ElusWorld
) -> None:
    body = {
        "election_id": api.election_id,
        "departement": "60",
        "facts": "Agression lors d'un tractage.",
        "candidacy_declared_on": (paris_today() - 30 * DAY).isoformat(),
    }
    candidate = world.tokens["candidate"]
    missing = await _post(api, candidate, "/elus/state-protections", body, 422)
    assert missing["code"] == "evaluation_proofs_required"
    body["complaint_reference"] = "PV 2026/00123"
    requested = await _post(api, candidate, "/elus/state-protections", body, 201)
    procedure_id = requested["procedure_id"]
    await _mail(api, "pref-60@interieur.example.test", "d'un candidat")
    await _get(api, world.tokens["other_candidate"], f"/elus/procedures/{procedure_id}", 404)
    refused = await _post(
        api,
        world.tokens["pref60"],
        f"/elus/procedures/{procedure_id}/decision",
        {"granted": False, "decided_on": paris_today().isoformat()},
        422,
    )
    assert refused["code"] == "reasons_required"
    await _post(
        api,
        world.tokens["pref60"],
        f"/elus/procedures/{procedure_id}/decision",
        {
            "granted": True,
            "decided_on": paris_today().isoformat(),
            "reasons": "Protection assurée par la brigade de gendarmerie.",
        },
        200,
    )
    await _stage(api, candidate, procedure_id, ElusStage.CP_GRANTED)
    await _mail(api, world.emails["candidate"], "Décision")
    world.closed["protection-candidat"] = procedure_id


# --- The élus' authorisation matrix ---------------------------------------------------------------

CALLERS: dict[str, Role | None] = {
    "anonymous": None,
    "elu": Role.ELU,
    "other_elu": Role.ELU,
    "coll": Role.COLLECTIVITE,
    "other_coll": Role.COLLECTIVITE,
    "pref60": Role.PREFECTURE,
    "pref75": Role.PREFECTURE,
    "candidate": Role.CANDIDATE,
    "other_candidate": Role.CANDIDATE,
    "cnccfp": Role.CNCCFP,
    "admin": Role.ADMIN,
    "operator": Role.OPERATOR,
}
IN_SCOPE = {
    "protection": {"elu", "coll", "pref60"},
    "bouton": {"elu", "pref60"},
    "protection-candidat": {"candidate", "pref60"},
}
ROUTES = [route for route in elus_routes.router.routes if isinstance(route, APIRoute)]


def roles_of(route: APIRoute) -> frozenset[Role] | None:
    """The roles a route allows, from its ``Allow`` dependency."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Allow):
            return dependency.call.roles
        pending.extend(dependency.dependencies)
    return None


def body_for(route: APIRoute) -> dict[str, Any] | None:
    today = paris_today().isoformat()
    return {
        "record_transmission": {"done_on": today},
        "record_council_information": {"done_on": today},
        "record_deliberation": {"kind": "retrait", "deliberation_on": today, "reason": "Motifs."},
        "record_convening_request": {"requested_on": today},
        "record_council_convened": {"convened_on": today, "session_on": today},
        "record_handover": {"handed_over_on": today},
        "renew_loan": {"renewed_on": today},
        "record_return": {"returned_on": today},
        "decide_state_protection": {"granted": True, "decided_on": today},
        "withdraw_state_protection_request": {},
    }.get(route.name, {} if "POST" in route.methods else None)


def test_every_elus_route_is_guarded_and_every_action_has_its_route() -> None:
    assert all(roles_of(route) for route in ROUTES)
    by_name = {route.name: route for route in ROUTES}
    for action, rule in ELUS_RULES.items():
        if Role.SYSTEM in rule.roles:
            continue
        assert action.value in by_name, f"no route for {action.value}"
        assert roles_of(by_name[action.value]) == rule.roles


def _procedure_for(route: APIRoute) -> str | None:
    action = (route.openapi_extra or {}).get("x-secupol-elus-action")
    if action is None:
        return None
    return str(ELUS_RULES[ElusAction(action)].procedure.value)


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_elus_authorisation_matrix(api: ApiStack, world: ElusWorld, caller: str) -> None:
    """Run after the procedures above: one of each kind is closed."""
    assert set(world.closed) == set(IN_SCOPE), "the end-to-end tests above run first"
    role = CALLERS[caller]
    token = world.tokens.get(caller)
    failures = []
    async with api.http(token) as http:
        for route in ROUTES:
            roles = roles_of(route) or frozenset()
            method = next(iter(route.methods))
            kinds = (
                [_procedure_for(route)]
                if _procedure_for(route)
                else list(IN_SCOPE)
                if "{procedure_id}" in route.path
                else [None]
            )
            for kind in kinds:
                if role is not None and role in roles and "{procedure_id}" not in route.path:
                    continue  # starts and admin routes: their own tests above
                url = route.path.format(procedure_id=world.closed.get(kind or "", "none"))
                response = await http.request(method, url, json=body_for(route))
                if role is None:
                    expected = {401}
                elif role not in roles:
                    expected = {403}
                elif kind is not None and caller not in IN_SCOPE[kind]:
                    expected = {404}
                elif method == "GET":
                    expected = {200}
                else:
                    expected = {409}  # in scope, on a closed procedure
                if response.status_code not in expected:
                    failures.append(f"{method} {url}: {response.status_code} not in {expected}")
                elif response.status_code >= 400:
                    problem = response.json()
                    assert problem["code"] and problem["detail"]
    assert not failures, "\n".join(failures)


async def test_the_official_account_id(api: ApiStack, world: ElusWorld) -> None:
    async with api.http(world.tokens["elu"]) as http:
        assert (await account_id(http)).startswith("elu")
