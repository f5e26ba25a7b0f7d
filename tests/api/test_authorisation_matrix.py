"""Every route × every kind of caller, with the status each must get.

The routes are read from the application itself (each declares its roles through ``Allow``), so
a new route is in the matrix the day it is written. The callers are: nobody, the candidate who
owns the case, another candidate, the third party the owner mandated, prefecture staff of the
case's département and of another, a CNCCFP reviewer, an admin and an operator.

The case's threat is recognised (so that the CNCCFP sees it, rule 9), then the case is withdrawn
before the matrix runs, so that no call can change it: an allowed action on it is a 409 (case
closed), someone outside its scope gets a 404 whether or not it exists.

What each role then sees of a case (rule 9) is checked on a case under review, further down.
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
from tests.api.flow import (
    account_id,
    act,
    case_id_of,
    evaluation_proofs,
    expense_line,
    new_email,
    open_case,
    record_evaluation,
    submitted_case,
    upload,
)
from tests.helpers import assert_eventually


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
PUBLIC = {
    "/auth/accounts",
    "/auth/sign-in-links",
    "/auth/sessions",
    "/auth/sign-in",
    "/auth/staff/sign-in",
    "/auth/staff/callback",
    "/elections",
}
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
    proofs: dict[str, dict[str, Any]]
    """The opening body's proofs, by caller (each candidate's are uploaded to their own case)."""


@pytest.fixture(scope="package")
async def world(api: ApiStack) -> World:
    owner = await api.sign_in(new_email("owner"))
    other = await api.sign_in(new_email("other"))
    case = await open_case(api, owner)
    case_id = case["case_id"]
    first_request = case["evaluation_requests"][0]
    await record_evaluation(api, case_id)
    async with api.http(other) as http:
        other_proofs = await evaluation_proofs(http, case_id_of(api, await account_id(http)))
    third_email = new_email("tiers")
    async with api.http(owner) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        await act(
            http,
            "POST",
            f"/cases/{case_id}/third-party",
            {"email": third_email, "name": "Tiers", "mandate_document": mandate},
        )
        # A kind every reader of the case may see (rule 9): bank details.
        document_id = await upload(http, case_id, DocumentKind.BANK_DETAILS, "rib.pdf")
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
        proofs={
            "candidate": {
                "complaint_document_refs": first_request["document_refs"][:1],
                "candidacy_proof_ref": first_request["document_refs"][1],
            },
            "other_candidate": other_proofs,
        },
    )


def body_for(route: APIRoute, stack: ApiStack, document: str, proofs: dict[str, Any]) -> Any:
    today = dt.date.today().isoformat()
    unique = uuid.uuid4().hex[:8]
    declared = (stack.first_round - dt.timedelta(days=90)).isoformat()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    return {
        "open_case": {
            "election_id": stack.election_id,
            "departement": "60",
            "candidacy_declared_on": declared,
            **proofs,
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
            "candidacy_declared_on": declared,
        },
        "submit": {"rounds_attended": 1},
        "request_reevaluation": {"new_facts": "Nouvelles menaces.", "document_refs": [document]},
        "reevaluate_threat": {
            "level": 2,
            "decided_on": today,
            "decision_document": document,
            "reason": "Menace aggravée.",
        },
        "record_line_verdict": {"accepted_cents": 0, "reason": "Hors période."},
        "correct_rounds_attended": {"rounds_attended": 2, "reason": "Résultats officiels."},
        "open_late_window": {"deposit_deadline": later, "reason": "Retard de la préfecture."},
        "close_case": {"reason": "Demande abandonnée."},
        "record_payment": {"amount_cents": 100, "paid_on": today, "reference": "VIR-1"},
        "send_observations": {"observations": "Observations."},
        "record_manual_verification": {"line_id": "l", "valid": True, "note": "Vu."},
        "decide": {"amount_cents": 0, "reasons": "Rejet."},
        "post_message": {"body": "Bonjour."},
        "correct_first_round": {"first_round": today, "reason": "Date officielle."},
        "correct_deposit_deadline": {"deposit_deadline": later, "reason": "Décision de justice."},
        "add_note": {"reason": "Relance faite."},
        "retry_registry_checks": {"reason": "Registre rétabli."},
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
                    method,
                    url,
                    json=body_for(route, api, world.document_id, world.proofs.get(caller.name, {})),
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


# --- What each role sees (rule 9) ------------------------------------------------------------


@dataclass
class Reviewed:
    case_id: str
    candidate: str
    third_party: str


@pytest.fixture(scope="package")
async def reviewed(api: ApiStack) -> Reviewed:
    """A case under review: a line deposited, a round of observations sent, a third party."""
    token, case_id, _ = await submitted_case(api, [("F-VUE-1", 840_000)])
    third_email = new_email("tiers")
    async with api.http(token) as http:
        mandate = await upload(http, case_id, DocumentKind.MANDATE, "mandat.pdf")
        await act(
            http,
            "POST",
            f"/cases/{case_id}/third-party",
            {"email": third_email, "name": "Tiers", "mandate_document": mandate},
        )
    third = await api.sign_in(third_email, create=False)
    async with api.http(api.staff["cnccfp"]) as http:
        await act(
            http,
            "POST",
            f"/cases/{case_id}/observations",
            {"observations": "Merci de préciser.", "contested_line_ids": []},
        )
    return Reviewed(case_id=case_id, candidate=token, third_party=third)


async def _view(api: ApiStack, token: str, case_id: str) -> dict[str, Any]:
    async with api.http(token) as http:
        return await act(http, "GET", f"/cases/{case_id}")


@pytest.mark.parametrize("side", ["candidate", "third_party"])
async def test_the_candidate_side_sees_the_whole_case(
    api: ApiStack, reviewed: Reviewed, side: str
) -> None:
    token = reviewed.candidate if side == "candidate" else reviewed.third_party
    case = await _view(api, token, reviewed.case_id)
    assert case["candidate"]["email"]
    assert len(case["expense_lines"]) == 1 and case["claimed_cents"] == 840_000
    assert case["expense_lines"][0]["certification"]["not_state_protection"] is True
    assert len(case["rounds"]) == 1 and case["rounds"][0]["observations"]
    assert len(case["evaluation_requests"][0]["document_refs"]) == 2
    assert case["rounds_attended"] == 1 and case["decision_due"]
    assert case["third_party"]["name"] == "Tiers"
    # Operations' view and the CNCCFP's flags are not theirs.
    assert case["notifications"] == [] and case["duplicate_invoices"] == []


async def test_the_prefecture_sees_the_evaluation_and_payment_facts_only(
    api: ApiStack, reviewed: Reviewed
) -> None:
    case = await _view(api, api.staff["pref60"], reviewed.case_id)
    assert case["candidate"]["name"]
    assert len(case["evaluation_requests"][0]["document_refs"]) == 2
    assert case["evaluations"][0]["level"] == 1 and case["ceiling_cents"] == 1_500_000
    assert case["expense_lines"] == [] and case["line_count"] == 0
    assert case["claimed_cents"] is None and case["rounds_attended"] is None
    assert case["rounds"] == [] and case["line_checks"] == [] and case["line_verdicts"] == []
    assert case["seal"] is None and case["third_party"] is None
    async with api.http(api.staff["pref60"]) as http:
        response = await http.get(f"/cases/{reviewed.case_id}/messages")
        assert response.status_code == 403
        documents = (await http.get(f"/cases/{reviewed.case_id}/documents")).json()
    kinds = {document["kind"] for document in documents}
    assert kinds <= {"complaint_report", "candidacy_proof", "evaluation_decision", "bank_details"}
    assert {"complaint_report", "candidacy_proof", "evaluation_decision"} <= kinds


async def test_the_cnccfp_sees_the_claim_but_not_the_evaluation_request(
    api: ApiStack, reviewed: Reviewed
) -> None:
    case = await _view(api, api.staff["cnccfp"], reviewed.case_id)
    assert case["candidate"]["name"] and case["evaluations"][0]["decision_document"]
    assert len(case["expense_lines"]) == 1 and len(case["rounds"]) == 1
    request = case["evaluation_requests"][0]
    assert request["document_refs"] == [] and request["new_facts"] is None
    async with api.http(api.staff["cnccfp"]) as http:
        documents = (await http.get(f"/cases/{reviewed.case_id}/documents")).json()
    kinds = {document["kind"] for document in documents}
    assert "invoice" in kinds and not kinds & {"complaint_report", "candidacy_proof"}


async def test_the_operator_sees_no_personal_data_and_no_text(
    api: ApiStack, reviewed: Reviewed
) -> None:
    async def with_notifications() -> dict[str, Any]:
        case = await _view(api, api.staff["operator"], reviewed.case_id)
        assert case["notifications"]
        return case

    case = await assert_eventually(with_notifications)
    assert case["stage"] == "observations_pending" and case["deposit_deadline"]
    assert case["decision_due"] and case["history"]
    assert case["candidate"] is None and case["candidacy_declared_on"] is None
    assert case["third_party"] is None
    assert case["expense_lines"] == [] and case["line_count"] == 1
    assert case["claimed_cents"] is None and case["rounds"] == []
    assert case["evaluation_requests"][0]["document_refs"] == []
    assert case["evaluations"][0]["decision_document"] is None
    text = str(case)
    assert "Merci de préciser" not in text and "@" not in text
    async with api.http(api.staff["operator"]) as http:
        listed = (await http.get("/cases")).json()
        assert reviewed.case_id in [item["case_id"] for item in listed]
        response = await http.get(f"/cases/{reviewed.case_id}/documents")
        assert response.status_code == 403


async def test_the_cnccfp_does_not_see_a_case_before_the_threat_is_recognised(
    api: ApiStack,
) -> None:
    token = await api.sign_in(new_email())
    case_id = (await open_case(api, token))["case_id"]
    cnccfp = api.staff["cnccfp"]

    async def listed_for_prefecture() -> None:
        async with api.http(api.staff["pref60"]) as http:
            cases = (await http.get("/cases")).json()
        assert case_id in [item["case_id"] for item in cases]

    # Once the index shows the case to the prefecture, it would show it to the CNCCFP too.
    await assert_eventually(listed_for_prefecture)
    async with api.http(cnccfp) as http:
        for path in ("", "/documents"):
            response = await http.get(f"/cases/{case_id}{path}")
            assert response.status_code == 404, path
            assert response.json()["code"] == "case_not_found"
        cases = (await http.get("/cases")).json()
        assert case_id not in [item["case_id"] for item in cases]
    await record_evaluation(api, case_id)

    async def listed_for_cnccfp() -> None:
        async with api.http(cnccfp) as http:
            cases = (await http.get("/cases")).json()
        assert case_id in [item["case_id"] for item in cases]

    await assert_eventually(listed_for_cnccfp)
    case = await _view(api, cnccfp, case_id)
    assert case["stage"] == "threat_recognised"
