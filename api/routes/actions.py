"""Routes that send one action of the stage table as a Temporal update.

Every such route is made here, from the action's row of ``domain.stages.RULES``: the roles it
allows are the rule's roles, the update it sends is named by the action. The authorisation matrix
test finds them through ``ACTION_ROUTES``.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotations, which
# name the body model held by a local variable.

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from api.deps import Allow, CurrentUser, IdempotencyKeyDep, Services, ServicesDep
from api.errors import PROBLEM_RESPONSES
from api.gateway import CaseGateway
from api.schemas import CasePublic
from core.settings import Settings
from domain.contracts import ActionInput, Actor, CaseState
from domain.stages import RULES, Action

LineIdPath = Annotated[
    str, Path(min_length=1, max_length=200, description="Identifiant de la ligne de dépense.")
]
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
    to_input: "Callable[[ActionContext, Any], ActionInput] | None" = None
    after: "AfterAction | None" = None


@dataclass(frozen=True)
class ActionContext:
    """What a route knows when it builds an action's input."""

    actor: Actor
    received_at: dt.datetime
    """The API's clock when the request arrived (rule 4)."""
    settings: Settings
    line_id: str = ""
    """The expense line named by the path, for routes under ``/expense-lines/{line_id}``."""


AfterAction = Callable[[Services, str, Any, CaseState], Awaitable[None]]
"""Run after the workflow accepted the action: (services, case id, body, new state)."""

ACTION_ROUTES: list[ActionRoute] = []
"""Every action route, in the order they are declared."""
ROUTE_OF_ACTION: dict[Action, ActionRoute] = {}
"""The route of each action (the pages send actions through it, ``perform_action``)."""


async def perform_action(
    services: Services,
    user: CurrentUser,
    case_id: str,
    action: Action,
    data: BaseModel | None,
    key: str | None = None,
    line_id: str = "",
) -> CasePublic:
    """What the route of ``action`` does with a request: build the input from ``data`` (the
    route's body model), send it through the gateway (scope, documents, audit), run the route's
    ``after``, and return the case as ``user`` sees it. The pages call it with the body their
    form made: the same path to the workflow as the JSON API."""
    route = ROUTE_OF_ACTION[action]
    assert route.to_input is not None
    to_input = route.to_input
    received_at = dt.datetime.now(dt.UTC)
    context = ActionContext(user.actor, received_at, services.settings, line_id)

    def make_input() -> ActionInput:
        # An absent optional body is read as {} here, after the scope check: its model's
        # refusal is then a 422 like any other input's.
        given = route.body.model_validate({}) if data is None and route.body is not None else data
        return to_input(context, given)

    gateway = CaseGateway(services)
    state = await gateway.act(user, case_id, action, make_input, key, received_at=received_at)
    if route.after is not None:
        await route.after(services, case_id, data, state)
    return await gateway.view(user, state)


def _roles_text(action: Action) -> str:
    names = {
        "candidate": "candidat",
        "third_party": "tiers mandaté",
        "prefecture": "préfecture",
        "cnccfp": "CNCCFP",
        "operator": "exploitant",
    }
    allowed = sorted(names.get(role.value, role.value) for role in RULES[action].roles)
    stages = ", ".join(sorted(stage.value for stage in RULES[action].from_stages))
    return f"\n\nRéservé à : {', '.join(allowed)}. Possible aux étapes : {stages}."


def action_route(
    router: APIRouter,
    path: str,
    action: Action,
    body: type[BaseModel] | None,
    to_input: Callable[[ActionContext, Any], ActionInput],
    *,
    summary: str,
    description: str,
    method: str = "POST",
    after: AfterAction | None = None,
    optional_body: bool = False,
) -> None:
    """Declare the route that sends ``action``.

    Args:
        router: The audience's router.
        path: Under ``/cases/{case_id}``.
        action: The action; its rule gives the allowed roles.
        body: The request body's model, or None when the action takes no data.
        to_input: Builds the action's contract from the request's context (actor, receipt
            time, settings, and the ``{line_id}`` of the path if it has one) and the body.
        summary: French title in the documentation.
        description: French explanation in the documentation.
        method: HTTP method.
        after: Run once the workflow accepted the action (indexes kept beside the case).
        optional_body: A request without a body is read as ``{}``, so that the body model's own
            checks give the refusal (an old client that sends nothing learns what is missing).
    """
    allow = Allow(*RULES[action].roles)
    responses = {code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 409, 422, 503)}

    async def send(
        services: ServicesDep,
        user: CurrentUser,
        case_id: str,
        key: str | None,
        data: BaseModel | None,
        line_id: str = "",
    ) -> CasePublic:
        return await perform_action(services, user, case_id, action, data, key, line_id)

    if body is None:

        async def endpoint_without_body(
            case_id: CaseIdPath,
            services: ServicesDep,
            user: Annotated[CurrentUser, Depends(allow)],
            key: IdempotencyKeyDep,
        ) -> CasePublic:
            return await send(services, user, case_id, key, None)

        endpoint: Callable[..., Any] = endpoint_without_body
    elif optional_body:
        optional_model = body

        async def endpoint_with_optional_body(
            case_id: CaseIdPath,
            services: ServicesDep,
            user: Annotated[CurrentUser, Depends(allow)],
            key: IdempotencyKeyDep,
            data: optional_model | None = None,  # type: ignore[valid-type]
        ) -> CasePublic:
            return await send(services, user, case_id, key, data)

        endpoint = endpoint_with_optional_body
    elif "{line_id}" in path:
        line_model = body

        async def endpoint_on_line(
            case_id: CaseIdPath,
            line_id: LineIdPath,
            data: line_model,  # type: ignore[valid-type]
            services: ServicesDep,
            user: Annotated[CurrentUser, Depends(allow)],
            key: IdempotencyKeyDep,
        ) -> CasePublic:
            return await send(services, user, case_id, key, data, line_id)

        endpoint = endpoint_on_line
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
    route = ActionRoute(method, full_path, action, body, to_input, after)
    ACTION_ROUTES.append(route)
    ROUTE_OF_ACTION.setdefault(action, route)
