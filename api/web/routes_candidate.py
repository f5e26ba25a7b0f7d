"""The candidate's (and the mandated third party's) pages."""

from __future__ import annotations

from fastapi import APIRouter

from api.web.routing import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)
