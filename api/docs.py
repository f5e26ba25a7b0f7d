"""The interactive documentation (``/docs``, ``/redoc``), served from pinned, self-hosted assets.

Swagger UI and ReDoc come from the ``fastapi-offline`` package (its version pinned in
``pyproject.toml`` pins theirs); Swagger UI is started by ``api/static/swagger-init.js``, a file,
not an inline script. No page of the documentation loads anything from a CDN, and its content
policy (``api.security.DOCUMENTATION_POLICY``) allows scripts from the API itself only.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PATH = "/docs/assets"
_OFFLINE = Path(fastapi_offline.__file__).parent / "static"
_OWN = Path(__file__).parent / "static"
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_OFFLINE / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_OFFLINE / "swagger-ui.css", "text/css"),
    "redoc.standalone.js": (_OFFLINE / "redoc.standalone.js", "text/javascript"),
    "favicon.png": (_OFFLINE / "favicon.png", "image/png"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript"),
}
"""Every file the documentation pages load: a fixed list, never a path from the request."""

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    return html.escape(str(request.scope.get("root_path", "")), quote=True)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    base = _base(request)
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sécu'Pol — documentation de l'API</title>
<link rel="stylesheet" href="{base}{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{base}{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{base}{ASSETS_PATH}/swagger-init.js" data-openapi-url="{base}/openapi.json"></script>
</body>
</html>
"""
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    base = _base(request)
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sécu'Pol — documentation de l'API</title>
<link rel="icon" href="{base}{ASSETS_PATH}/favicon.png">
</head>
<body>
<noscript>Cette documentation demande JavaScript ; voir aussi {base}/openapi.json.</noscript>
<redoc spec-url="{base}/openapi.json"></redoc>
<script src="{base}{ASSETS_PATH}/redoc.standalone.js"></script>
</body>
</html>
"""
    )


@router.get(ASSETS_PATH + "/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(status_code=404)
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type)
