"""Every route × every kind of caller, with the status each must get.

The routes are read from the application itself (each declares its roles through ``Allow``), so
a new route is in the matrix the day it is written. The callers are: nobody, the candidate who
owns the case, another candidate, the third party the owner mandated, prefecture staff of the
case's département and of another, a CNCCFP reviewer, an admin and an operator.

The case is withdrawn before the matrix runs, so that no call can change it: an allowed action
on it is a 409 (case closed), someone outside its scope gets a 404 whether or not it exists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.deps import Allow
from api.main import api_routes
from domain.documents import DocumentKind
from domain.stages import RULES, Role
from embedded.demo import sample_pdf
from tests.api.conftest import ApiStack
from tests.api.flow import act, expense_line, new_email, open_case, upload


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role | None
    in_scope: bool
    """Whether the case is theirs to see (own case, mandate, département, reviewer)."""


CALLERS = [
    Caller("anonymous", None, False),
    Caller("candidate", Role.CANDIDATE, True),
    Caller("other_candidate", Role.CANDIDATE, False),
    Caller("third_party", Role.THIRD_PARTY, True),
    Caller("prefecture_60", Role.PREFECTURE, True),
    Caller("prefecture_75", Role.PREFECTURE, False),
    Caller("cnccfp", Role.CNCCFP, True),
    Caller("admin", Role.ADMIN, True),
    Caller("operator", Role.OPERATOR, True),
]


def roles_of(route: APIRoute) -> frozenset[Role] | None:
    """The roles a route allows, from its ``Allow`` dependency (None: no such dependency)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Allow):
            return dependency.call.roles
        pending.extend(dependency.dependencies)
    return None


def guarded_routes() -> list[tuple[str, str, APIRoute]]:
    routes = []
    for route in api_routes():
        if roles_of(route) is not None:
            for method in sorted(route.methods):
                routes.append((method, route.path, route))
    return routes


ROUTES = guarded_routes()
PUBLIC = {"/auth/accounts", "/auth/sign-in-links", "/auth/sessions", "/auth/sign-in", "/elections"}
SIGNED_IN_ANY_ROLE = {"/auth/me", "/auth/sessions/current"}


def test_every_route_is_either_public_signed_in_or_guarded_by_roles() -> None:
    unguarded = {route.path for route in api_routes() if roles_of(route) is None}
    assert unguarded == PUBLIC | SIGNED_IN_ANY_ROLE
    # Every action of the stage table that a person takes has its route, named after it, whose
    # roles are the rule's (open_case carries request_evaluation's first occurrence).
    people = {Role.CANDIDATE, Role.THIRD_PARTY, Role.PREFECTURE, Role.CNCCFP}
    by_name = {route.name: route for _, _, route in ROUTES}
    for action, rule in RULES.items():
        if rule.roles & people:
            assert action.value in by_name, f"no route for {action.value}"
            assert roles_of(by_name[action.value]) == rule.roles, action.value


@dataclass
class World:
    case_id: str
    document_id: str
    line_id: str
    spare_account: str
    tokens: dict[str, str]


@pytest.fixture(scope="package")
async def world(api: ApiStack) -> World:
    owner = await api.sign_in(new_email("owner"))
    other = await api.sign_in(new_email("other"))
    case = await open_case(api, owner)
    case_id = case["case_id"]
    third_email = new_email("tiers")
    async with api.http(owner) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        await act(
            http,
            "POST",
            f"/cases/{case_id}/third-party",
            {"email": third_email, "name": "Tiers", "mandate_document": mandate},
        )
        document_id = await upload(http, case_id, DocumentKind.OTHER, "autre.pdf")
        await act(http, "POST", f"/cases/{case_id}/withdrawal", {"reason": "Matrice"})
    third = await api.sign_in(third_email, create=False)
    async with api.http(api.staff["admin"]) as http:
        response = await http.post(
            "/admin/accounts",
            json={"email": new_email("spare"), "display_name": "Jetable", "role": "cnccfp"},
        )
        assert response.status_code == 201, response.text
        spare = response.json()["account"]["account_id"]
    return World(
        case_id=case_id,
        document_id=document_id,
        line_id="ligne-inexistante",
        spare_account=spare,
        tokens={
            "candidate": owner,
            "other_candidate": other,
            "third_party": third,
            "prefecture_60": api.staff["pref60"],
            "prefecture_75": api.staff["pref75"],
            "cnccfp": api.staff["cnccfp"],
            "admin": api.staff["admin"],
            "operator": api.staff["operator"],
        },
    )


