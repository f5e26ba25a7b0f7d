"""Payload encryption seen from outside: the Temporal database after a whole case, and the codec
endpoint the Web UI (and the Temporal CLI) call to show the payloads decrypted."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.main import create_app
from core.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec
from core.settings import Environment
from core.temporal import data_converter
from domain.contracts import CandidateContact
from domain.documents import DocumentKind
from embedded.temporal_server import temporal_binary
from tests.api.conftest import ApiStack
from tests.api.flow import CERTIFIED, act, open_case, open_space, record_evaluation, upload
from tests.helpers import assert_eventually

UI_ORIGIN = "http://localhost:8233"
NAME = "Zéphyrine Quillebœuf-Xylotest"
AMOUNT_CENTS = 987_654
AMOUNT_FORMS = [
    b"987654",
    b"9876.54",
    b"9876,54",
    b"9 876,54",
    "9\u00a0876,54".encode(),
    "9\u202f876,54".encode(),
]
"""The amount in cents as JSON writes it, and in euros as a person or an email would."""


@dataclass
class FullCase:
    case_id: str
    email: str


def ui_headers(stack: ApiStack, token: str | None = None) -> dict[str, str]:
    """What the Web UI sends along a codec request, from the operator's browser."""
    headers = {
        "Content-Type": "application/json",
        "X-Namespace": stack.settings.temporal_namespace,
        "Origin": UI_ORIGIN,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def as_json(payloads: list[Payload]) -> str:
    """Payloads as the UI sends them: the proto3 JSON form, as the server's HTTP API gives it."""
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_json(body: str) -> list[Payload]:
    message = Payloads()
    json_format.Parse(body, message)
    return list(message.payloads)


@pytest.fixture(scope="module")
async def full_case(api: ApiStack) -> FullCase:
    """One case from the candidate's sign-in to the payment, with data found nowhere else."""
    email = f"zephyrine.{uuid.uuid4().hex[:8]}@xylotest-codec.example"
    candidate = await api.sign_in(email, name=NAME)
    pref, cnccfp = api.staff["pref60"], api.staff["cnccfp"]
    case = await open_case(api, candidate)
    assert case["candidate"]["name"] == NAME
    case_id = case["case_id"]
    await record_evaluation(api, case_id)
    await open_space(api, candidate, case_id)
    async with api.http(candidate) as http:
        invoice = await upload(http, case_id, DocumentKind.INVOICE, "facture.pdf")
        line = {
            "category": "close_protection",
            "company_name": "Gardiennage Picard SARL (fictif)",
            "siren": "732829320",
            "cnaps_authorisation": "AUT-060-2124-07-01-20250906336",
            "invoice_reference": "F-XYLO-1",
            "service_start": (api.first_round - dt.timedelta(days=20)).isoformat(),
            "service_end": api.first_round.isoformat(),
            "amount_cents": AMOUNT_CENTS,
            "document_refs": [invoice],
            "certification": CERTIFIED,
        }
        await act(http, "POST", f"/cases/{case_id}/expense-lines", line)
        await act(http, "POST", f"/cases/{case_id}/submission", {"rounds_attended": 1})
    async with api.http(cnccfp) as http:
        case = await act(http, "POST", f"/cases/{case_id}/decision", {"amount_cents": AMOUNT_CENTS})
        assert case["decision"]["amount_cents"] == AMOUNT_CENTS
    async with api.http(candidate) as http:
        await act(http, "POST", f"/cases/{case_id}/prefecture-contact")
    async with api.http(pref) as http:
        payment = {
            "amount_cents": AMOUNT_CENTS,
            "paid_on": dt.date.today().isoformat(),
            "reference": "VIR-XYLO-1",
        }
        case = await act(http, "POST", f"/cases/{case_id}/payment", payment)
        assert case["stage"] == "paid"
    return FullCase(case_id=case_id, email=email)


def temporal_database(workdir: Path, stack: ApiStack) -> bytes:
    """The raw bytes of the session dev server's SQLite file, with its write-ahead log."""
    port = stack.settings.temporal_address.rsplit(":", 1)[1]
    main = workdir / f"temporal-{port}.sqlite"
    assert main.exists(), f"no Temporal database at {main}"
    return b"".join(
        path.read_bytes() for path in (main, main.with_name(main.name + "-wal")) if path.exists()
    )


async def test_the_temporal_database_holds_no_personal_data_in_clear(
    api: ApiStack, full_case: FullCase, client: Client, workdir: Path
) -> None:
    # The whole history is written: the last event of a paid case is its completion.
    async def completed() -> None:
        history = await client.get_workflow_handle(full_case.case_id).fetch_history()
        assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED

    await assert_eventually(completed)
    stored = temporal_database(workdir, api)
    # The control: what is not personal is there in clear, so the search below can find text.
    assert full_case.case_id.encode() in stored
    secrets = {
        "name": [NAME.encode(), b"Xylotest", json.dumps(NAME).encode()],
        "email": [full_case.email.encode(), full_case.email.split("@")[0].encode()],
        "amount": AMOUNT_FORMS,
    }
    found = {what: [form for form in forms if form in stored] for what, forms in secrets.items()}
    assert found == {"name": [], "email": [], "amount": []}


async def test_the_ui_decodes_a_payload_of_the_history(
    api: ApiStack, full_case: FullCase, client: Client
) -> None:
    history = await client.get_workflow_handle(full_case.case_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    stored = list(started.input.payloads)
    assert stored[0].metadata["encoding"] == ENCODING
    for role in ("operator", "admin"):
        async with api.http() as http:
            response = await http.post(
                "/codec/decode",
                content=as_json(stored),
                headers=ui_headers(api, api.staff[role]),
            )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        decoded = from_json(response.text)
        assert decoded[0].metadata["encoding"] == b"json/plain"
        assert NAME in decoded[0].data.decode()
        assert full_case.email in decoded[0].data.decode()


async def test_the_temporal_cli_shows_the_history_decoded(
    api: ApiStack, full_case: FullCase
) -> None:
    # The CLI speaks the same protocol as the UI (``--codec-auth`` carries the operator's token).
    command = [
        str(temporal_binary()),
        "workflow",
        "show",
        "--address",
        api.settings.temporal_address,
        "--namespace",
        api.settings.temporal_namespace,
        "--workflow-id",
        full_case.case_id,
        "--output",
        "json",
    ]
    codec = ["--codec-endpoint", f"{api.base_url}/codec"]
    auth = ["--codec-auth", f"Bearer {api.staff['operator']}"]

    async def run(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            *command, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    def readable(output: str) -> str:
        # Payload data stays base64 in the JSON output; decode what can be, to search it.
        texts = [output]
        for value in json.dumps(json.loads(output)).split('"'):
            try:
                texts.append(base64.b64decode(value, validate=True).decode())
            except ValueError:
                continue
        return "\n".join(texts)

    assert NAME not in readable(await run())
    assert NAME in readable(await run(*codec, *auth))


async def test_encode_then_decode_over_http(api: ApiStack) -> None:
    converter = data_converter(api.settings)
    contact = CandidateContact(name=NAME, email="zephyrine@example.test")
    plain = converter.payload_converter.to_payloads([contact, AMOUNT_CENTS])
    token = api.staff["operator"]
    async with api.http() as http:
        encoded = await http.post(
            "/codec/encode", content=as_json(plain), headers=ui_headers(api, token)
        )
        assert encoded.status_code == 200, encoded.text
        sealed = from_json(encoded.text)
        assert [payload.metadata[KEY_ID_METADATA] for payload in sealed] == [
            api.settings.payload_key_id.encode()
        ] * 2
        assert NAME.encode() not in sealed[0].data
        # What the endpoint encrypted, the clients read; and the other way round.
        assert await converter.decode(sealed, [CandidateContact, int]) == [contact, AMOUNT_CENTS]
        decoded = await http.post(
            "/codec/decode",
            content=as_json(await converter.encode([contact])),
            headers=ui_headers(api, token),
        )
        assert decoded.status_code == 200, decoded.text
        assert from_json(decoded.text) == plain[:1]
        # A payload that is not encrypted comes back as it is; an empty list is fine.
        unchanged = await http.post(
            "/codec/decode", content=as_json(plain), headers=ui_headers(api, token)
        )
        assert from_json(unchanged.text) == plain
        empty = await http.post("/codec/decode", json={}, headers=ui_headers(api, token))
        assert empty.status_code == 200 and from_json(empty.text) == []


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code
    return problem


async def test_only_operators_and_admins_may_call_it(api: ApiStack) -> None:
    body = as_json([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    candidate = await api.sign_in(f"codec{uuid.uuid4().hex[:8]}@example.test")
    async with api.http() as http:
        for path in ("/codec/decode", "/codec/encode"):
            for token in (candidate, api.staff["cnccfp"], api.staff["pref60"]):
                response = await http.post(path, content=body, headers=ui_headers(api, token))
                assert_problem(response, 403, "forbidden_role")
                # The UI can read the refusal: CORS headers are on error answers too.
                assert response.headers["access-control-allow-origin"] == UI_ORIGIN
            # Outside development, the UI's origin on loopback is no substitute for a token.
            response = await http.post(path, content=body, headers=ui_headers(api))
            assert_problem(response, 401, "authentication_required")
            response = await http.post(path, content=body, headers=ui_headers(api, "faux"))
            assert_problem(response, 401, "session_invalid")


async def test_bad_requests_are_refused_as_problems(api: ApiStack) -> None:
    headers = ui_headers(api, api.staff["operator"])
    async with api.http() as http:
        for body in ("pas du json", '{"payloads": [{"data": 12}]}', '{"payloads": 3}'):
            response = await http.post("/codec/decode", content=body, headers=headers)
            assert_problem(response, 422, "invalid_input")
        other_namespace = {**headers, "X-Namespace": "autre-espace"}
        response = await http.post("/codec/decode", json={}, headers=other_namespace)
        assert assert_problem(response, 422, "invalid_input")["field"] == "X-Namespace"

        current = api.settings.payload_keys[api.settings.payload_key_id]
        foreign = api.settings.model_copy(
            update={"payload_keys": {"cle-inconnue": current}, "payload_key_id": "cle-inconnue"}
        )
        sealed = await EncryptionCodec(foreign).encode([Payload(data=b"x")])
        response = await http.post("/codec/decode", content=as_json(sealed), headers=headers)
        assert "cle-inconnue" in assert_problem(response, 422, "invalid_input")["detail"]

        tampered = Payload()
        tampered.CopyFrom((await data_converter(api.settings).encode(["x"]))[0])
        tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
        response = await http.post("/codec/decode", content=as_json([tampered]), headers=headers)
        assert_problem(response, 422, "invalid_input")


async def test_cors_answers_the_ui_origin_on_codec_paths_only(api: ApiStack) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with api.http() as http:
        for origin in api.settings.codec_cors_origins:
            response = await http.options("/codec/decode", headers={"Origin": origin, **preflight})
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == origin
            assert "POST" in response.headers["access-control-allow-methods"]
            allowed = response.headers["access-control-allow-headers"].lower()
            assert {"authorization", "content-type", "x-namespace"} <= {
                header.strip() for header in allowed.split(",")
            }
            # The codec session cookie travels with the UI's calls ("include credentials").
            assert response.headers["access-control-allow-credentials"] == "true"

        response = await http.options(
            "/codec/decode", headers={"Origin": "http://evil.example", **preflight}
        )
        assert response.status_code >= 400
        assert "access-control-allow-origin" not in response.headers
        response = await http.post(
            "/codec/decode",
            json={},
            headers={**ui_headers(api, api.staff["operator"]), "Origin": "http://evil.example"},
        )
        assert "access-control-allow-origin" not in response.headers

        # No other path of the API answers CORS, even for the UI's origin.
        response = await http.options("/cases", headers={"Origin": UI_ORIGIN, **preflight})
        assert "access-control-allow-origin" not in response.headers
        response = await http.get("/elections", headers={"Origin": UI_ORIGIN})
        assert "access-control-allow-origin" not in response.headers


async def test_in_development_the_local_ui_needs_no_token(api: ApiStack) -> None:
    settings = api.settings.model_copy(update={"environment": Environment.DEVELOPMENT})
    app = create_app(settings)
    body = as_json(await data_converter(settings).encode(["bonjour"]))

    async def call(peer: str, origin: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json", "X-Namespace": settings.temporal_namespace}
        if origin is not None:
            headers["Origin"] = origin
        transport = httpx.ASGITransport(app=app, client=(peer, 50_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
            return await http.post("/codec/decode", content=body, headers=headers)

    async with app.router.lifespan_context(app):
        for peer in ("127.0.0.1", "::1"):
            response = await call(peer, UI_ORIGIN)
            assert response.status_code == 200, response.text
            assert from_json(response.text)[0].data == b'"bonjour"'
        # Another machine, a page of another origin, or no browser at all: a token is needed.
        for peer, origin in (
            ("192.0.2.10", UI_ORIGIN),
            ("127.0.0.1", "http://evil.example"),
            ("127.0.0.1", None),
        ):
            assert_problem(await call(peer, origin), 401, "authentication_required")


async def test_an_operator_enables_decoding_in_the_ui_with_a_cookie(api: ApiStack) -> None:
    plain = as_json([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    origin = {"Origin": api.settings.codec_cors_origins[0]}
    async with api.http() as http:
        page = await http.get("/codec/connexion")
        assert page.status_code == 200 and 'name="token"' in page.text
        # A reviewer's token does not open the codec.
        refused = await http.post("/codec/connexion", data={"token": api.staff["cnccfp"]})
        assert refused.status_code == 403 and "secupol_codec" not in refused.headers.get(
            "set-cookie", ""
        )
        signed_in = await http.post("/codec/connexion", data={"token": api.staff["operator"]})
        assert signed_in.status_code == 200
        cookie = signed_in.headers["set-cookie"]
        # A codec session's secret, not the token (tests/api/test_codec_session.py).
        assert "secupol_codec_session=" in cookie and "HttpOnly" in cookie
        assert api.staff["operator"] not in cookie
        assert "Path=/codec/" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        # The UI's calls carry the cookie ("include credentials") and no Authorization header.
        decoded = await http.post("/codec/decode", content=plain, headers=origin)
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-credentials"] == "true"
        assert decoded.headers["access-control-allow-origin"] == origin["Origin"]
    # Without the cookie, the same call is refused (the API under test is not in development).
    async with api.http() as http:
        response = await http.post("/codec/decode", content=plain, headers=origin)
        assert response.status_code == 401
