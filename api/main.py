"""The FastAPI application: ``create_app()`` and the lifespan that opens what requests share.

Run it with ``python -m api`` (``make up`` does), or any ASGI server on ``api.main:create_app``
with ``--factory``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import docs, observability, web
from api.audit import OutcomeWatcher
from api.deps import Services, TemporalLink
from api.errors import (
    MAX_JSON_BODY_BYTES,
    BodySizeLimit,
    CatchAllMiddleware,
    ProblemPublic,
    TemporalUnavailable,
    install_error_handlers,
)
from api.mail import SignInLinks
from api.ratelimit import RateLimiter
from api.routes import (
    admin,
    auth,
    candidates,
    cases,
    cnccfp,
    codec,
    exports,
    operator,
    prefecture,
    staff_sign_in,
)
from api.routes import elus as elus
from api.security import SecurityHeaders
from core.accounts import Accounts
from core.db import create_engine, migrate
from core.settings import Settings
from core.storage import build_storage

log = logging.getLogger(__name__)

DESCRIPTION = """
API de **Sécu'Pol** : le remboursement par l'État des frais de sécurité de campagne des candidats
dont la menace est avérée (articles L. 52-18-1 à L. 52-18-3 et R. 39-13 du code électoral).

**Se connecter.** Un candidat crée son compte (`POST /auth/accounts`) ou demande un lien
(`POST /auth/sign-in-links`) : un lien à usage unique arrive par courriel ; il s'échange contre
un jeton de session (`POST /auth/sessions`), à joindre à chaque requête
(`Authorization: Bearer <jeton>`). Les agents se connectent par la fédération d'identité de
l'État (`GET /auth/staff/sign-in`, ProConnect) avec un compte créé par un administrateur.

**Le dossier, étape par étape.** Le candidat ouvre son dossier et demande l'évaluation de la
menace ; la préfecture enregistre la décision d'évaluation ; le candidat (ou son tiers mandaté)
demande un espace de dépôt, que la CNCCFP ouvre ; il y ajoute ses lignes de dépense et dépose la
demande avant 18 heures le dixième vendredi suivant le premier tour ; la CNCCFP l'examine, adresse
éventuellement des observations auxquelles il répond, et arrête le montant ; le candidat se
signale à la préfecture, qui paie et enregistre le paiement.

**Erreurs.** Toute erreur est un document `application/problem+json` (RFC 9457) avec un `code`
stable et une explication en français (`detail`) : 401 non connecté, 403 rôle non autorisé,
404 dossier introuvable (ou hors de votre périmètre), 409 action impossible à l'étape actuelle,
413 fichier trop volumineux, 415 type de fichier refusé, 422 données invalides, 503 service
momentanément indisponible.

