"""Schemathesis over the OpenAPI schema: a few hundred generated requests, none answered 5xx.

The generated requests carry a real session token (a CNCCFP reviewer's, then a candidate's) and
aim at a real case, so that they get past authentication and scope and reach the routes' own
checks and the workflow's validators. The fuzzer runs in a thread:
its HTTP client is synchronous, and the API under test serves from this test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.api.conftest import ApiStack
from tests.api.flow import new_email, open_case

EXAMPLES_PER_ROLE = 150
HTML_PAGES = {"/auth/sign-in", "/codec/connexion"}
"""Forms for people in a browser: they answer HTML, refusals included."""


def fuzz(base_url: str, token: str, examples: int, case_id: str) -> tuple[int, list[str]]:
    # Signing out would end the session the rest of the run uses. The staff sign-in routes send
    # the browser to an identity provider (none answers here): tests/api/test_staff_oidc.py
    # drives them against a real one.
    schema = (
        schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        .exclude(path="/auth/sessions/current", method="DELETE")
        .exclude(path_regex="^/auth/staff/")
    )
    seen: list[int] = []
    errors: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy())
    def check(case: Any) -> None:
        if case.path_parameters and "case_id" in case.path_parameters:
            # Most generated ids name no case: aim at a real one, so that bodies reach the
            # routes' own checks and the workflow.
            case.path_parameters["case_id"] = case_id
        response = case.call(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        seen.append(response.status_code)
        if response.status_code >= 500:
            errors.append(f"{case.method} {case.formatted_path}: {response.status_code}")
        elif response.status_code >= 400 and case.path not in HTML_PAGES:
            content_type = response.headers.get("content-type") or [""]
            assert content_type[0] == "application/problem+json", (
                f"{case.method} {case.formatted_path}"
            )

    check()
    return len(seen), errors


async def test_generated_requests_never_get_a_server_error(api: ApiStack) -> None:
    candidate = await api.sign_in(new_email())
    case_id = (await open_case(api, candidate))["case_id"]
    total = 0
    for token in (api.staff["cnccfp"], candidate):
        count, errors = await asyncio.to_thread(
            fuzz, api.base_url, token, EXAMPLES_PER_ROLE, case_id
        )
        assert not errors, errors
        total += count
    assert total >= EXAMPLES_PER_ROLE
