"""The documentation at /docs is in French, for every operation and every schema."""

from __future__ import annotations

import json
import re
from typing import Any

from api.main import create_app
from core.settings import Settings
from tests.api.conftest import ApiStack

ENGLISH = re.compile(
    r"\b(the|is|are|of|which|when|must|returns?|should|with|this|an|and|for|to|where|what|who)\b",
    re.IGNORECASE,
)


def descriptions(schema: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("description"), where
            found += [(where, operation["summary"]), (where, operation["description"])]
            for parameter in operation.get("parameters", []):
                if "description" in parameter:
                    found.append((f"{where} {parameter['name']}", parameter["description"]))
            for status, response in operation["responses"].items():
                found.append((f"{where} {status}", response["description"]))
    for name, component in schema["components"]["schemas"].items():
        assert component.get("description"), name
        found.append((name, component["description"]))
        for field, definition in component.get("properties", {}).items():
            if "description" in definition:
                found.append((f"{name}.{field}", definition["description"]))
            else:
                # Only a reference to a described schema may go without its own description.
                assert "$ref" in json.dumps(definition), f"{name}.{field}"
    return found


def test_every_operation_and_schema_is_described_in_french() -> None:
    schema = create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
    english = [f"{where}: {text}" for where, text in descriptions(schema) if ENGLISH.search(text)]
    assert not english, "\n".join(english)
    for status in ("401", "403", "404", "409", "422", "503"):
        response = schema["paths"]["/cases/{case_id}/decision"]["post"]["responses"][status]
        assert "application/problem+json" in response["content"]


async def test_the_docs_page_and_the_schema_are_served(api: ApiStack) -> None:
    async with api.http() as http:
        page = await http.get("/docs")
        schema = await http.get("/openapi.json")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert schema.json()["info"]["title"] == "Sécu'Pol"
