"""Routes that send one action of the stage table as a Temporal update.

Every such route is made here, from the action's row of ``domain.stages.RULES``: the roles it
allows are the rule's roles, the update it sends is named by the action. The authorisation matrix
test finds them through ``ACTION_ROUTES``.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotations, which
# name the body model held by a local variable.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from api.deps import Allow, CurrentUser, IdempotencyKeyDep, ServicesDep
from api.errors import PROBLEM_RESPONSES
from api.gateway import CaseGateway, case_public
from api.schemas import CasePublic
from domain.contracts import ActionInput, Actor
from domain.stages import RULES, Action

CaseIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=140,
        description="Identifiant du dossier (case-<élection>-<candidat>).",
    ),
]


@dataclass(frozen=True)
class ActionRoute:
    """One route that carries one action."""

    method: str
    path: str
    action: Action
    body: type[BaseModel] | None


ACTION_ROUTES: list[ActionRoute] = []
"""Every action route, in the order they are declared."""


def _roles_text(action: Action) -> str:
    names = {
        "candidate": "candidat",
        "third_party": "tiers mandaté",
        "prefecture": "préfecture",
        "cnccfp": "CNCCFP",
    }
    allowed = sorted(names.get(role.value, role.value) for role in RULES[action].roles)
    stages = ", ".join(sorted(stage.value for stage in RULES[action].from_stages))
    return f"\n\nRéservé à : {', '.join(allowed)}. Possible aux étapes : {stages}."


def action_route(
    router: APIRouter,
    path: str,
    action: Action,
    body: type[BaseModel] | None,
    to_input: Callable[[Actor, Any], ActionInput],
    *,
    summary: str,
    description: str,
    method: str = "POST",
) -> None:
    """Declare the route that sends ``action``.

    Args:
        router: The audience's router.
        path: Under ``/cases/{case_id}``.
        action: The action; its rule gives the allowed roles.
        body: The request body's model, or None when the action takes no data.
        to_input: Builds the action's contract from the actor and the body.
        summary: French title in the documentation.
        description: French explanation in the documentation.
        method: HTTP method.
    """
    allow = Allow(*RULES[action].roles)
    responses = {code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 409, 422, 503)}

    async def send(
        services: ServicesDep,
        user: CurrentUser,
        case_id: str,
        key: str | None,
        data: BaseModel | None,
    ) -> CasePublic:
        gateway = CaseGateway(services)
        state = await gateway.act(user, case_id, action, lambda: to_input(user.actor, data), key)
        return case_public(state, user.role)

    if body is None:

        async def endpoint_without_body(
            case_id: CaseIdPath,
            services: ServicesDep,
            user: Annotated[CurrentUser, Depends(allow)],
            key: IdempotencyKeyDep,
        ) -> CasePublic:
            return await send(services, user, case_id, key, None)

        endpoint: Callable[..., Any] = endpoint_without_body
    else:
        model = body

        async def endpoint_with_body(
            case_id: CaseIdPath,
            data: model,  # type: ignore[valid-type]
            services: ServicesDep,
            user: Annotated[CurrentUser, Depends(allow)],
            key: IdempotencyKeyDep,
        ) -> CasePublic:
            return await send(services, user, case_id, key, data)

        endpoint = endpoint_with_body

    full_path = f"/cases/{{case_id}}{path}"
    router.add_api_route(
        full_path,
        endpoint,
        methods=[method],
        response_model=CasePublic,
        summary=summary,
        description=description + _roles_text(action),
        responses=responses,  # type: ignore[arg-type]
        name=action.value,
        openapi_extra={"x-secupol-action": action.value},
    )
    ACTION_ROUTES.append(ActionRoute(method, full_path, action, body))