**Répéter une action sans risque.** L'en-tête `Idempotency-Key` rend une action rejouable : la
même clé ne l'applique qu'une fois.
"""

TAGS = [
    {"name": "Connexion", "description": "Comptes, liens de connexion et sessions."},
    {"name": "Élections", "description": "Les élections et leurs dates limites de dépôt."},
    {"name": "Dossiers", "description": "Consulter les dossiers et leurs pièces."},
    {"name": "Candidats", "description": "Les actions du candidat et de son tiers mandaté."},
    {"name": "Préfectures", "description": "Les actions des agents de préfecture."},
    {"name": "CNCCFP", "description": "Les actions des rapporteurs de la Commission."},
    {"name": "Messages", "description": "Les échanges entre le candidat et la Commission."},
    {"name": "Exports et statistiques", "description": "Exports et chiffres des dossiers."},
    {"name": "Administration", "description": "Comptes d'agents, préfectures, élections, audit."},
    {"name": "Exploitation", "description": "Santé du service, métriques, codec de l'interface."},
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    try:
        await migrate(engine, settings=settings)
        temporal = TemporalLink(settings)
        outcomes = OutcomeWatcher(engine)
        accounts = Accounts(engine, settings)
        sign_in_links = SignInLinks(accounts, settings)
        sign_in_links.start()
        async with build_storage(settings, engine) as storage, aclosing(sign_in_links):
            app.state.services = Services(
                settings=settings,
                engine=engine,
                temporal=temporal,
                storage=storage,
                accounts=accounts,
                outcomes=outcomes,
                sign_in_links=sign_in_links,
            )
            try:
                await temporal.cases()
            except TemporalUnavailable:
                log.warning(
                    "Temporal at %s unreachable: retried on each request", settings.temporal_address
                )
            log.info("API ready (Temporal %s)", settings.temporal_address)
            try:
                yield
            finally:
                # Before the database closes: a watch may be completing its row.
                await outcomes.aclose()
    finally:
        await app.state.limiter.aclose()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application (settings from the environment by default)."""
    app = FastAPI(
        title="Sécu'Pol",
        summary="Remboursement des frais de sécurité des candidats menacés",
        description=DESCRIPTION,
        version="1.0",
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Served by api.docs from pinned, self-hosted assets (no CDN, no inline script).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings or Settings()
    app.state.limiter = RateLimiter(app.state.settings)
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=MAX_JSON_BODY_BYTES,
        form_prefixes=web.UPLOAD_FORM_PREFIXES,
        form_bytes=web.upload_form_bytes(app.state.settings),
    )
    app.add_middleware(
        SecurityHeaders, hsts=app.state.settings.public_url.lower().startswith("https://")
    )
    for router in ROUTERS:
        app.include_router(router)
    # Operators' routes: the codec endpoint of the Web UI, health, readiness and metrics.
    app.include_router(codec.router)
    app.include_router(docs.router)
    app.include_router(elus.router)  # the élus' procedures (issue 15), their own matrix test
    web.install(app)  # the pages (api/web): one more front door on the same gateway
    codec.install_cors(app, app.state.settings)
    observability.install(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _in_french(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_SCHEMA_DESCRIPTIONS = {
    # Enumerations of the domain, whose docstrings are written for developers (in English).
    "Action": "Action sur un dossier (nom de la mise à jour Temporal qui la porte).",
    "Stage": "Étape d'un dossier.",
    "Role": "Rôle d'un compte.",
    "DocumentKind": "Nature d'une pièce.",
    "ExpenseCategory": "Catégorie de dépense de sécurité remboursable.",
    "RegistryOutcome": "Réponse d'un registre (CNAPS ou SIRENE).",
    "DecisionOutcome": "Sens de la décision : approuvée, réformée ou rejetée.",
    "ThreatLevel": "Niveau de la menace avérée : 1 ou 2.",
    "Flag": "Signalement d'un dossier : facture présentée ailleurs, échéance dépassée.",
    "Body_sign_in_form": "Formulaire de connexion.",
    "Body_codec_sign_in_codec_connexion_post": "Formulaire d'activation du décodage.",
}


def _in_french(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace what FastAPI writes in English by default: response labels, and its own 422
    shape by the problem document every error actually is."""
    problem_ref = {"$ref": "#/components/schemas/ProblemPublic"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if response.get("description") == "Successful Response":
                    response["description"] = "Succès"
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {"application/problem+json": {"schema": problem_ref}}
                    if response.get("description") == "Validation Error":
                        response["description"] = "Données invalides"
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, description in _SCHEMA_DESCRIPTIONS.items():
        if name in components:
            components[name]["description"] = description
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    if "ProblemPublic" not in components:
        components["ProblemPublic"] = ProblemPublic.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    for name, definition in (
        ProblemPublic.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        components.setdefault(name, definition)
    return schema


ROUTERS = (
    auth.router,
    staff_sign_in.router,
    cases.router,
    candidates.router,
    prefecture.router,
    cnccfp.router,
    operator.router,
    admin.router,
    exports.router,
)


def api_routes() -> list[APIRoute]:
    """Every route of the API (the authorisation matrix and the docs tests read them)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


for _route in api_routes():
    # Stable operation ids for generated clients: the endpoint's name.
    _route.operation_id = _route.name
