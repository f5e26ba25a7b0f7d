"""Every decorated workflow and activity is registered by the worker."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

import activities
import workflows
from activities import open_activities
from core.settings import Settings


def _modules(package: object) -> list[object]:
    path = [str(Path(package.__file__).parent)]  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [importlib.import_module(info.name) for info in pkgutil.walk_packages(path, prefix)]


def test_every_workflow_is_registered() -> None:
    defined = {
        obj
        for module in [workflows, *_modules(workflows)]
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if hasattr(obj, "__temporal_workflow_definition")
    }
    assert defined, "no workflow found"
    assert defined == set(workflows.WORKFLOWS)


async def test_every_activity_is_registered(settings: Settings, db_engine: AsyncEngine) -> None:
    defined = {
        name
        for module in [activities, *_modules(activities)]
        for _, cls in inspect.getmembers(module, inspect.isclass)
        for name, member in inspect.getmembers(cls)
        if hasattr(member, "__temporal_activity_definition")
    }
    async with open_activities(settings, db_engine) as built:
        registered = {fn.__name__ for fn in built}
    assert defined, "no activity found"
    assert defined == registered