def body_for(route: APIRoute, stack: ApiStack, document: str) -> Any:
    today = dt.date.today().isoformat()
    unique = uuid.uuid4().hex[:8]
    return {
        "open_case": {
            "election_id": stack.election_id,
            "departement": "60",
            "candidacy_declared_on": (stack.first_round - dt.timedelta(days=90)).isoformat(),
        },
        "mandate_third_party": {
            "email": new_email("tiers"),
            "name": "Autre tiers",
            "mandate_document": document,
        },
        "request_evaluation": {"new_facts": "Nouvelles menaces."},
        "add_expense_line": expense_line(stack, document),
        "answer_observations": {"answer": "Réponse."},
        "withdraw": {},
        "record_evaluation": {
            "recognised": False,
            "decided_on": today,
            "decision_document": document,
        },
        "record_payment": {"amount_cents": 100, "paid_on": today, "reference": "VIR-1"},
        "send_observations": {"observations": "Observations."},
        "record_manual_verification": {"line_id": "l", "valid": True, "note": "Vu."},
        "decide": {"amount_cents": 0, "reasons": "Rejet."},
        "post_message": {"body": "Bonjour."},
        "create_staff_account": {
            "email": new_email("agent"),
            "display_name": "Agent",
            "role": "cnccfp",
        },
        "put_prefecture": {"email": "pref-61@interieur.example.test"},
        "create_election": {
            "election_id": f"matrice-{unique}",
            "election_type": "municipales",
            "label": "Matrice",
            "first_round": today,
        },
    }.get(route.name)


def expected_status(method: str, route: APIRoute, caller: Caller) -> int:
    roles = roles_of(route)
    assert roles is not None
    if caller.role is None:
        return 401
    if caller.role not in roles:
        return 403
    if "{case_id}" in route.path and not caller.in_scope:
        return 404
    if route.openapi_extra and "x-secupol-action" in route.openapi_extra:
        return 409  # the case is closed
    if route.name == "open_case":
        # The owner's case for this election exists and is closed; the other candidate opens
        # their own.
        return 409 if caller.in_scope else 201
    if route.name == "mandate_third_party":
        return 409
    return route.status_code or 200


@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.name)
async def test_authorisation_matrix(api: ApiStack, world: World, caller: Caller) -> None:
    token = world.tokens.get(caller.name)
    failures = []
    async with api.http(token) as http:
        for method, path, route in ROUTES:
            url = path.format(
                case_id=world.case_id,
                document_id=world.document_id,
                line_id=world.line_id,
                account_id=world.spare_account,
                departement="61",
            )
            if route.name == "upload_document":
                response = await http.post(
                    url,
                    params={"kind": "other", "filename": "piece.pdf"},
                    content=sample_pdf(f"matrice {uuid.uuid4().hex}"),
                    headers={"Content-Type": "application/pdf"},
                )
            else:
                response = await http.request(
                    method, url, json=body_for(route, api, world.document_id)
                )
            expected = expected_status(method, route, caller)
            if response.status_code != expected:
                failures.append(f"{method} {path}: {response.status_code} != {expected}")
            elif expected >= 400:
                problem = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert problem["status"] == expected and problem["code"] and problem["detail"]
                if expected == 404:
                    # Nothing in the answer says whether the case exists.
                    assert problem["code"] == "case_not_found"
    assert not failures, "\n".join(failures)


async def test_a_case_that_does_not_exist_is_404_for_everyone_who_may_look(
    api: ApiStack, world: World
) -> None:
    ghost = f"case-{api.election_id}-inexistant"
    for name in ("cnccfp", "prefecture_60"):
        async with api.http(world.tokens[name]) as http:
            response = await http.get(f"/cases/{ghost}")
            assert response.status_code == 404
            assert response.json()["code"] == "case_not_found"


async def test_signed_in_routes_need_a_valid_session(api: ApiStack, world: World) -> None:
    async with api.http() as http:
        assert (await http.get("/auth/me")).status_code == 401
    async with api.http("not-a-token") as http:
        response = await http.get("/auth/me")
        assert response.status_code == 401
        assert response.json()["code"] == "session_invalid"
    for name, token in world.tokens.items():
        async with api.http(token) as http:
            response = await http.get("/auth/me")
            assert response.status_code == 200, name
