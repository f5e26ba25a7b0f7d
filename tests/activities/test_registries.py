"""The registry activities against the shipped referential files and a real local HTTP server.

The HTTP server is the standard library's, on a free loopback port, in a thread: it answers as
the CNAPS service contract and INSEE's Sirene API do, and can also fail (404, 500, 429, too slow).
The activities run inside ``ActivityEnvironment``, Temporal's activity runtime. Nothing is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.registries import (
    CNAPS_COLUMNS,
    DEFAULT_CNAPS_FILE,
    DEFAULT_SIRENE_FILE,
    INSEE_KEY_HEADER,
    MAX_RETRY_AFTER,
    REGISTRY_NON_RETRYABLE_ERRORS,
    SIRENE_COLUMNS,
    CsvCnapsRegistry,
    CsvSireneRegistry,
    HttpCnapsRegistry,
    InseeSireneRegistry,
    RegistryActivities,
    RegistryErrorType,
    RegistryFileError,
    RegistryUnavailable,
    build_registries,
)
from core.settings import CnapsRegistryKind, Environment, Settings, SireneRegistryKind
from domain.identifiers import is_valid_cnaps_authorisation, is_valid_departement, is_valid_siren
from domain.registries import (
    CheckCnapsInput,
    CheckSireneInput,
    CnapsCheckResult,
    RegistryOutcome,
    SireneCheckResult,
)

D = dt.date

# Sample rows the demo and the workflow tests rely on.
PICARD_NUMBER = "AUT-060-2124-07-01-20250906336"
PICARD_SIREN = "732829320"
LUTECE_NUMBER = "AUT-075-2124-07-01-20250906336"
LUTECE_SIREN = "552100554"
PHOCEE_NUMBER = "AUT-013-2121-03-15-20210311042"  # valid until 2026-03-14
PHOCEE_SIREN = "459880001"
RHONE_RENEWED_NUMBER = "AUT-069-2125-09-01-20250829204"  # valid from 2025-09-01
RHONE_SIREN = "728804832"
SOMME_NUMBER = "AUT-080-2125-02-03-20250130017"  # no end date
SOMME_SIREN = "303402200"
HERAULT_SIREN = "622034072"  # ceased 2026-02-27
UNKNOWN_NUMBER = "AUT-060-2124-07-01-99999999999"
UNKNOWN_SIREN = "356000000"  # Luhn-valid, in neither sample

# The municipales 2026 campaign: from 1 September 2025 to the second round.
CAMPAIGN_START = D(2026, 2, 1)
CAMPAIGN_END = D(2026, 3, 15)

API_KEY = "insee-integration-key"
TOKEN = "cnaps-token"


# --- A real HTTP server ----------------------------------------------------------------------


@dataclass
class Answer:
    """What the server answers on one path."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (released early when the server stops)."""


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class RegistryServer:
    """A stdlib HTTP server on a free loopback port, answering what the test sets per path.

    Paths without an answer get INSEE's 404 body. HTTP/1.0 closes each connection after its
    answer, so stopping the server never waits for an idle keep-alive connection.
    """

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                owner.requests.append(Request(self.path, dict(self.headers.items())))
                answer = owner.answers.get(self.path) or Answer(
                    404,
                    json.dumps(
                        {"header": {"statut": 404, "message": "Aucun élément trouvé"}}
                    ).encode(),
                )
                if answer.delay:
                    owner.stopping.wait(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: what a timeout test wants

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output for failures

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Join handler threads on close, so that no thread outlives its test.
        self._server.daemon_threads = False
        self._server.block_on_close = True
        # A short poll interval: shutdown() waits for the loop to notice it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(
        self,
        path: str,
        status: int = 200,
        body: object = None,
        *,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[path] = Answer(status, raw if body is not None else b"", headers or {}, delay)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def registry_server() -> Iterator[RegistryServer]:
    server = RegistryServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http_cnaps(registry_server: RegistryServer) -> AsyncIterator[HttpCnapsRegistry]:
    registry = HttpCnapsRegistry(f"{registry_server.url}/cnaps/", TOKEN, timeout=0.5)
    yield registry
    await registry.aclose()


@pytest.fixture
async def insee(registry_server: RegistryServer) -> AsyncIterator[InseeSireneRegistry]:
    registry = InseeSireneRegistry(f"{registry_server.url}/api-sirene/3.11", API_KEY, timeout=0.5)
    yield registry
    await registry.aclose()


@pytest.fixture(scope="module")
def file_activities() -> RegistryActivities:
    return RegistryActivities(CsvCnapsRegistry(), CsvSireneRegistry())


@pytest.fixture
def http_activities(
    http_cnaps: HttpCnapsRegistry, insee: InseeSireneRegistry
) -> RegistryActivities:
    return RegistryActivities(http_cnaps, insee)


def cnaps_json(
    number: str,
    siren: str,
    valid_from: str,
    valid_until: str | None,
    holder: str = "Vigie Test SAS",
    activity: str = "surveillance humaine",
) -> dict[str, Any]:
    return {
        "number": number,
        "holder": holder,
        "siren": siren,
        "activity": activity,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }


def insee_json(siren: str, *periods: dict[str, Any], **unit: Any) -> dict[str, Any]:
    """An answer shaped like INSEE's ``GET /siren/{siren}``, periods newest first."""
    return {
        "header": {"statut": 200, "message": "OK"},
        "uniteLegale": {
            "siren": siren,
            "statutDiffusionUniteLegale": "O",
            "dateCreationUniteLegale": "2015-03-02",
            **unit,
            "periodesUniteLegale": list(periods),
        },
    }


def period(
    state: str,
    start: str,
    end: str | None = None,
    name: str | None = "Vigie Test SAS",
    **more: Any,
) -> dict[str, Any]:
    return {
        "dateFin": end,
        "dateDebut": start,
        "etatAdministratifUniteLegale": state,
        "denominationUniteLegale": name,
        "categorieJuridiqueUniteLegale": "5710",
        **more,
    }


async def check_cnaps(
    activities: RegistryActivities,
    number: str,
    siren: str,
    start: dt.date = CAMPAIGN_START,
    end: dt.date = CAMPAIGN_END,
) -> CnapsCheckResult:
    request = CheckCnapsInput(
        cnaps_authorisation=number, siren=siren, service_start=start, service_end=end
    )
    return await ActivityEnvironment().run(activities.check_cnaps_authorisation, request)


async def check_sirene(
    activities: RegistryActivities,
    siren: str,
    start: dt.date = CAMPAIGN_START,
    end: dt.date = CAMPAIGN_END,
) -> SireneCheckResult:
    request = CheckSireneInput(siren=siren, service_start=start, service_end=end)
    return await ActivityEnvironment().run(activities.check_sirene, request)


def settings_with(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        environment=Environment.TEST,
        data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )


# --- The shipped referential files -----------------------------------------------------------


def test_shipped_cnaps_file_loads_and_every_row_is_valid() -> None:
    with DEFAULT_CNAPS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CNAPS_COLUMNS
    authorisations = CsvCnapsRegistry().authorisations
    assert len(authorisations) == len(rows) >= 15
    departements = set()
    for authorisation in authorisations:
        assert is_valid_cnaps_authorisation(authorisation.number)
        assert is_valid_siren(authorisation.siren)
        ddd = authorisation.number[4:7]
        departement = ddd[1:] if ddd.startswith("0") else ddd
        assert is_valid_departement(departement), authorisation.number
        departements.add(departement)
        assert authorisation.holder and authorisation.activity
        assert authorisation.valid_until is None or authorisation.valid_from <= (
            authorisation.valid_until
        )
    assert len(departements) >= 10
    assert len({a.siren for a in authorisations}) >= 15
    ends = [a.valid_until for a in authorisations]
    assert sum(1 for end in ends if end is not None and end.year == 2026) == 1
    assert sum(1 for end in ends if end is not None and end < D(2025, 9, 1)) >= 3
    assert None in ends


def test_shipped_sirene_file_loads_and_matches_the_cnaps_holders() -> None:
    with DEFAULT_SIRENE_FILE.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == SIRENE_COLUMNS
    companies = {company.siren: company for company in CsvSireneRegistry().companies}
    assert all(is_valid_siren(siren) for siren in companies)
    assert {a.siren for a in CsvCnapsRegistry().authorisations} <= set(companies)
    ceased = [company for company in companies.values() if not company.active]
    assert [(c.siren, c.ceased_on) for c in ceased] == [(HERAULT_SIREN, D(2026, 2, 27))]
    assert all(c.name for c in companies.values())


async def test_shipped_files_hold_the_authorisations_the_demo_uses() -> None:
    registry = CsvCnapsRegistry()
    picard = await registry.lookup(PICARD_NUMBER)
    lutece = await registry.lookup(LUTECE_NUMBER)
    assert picard is not None and lutece is not None
    assert (picard.siren, picard.valid_from, picard.valid_until) == (
        PICARD_SIREN,
        D(2024, 1, 1),
        D(2029, 12, 31),
    )
    assert (lutece.siren, lutece.valid_from, lutece.valid_until) == (
        LUTECE_SIREN,
        D(2023, 6, 1),
        D(2028, 5, 31),
    )


def test_readme_documents_every_column() -> None:
    readme = (DEFAULT_CNAPS_FILE.parent / "README.md").read_text(encoding="utf-8")
    for column in (*CNAPS_COLUMNS, *SIRENE_COLUMNS):
        assert f"`{column}`" in readme


# --- CNAPS outcomes from the file -------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "siren", "start", "end", "outcome"),
    [
        pytest.param(
            PICARD_NUMBER, PICARD_SIREN, CAMPAIGN_START, CAMPAIGN_END, "valid", id="valid"
        ),
        pytest.param(
            LUTECE_NUMBER, LUTECE_SIREN, D(2023, 6, 1), D(2028, 5, 31), "valid", id="exact-bounds"
        ),
        pytest.param(
            SOMME_NUMBER, SOMME_SIREN, D(2026, 1, 1), D(2040, 1, 1), "valid", id="no-end-date"
        ),
        pytest.param(
            PHOCEE_NUMBER, PHOCEE_SIREN, CAMPAIGN_START, CAMPAIGN_END, "expired", id="ends-inside"
        ),
        pytest.param(
            RHONE_RENEWED_NUMBER,
            RHONE_SIREN,
            D(2025, 8, 15),
            D(2025, 9, 15),
            "expired",
            id="starts-inside",
        ),
        pytest.param(
            "AUT-033-2119-05-20-20190514031",
            "986956811",
            CAMPAIGN_START,
            CAMPAIGN_END,
            "expired",
            id="long-expired",
        ),
        pytest.param(
            UNKNOWN_NUMBER, PICARD_SIREN, CAMPAIGN_START, CAMPAIGN_END, "unknown", id="unknown"
        ),
        pytest.param(
            PICARD_NUMBER, LUTECE_SIREN, CAMPAIGN_START, CAMPAIGN_END, "mismatch", id="mismatch"
        ),
        pytest.param(
            "aut-060-2124-07-01-2025 0906 336",
            "732 829 320",
            CAMPAIGN_START,
            CAMPAIGN_END,
            "valid",
            id="spaces-and-case",
        ),
    ],
)
async def test_cnaps_outcomes_from_the_file(
    file_activities: RegistryActivities,
    number: str,
    siren: str,
    start: dt.date,
    end: dt.date,
    outcome: str,
) -> None:
    result = await check_cnaps(file_activities, number, siren, start, end)
    assert result.outcome == RegistryOutcome(outcome)
    assert result.source == "file"
    if result.outcome == RegistryOutcome.UNKNOWN:
        assert (result.holder_name, result.holder_siren, result.valid_from) == (None, None, None)
    else:
        assert result.holder_name and result.holder_siren and result.valid_from


async def test_cnaps_result_carries_the_holder(file_activities: RegistryActivities) -> None:
    result = await check_cnaps(file_activities, PICARD_NUMBER, LUTECE_SIREN)
    assert result == CnapsCheckResult(
        outcome=RegistryOutcome.MISMATCH,
        holder_name="Gardiennage Picard SARL",
        holder_siren=PICARD_SIREN,
        valid_from=D(2024, 1, 1),
        valid_until=D(2029, 12, 31),
        source="file",
    )


# --- SIRENE outcomes from the file ------------------------------------------------------------


@pytest.mark.parametrize(
    ("siren", "end", "outcome", "ceased_on"),
    [
        pytest.param(PICARD_SIREN, CAMPAIGN_END, "valid", None, id="active"),
        pytest.param(UNKNOWN_SIREN, CAMPAIGN_END, "unknown", None, id="unknown"),
        pytest.param(HERAULT_SIREN, CAMPAIGN_END, "expired", D(2026, 2, 27), id="ceased-before"),
        pytest.param(HERAULT_SIREN, D(2026, 2, 27), "expired", D(2026, 2, 27), id="ceased-on-end"),
        pytest.param(HERAULT_SIREN, D(2026, 2, 26), "valid", D(2026, 2, 27), id="ceased-after"),
        pytest.param("732 829 320", CAMPAIGN_END, "valid", None, id="spaces"),
    ],
)
async def test_sirene_outcomes_from_the_file(
    file_activities: RegistryActivities,
    siren: str,
    end: dt.date,
    outcome: str,
    ceased_on: dt.date | None,
) -> None:
    result = await check_sirene(file_activities, siren, D(2026, 1, 5), end)
    assert result.outcome == RegistryOutcome(outcome)
    assert result.ceased_on == ceased_on
    assert result.source == "file"
    assert (result.company_name is None) == (result.outcome == RegistryOutcome.UNKNOWN)


# --- CNAPS over HTTP --------------------------------------------------------------------------


async def test_cnaps_outcomes_over_http(
    registry_server: RegistryServer, http_activities: RegistryActivities
) -> None:
    registry_server.answer(
        f"/cnaps/{PICARD_NUMBER}",
        body=cnaps_json(PICARD_NUMBER, PICARD_SIREN, "2024-01-01", "2029-12-31"),
    )
    registry_server.answer(
        f"/cnaps/{PHOCEE_NUMBER}",
        body=cnaps_json(PHOCEE_NUMBER, PHOCEE_SIREN, "2021-03-15", "2026-03-14"),
    )
    registry_server.answer(
        f"/cnaps/{SOMME_NUMBER}",
        body=cnaps_json(SOMME_NUMBER, SOMME_SIREN, "2025-02-03", None),
    )

    valid = await check_cnaps(http_activities, PICARD_NUMBER, PICARD_SIREN)
    assert valid == CnapsCheckResult(
        outcome=RegistryOutcome.VALID,
        holder_name="Vigie Test SAS",
        holder_siren=PICARD_SIREN,
        valid_from=D(2024, 1, 1),
        valid_until=D(2029, 12, 31),
        source="http",
    )
    expired = await check_cnaps(http_activities, PHOCEE_NUMBER, PHOCEE_SIREN)
    assert expired.outcome == RegistryOutcome.EXPIRED
    mismatch = await check_cnaps(http_activities, PICARD_NUMBER, LUTECE_SIREN)
    assert mismatch.outcome == RegistryOutcome.MISMATCH
    no_end = await check_cnaps(http_activities, SOMME_NUMBER, SOMME_SIREN)
    assert (no_end.outcome, no_end.valid_until) == (RegistryOutcome.VALID, None)
    unknown = await check_cnaps(http_activities, UNKNOWN_NUMBER, PICARD_SIREN)
    assert unknown == CnapsCheckResult(outcome=RegistryOutcome.UNKNOWN, source="http")

    assert [request.path for request in registry_server.requests] == [
        f"/cnaps/{PICARD_NUMBER}",
        f"/cnaps/{PHOCEE_NUMBER}",
        f"/cnaps/{PICARD_NUMBER}",
        f"/cnaps/{SOMME_NUMBER}",
        f"/cnaps/{UNKNOWN_NUMBER}",
    ]
    assert {request.headers["Authorization"] for request in registry_server.requests} == {
        f"Bearer {TOKEN}"
    }


async def test_cnaps_number_is_normalised_before_it_is_sent(
    registry_server: RegistryServer, http_cnaps: HttpCnapsRegistry
) -> None:
    registry_server.answer(
        f"/cnaps/{PICARD_NUMBER}",
        body=cnaps_json(PICARD_NUMBER, PICARD_SIREN, "2024-01-01", "2029-12-31"),
    )
    found = await http_cnaps.lookup("aut-060-2124-07-01-2025 0906 336")
    assert found is not None and found.number == PICARD_NUMBER


async def test_cnaps_without_token_sends_no_authorization(
    registry_server: RegistryServer,
) -> None:
    registry = HttpCnapsRegistry(registry_server.url, None, timeout=0.5)
    try:
        assert await registry.lookup(UNKNOWN_NUMBER) is None
    finally:
        await registry.aclose()
    [request] = registry_server.requests
    assert request.path == f"/{UNKNOWN_NUMBER}"
    assert "Authorization" not in request.headers


UNAVAILABLE_ANSWERS = [
    pytest.param(Answer(500, b'{"error": "internal"}'), id="500"),
    pytest.param(Answer(503, b"<html>maintenance</html>"), id="503-html"),
    pytest.param(Answer(429, b"{}", {"Retry-After": "7"}), id="429"),
    pytest.param(Answer(401, b"{}"), id="401"),
    pytest.param(Answer(200, b"<html>not json</html>"), id="200-not-json"),
    pytest.param(Answer(200, b"{}", delay=3.0), id="too-slow"),
]


@pytest.mark.parametrize("answer", UNAVAILABLE_ANSWERS)
async def test_cnaps_registry_failures_are_retryable(
    registry_server: RegistryServer, http_activities: RegistryActivities, answer: Answer
) -> None:
    registry_server.answers[f"/cnaps/{PICARD_NUMBER}"] = answer
    with pytest.raises(ApplicationError) as raised:
        await check_cnaps(http_activities, PICARD_NUMBER, PICARD_SIREN)
    error = raised.value
    assert error.type == RegistryErrorType.REGISTRY_UNAVAILABLE == "RegistryUnavailable"
    assert not error.non_retryable
    assert error.type not in REGISTRY_NON_RETRYABLE_ERRORS
    assert "CNAPS" in error.message and PICARD_NUMBER not in error.message
    expected_delay = dt.timedelta(seconds=7) if answer.status == 429 else None
    assert error.next_retry_delay == expected_delay


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(cnaps_json(LUTECE_NUMBER, LUTECE_SIREN, "2023-06-01", None), id="other"),
        pytest.param(cnaps_json(PICARD_NUMBER, "732829321", "2024-01-01", None), id="bad-siren"),
        pytest.param(
            cnaps_json(PICARD_NUMBER, PICARD_SIREN, "2024-01-01", "2023-01-01"), id="inverted"
        ),
        pytest.param({"number": PICARD_NUMBER}, id="incomplete"),
    ],
)
async def test_cnaps_answer_breaking_the_contract_is_unavailability(
    registry_server: RegistryServer, http_cnaps: HttpCnapsRegistry, body: dict[str, Any]
) -> None:
    registry_server.answer(f"/cnaps/{PICARD_NUMBER}", body=body)
    with pytest.raises(RegistryUnavailable) as raised:
        await http_cnaps.lookup(PICARD_NUMBER)
    assert raised.value.registry == "CNAPS"
    assert PICARD_NUMBER not in str(raised.value) and PICARD_SIREN not in str(raised.value)


async def test_retry_after_is_capped(
    registry_server: RegistryServer, http_activities: RegistryActivities
) -> None:
    registry_server.answers[f"/cnaps/{PICARD_NUMBER}"] = Answer(
        429, b"{}", {"Retry-After": "86400"}
    )
    with pytest.raises(ApplicationError) as raised:
        await check_cnaps(http_activities, PICARD_NUMBER, PICARD_SIREN)
    assert raised.value.next_retry_delay == MAX_RETRY_AFTER


async def test_unreachable_registry_is_retryable(unused_port: int) -> None:
    registries = RegistryActivities(
        HttpCnapsRegistry(f"http://127.0.0.1:{unused_port}", TOKEN, timeout=0.5),
        InseeSireneRegistry(f"http://127.0.0.1:{unused_port}", API_KEY, timeout=0.5),
    )
    checks: list[Callable[[], Awaitable[object]]] = [
        lambda: check_cnaps(registries, PICARD_NUMBER, PICARD_SIREN),
        lambda: check_sirene(registries, PICARD_SIREN),
    ]
    try:
        for check in checks:
            with pytest.raises(ApplicationError) as raised:
                await check()
            assert raised.value.type == "RegistryUnavailable"
            assert not raised.value.non_retryable
    finally:
        await registries.aclose()


# --- SIRENE over INSEE's API ------------------------------------------------------------------


async def test_sirene_outcomes_over_insee(
    registry_server: RegistryServer, http_activities: RegistryActivities
) -> None:
    base = "/api-sirene/3.11/siren"
    registry_server.answer(
        f"{base}/{PICARD_SIREN}",
        body=insee_json(
            PICARD_SIREN,
            period("A", "2019-01-01", name="Gardiennage Picard SARL"),
            period("A", "2015-03-02", "2018-12-31", name="Picard Gardiennage"),
        ),
    )
    registry_server.answer(
        f"{base}/{HERAULT_SIREN}",
        body=insee_json(
            HERAULT_SIREN,
            period("C", "2026-02-27", name="Hérault Protection Services"),
            period("A", "2022-06-01", "2026-02-26", name="Hérault Protection Services"),
        ),
    )

    active = await check_sirene(http_activities, PICARD_SIREN)
    assert active == SireneCheckResult(
        outcome=RegistryOutcome.VALID, company_name="Gardiennage Picard SARL", source="insee"
    )
    ceased = await check_sirene(http_activities, HERAULT_SIREN)
    assert ceased == SireneCheckResult(
        outcome=RegistryOutcome.EXPIRED,
        company_name="Hérault Protection Services",
        ceased_on=D(2026, 2, 27),
        source="insee",
    )
    ceased_later = await check_sirene(http_activities, HERAULT_SIREN, end=D(2026, 2, 20))
    assert ceased_later.outcome == RegistryOutcome.VALID
    unknown = await check_sirene(http_activities, UNKNOWN_SIREN)
    assert unknown == SireneCheckResult(outcome=RegistryOutcome.UNKNOWN, source="insee")

    assert [request.path for request in registry_server.requests] == [
        f"{base}/{PICARD_SIREN}",
        f"{base}/{HERAULT_SIREN}",
        f"{base}/{HERAULT_SIREN}",
        f"{base}/{UNKNOWN_SIREN}",
    ]
    for request in registry_server.requests:
        assert request.headers[INSEE_KEY_HEADER] == API_KEY
        assert request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("unit", "current", "name"),
    [
        pytest.param(
            {"prenomUsuelUniteLegale": "Camille"},
            {"name": None, "nomUniteLegale": "MARTIN", "nomUsageUniteLegale": None},
            "Camille MARTIN",
            id="sole-trader",
        ),
        pytest.param(
            {"prenomUsuelUniteLegale": "Camille"},
            {"name": None, "nomUniteLegale": "MARTIN", "nomUsageUniteLegale": "DURAND"},
            "Camille DURAND",
            id="sole-trader-usage-name",
        ),
        pytest.param(
            {"statutDiffusionUniteLegale": "P", "prenomUsuelUniteLegale": "[ND]"},
            {"name": None, "nomUniteLegale": "[ND]"},
            None,
            id="withheld",
        ),
    ],
)
async def test_insee_names(
    registry_server: RegistryServer,
    insee: InseeSireneRegistry,
    unit: dict[str, Any],
    current: dict[str, Any],
    name: str | None,
) -> None:
    registry_server.answer(
        f"/api-sirene/3.11/siren/{PICARD_SIREN}",
        body=insee_json(PICARD_SIREN, period("A", "2020-01-01", **current), **unit),
    )
    company = await insee.lookup(PICARD_SIREN)
    assert company is not None
    assert (company.name, company.active, company.ceased_on) == (name, True, None)


@pytest.mark.parametrize("answer", UNAVAILABLE_ANSWERS)
async def test_insee_failures_are_retryable(
    registry_server: RegistryServer, http_activities: RegistryActivities, answer: Answer
) -> None:
    registry_server.answers[f"/api-sirene/3.11/siren/{PICARD_SIREN}"] = answer
    with pytest.raises(ApplicationError) as raised:
        await check_sirene(http_activities, PICARD_SIREN)
    assert raised.value.type == "RegistryUnavailable"
    assert not raised.value.non_retryable
    assert "SIRENE" in raised.value.message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(insee_json(LUTECE_SIREN, period("A", "2020-01-01")), id="other-siren"),
        pytest.param(insee_json(PICARD_SIREN), id="no-period"),
        pytest.param(insee_json(PICARD_SIREN, period("X", "2020-01-01")), id="unknown-state"),
        pytest.param({"header": {"statut": 200}}, id="no-unit"),
    ],
)
async def test_insee_answer_breaking_the_contract_is_unavailability(
    registry_server: RegistryServer, insee: InseeSireneRegistry, body: dict[str, Any]
) -> None:
    registry_server.answer(f"/api-sirene/3.11/siren/{PICARD_SIREN}", body=body)
    with pytest.raises(RegistryUnavailable) as raised:
        await insee.lookup(PICARD_SIREN)
    assert raised.value.registry == "SIRENE"
    assert PICARD_SIREN not in str(raised.value)


# --- Malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "siren"),
    [
        pytest.param("CAR-075-2124-07-01-20250906336", LUTECE_SIREN, id="agent-card"),
        pytest.param("AUT-075-2124-07-01", LUTECE_SIREN, id="short-number"),
        pytest.param("AUT-075-2124-07-01-2025090633６", LUTECE_SIREN, id="full-width-digit"),
        pytest.param(LUTECE_NUMBER, "552100555", id="bad-check-digit"),
        pytest.param(LUTECE_NUMBER, "55210055", id="short-siren"),
    ],
)
async def test_malformed_cnaps_input_is_not_retryable(
    registry_server: RegistryServer, http_activities: RegistryActivities, number: str, siren: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await check_cnaps(http_activities, number, siren)
    error = raised.value
    assert (error.type, error.non_retryable) == ("InvalidIdentifier", True)
    assert error.type in REGISTRY_NON_RETRYABLE_ERRORS
    assert "CNAPS" in error.message or "SIREN" in error.message
    assert registry_server.requests == []  # the registry is not asked


@pytest.mark.parametrize("siren", ["732829321", "7328293200", "73282932A", ""])
async def test_malformed_siren_is_not_retryable(
    registry_server: RegistryServer, http_activities: RegistryActivities, siren: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await check_sirene(http_activities, siren)
    error = raised.value
    assert (error.type, error.non_retryable) == ("InvalidIdentifier", True)
    assert error.message == "Le numéro SIREN doit comporter 9 chiffres et être valide."
    assert error.details == ("invalid_siren",)
    assert registry_server.requests == []


async def test_inverted_service_period_is_not_retryable(
    file_activities: RegistryActivities,
) -> None:
    checks: list[Callable[[], Awaitable[object]]] = [
        lambda: check_cnaps(
            file_activities, PICARD_NUMBER, PICARD_SIREN, CAMPAIGN_END, CAMPAIGN_START
        ),
        lambda: check_sirene(file_activities, PICARD_SIREN, CAMPAIGN_END, CAMPAIGN_START),
    ]
    for check in checks:
        with pytest.raises(ApplicationError) as raised:
            await check()
        assert (raised.value.type, raised.value.non_retryable) == ("InvalidServicePeriod", True)


# --- Malformed referential files --------------------------------------------------------------

CNAPS_HEADER = ",".join(CNAPS_COLUMNS)
GOOD_CNAPS_ROW = f"{PICARD_NUMBER},Gardiennage Picard SARL,{PICARD_SIREN},surveillance humaine,2024-01-01,2029-12-31"  # noqa: E501


@pytest.mark.parametrize(
    ("row", "where"),
    [
        pytest.param(
            "CAR-060-2124-07-01-20250906336,X,732829320,surveillance humaine,2024-01-01,",
            "line 3, column 'number'",
            id="agent-card",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},Lutèce,552100555,surveillance humaine,2024-01-01,",
            "line 3, column 'siren'",
            id="bad-siren",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},,552100554,surveillance humaine,2024-01-01,",
            "line 3, column 'holder'",
            id="empty-holder",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},Lutèce,552100554,surveillance humaine,01/06/2023,",
            "line 3, column 'valid_from'",
            id="french-date",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},Lutèce,552100554,surveillance humaine,2023-02-30,",
            "line 3, column 'valid_from'",
            id="no-such-day",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},Lutèce,552100554,surveillance humaine,2023-06-01,2023-05-31",
            "line 3, column 'valid_until'",
            id="ends-before-start",
        ),
        pytest.param(
            f"{LUTECE_NUMBER},Lutèce,552100554,surveillance humaine,2023-06-01",
            "line 3: 5 cells",
            id="missing-cell",
        ),
        pytest.param(GOOD_CNAPS_ROW, "line 3, column 'number': already given at line 2", id="dup"),
        pytest.param(
            f'{LUTECE_NUMBER},"Lutèce, "SAS",552100554,x,2023-06-01,', "line 3", id="bad-quote"
        ),
    ],
)
def test_malformed_cnaps_row_fails_loading_naming_its_line(
    tmp_path: Path, row: str, where: str
) -> None:
    path = tmp_path / "cnaps.csv"
    path.write_text(f"{CNAPS_HEADER}\n{GOOD_CNAPS_ROW}\n{row}\n", encoding="utf-8")
    with pytest.raises(RegistryFileError) as raised:
        CsvCnapsRegistry(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, ")
    assert where in message
    assert "Lutèce" not in message  # a cell's value never appears


@pytest.mark.parametrize(
    ("content", "where"),
    [
        pytest.param("", "empty file", id="empty"),
        pytest.param(
            "number,holder,siren,activity,valid_from\n",
            "line 1: missing column(s) valid_until",
            id="missing-column",
        ),
        pytest.param(b"\xff\xfe\x00n", "not UTF-8", id="not-utf8"),
    ],
)
def test_malformed_cnaps_file_fails_loading(
    tmp_path: Path, content: str | bytes, where: str
) -> None:
    path = tmp_path / "cnaps.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RegistryFileError, match=re.escape(where)):
        CsvCnapsRegistry(path)


def test_missing_file_fails_loading(tmp_path: Path) -> None:
    with pytest.raises(RegistryFileError, match="cannot be read"):
        CsvSireneRegistry(tmp_path / "absent.csv")


async def test_file_with_bom_other_column_order_and_blank_lines_loads(tmp_path: Path) -> None:
    path = tmp_path / "cnaps.csv"
    path.write_text(
        "\ufeffsiren,number,holder,activity,valid_until,valid_from,comment\n"
        "\n"
        f'"732 829 320", {PICARD_NUMBER.lower()} ,"Picard, Gardiennage",'
        "gardiennage,,2024-01-01,x\n",
        encoding="utf-8",
    )
    found = await CsvCnapsRegistry(path).lookup(PICARD_NUMBER)
    assert found is not None
    assert (found.siren, found.holder, found.valid_until) == (
        PICARD_SIREN,
        "Picard, Gardiennage",
        None,
    )


@pytest.mark.parametrize(
    ("row", "where"),
    [
        pytest.param(f"{HERAULT_SIREN},Hérault,C,", "column 'ceased_on': required", id="no-date"),
        pytest.param(f"{PICARD_SIREN},Picard,A,2026-01-01", "must be empty", id="active-date"),
        pytest.param(f"{PICARD_SIREN},Picard,F,", "column 'state'", id="bad-state"),
        pytest.param(f"{LUTECE_SIREN},Lutèce,A,", "already given at line 2", id="duplicate"),
        pytest.param("55210055,Lutèce,A,", "column 'siren'", id="short-siren"),
    ],
)
def test_malformed_sirene_row_fails_loading_naming_its_line(
    tmp_path: Path, row: str, where: str
) -> None:
    path = tmp_path / "sirene.csv"
    path.write_text(
        f"{','.join(SIRENE_COLUMNS)}\n{LUTECE_SIREN},Lutèce SAS,A,\n{row}\n", encoding="utf-8"
    )
    with pytest.raises(RegistryFileError) as raised:
        CsvSireneRegistry(path)
    assert f"{path}, line 3, " in str(raised.value)
    assert where in str(raised.value)


# --- Built from settings ----------------------------------------------------------------------


async def test_default_settings_use_the_shipped_files(tmp_path: Path) -> None:
    registries = build_registries(settings_with(tmp_path))
    assert isinstance(registries.cnaps, CsvCnapsRegistry)
    assert isinstance(registries.sirene, CsvSireneRegistry)
    assert registries.cnaps.path == DEFAULT_CNAPS_FILE
    assert registries.sirene.path == DEFAULT_SIRENE_FILE
    result = await check_cnaps(RegistryActivities(*registries), PICARD_NUMBER, PICARD_SIREN)
    assert result.outcome == RegistryOutcome.VALID


def test_a_malformed_configured_file_fails_at_build(tmp_path: Path) -> None:
    path = tmp_path / "cnaps.csv"
    path.write_text(f"{CNAPS_HEADER}\n{PICARD_NUMBER},X,1,y,2024-01-01,\n", encoding="utf-8")
    with pytest.raises(RegistryFileError, match="line 2"):
        build_registries(settings_with(tmp_path, cnaps_file=path))


async def test_http_settings_build_http_adapters(
    tmp_path: Path, registry_server: RegistryServer
) -> None:
    registry_server.answer(
        f"/cnaps/{PICARD_NUMBER}",
        body=cnaps_json(PICARD_NUMBER, PICARD_SIREN, "2024-01-01", None),
    )
    registry_server.answer(
        f"/sirene/siren/{PICARD_SIREN}",
        body=insee_json(PICARD_SIREN, period("A", "2020-01-01")),
    )
    settings = settings_with(
        tmp_path,
        cnaps_registry=CnapsRegistryKind.HTTP,
        cnaps_http_url=f"{registry_server.url}/cnaps",
        cnaps_http_token="from-settings",
        sirene_registry=SireneRegistryKind.INSEE,
        insee_api_url=f"{registry_server.url}/sirene/",
        insee_api_key="key-from-settings",
        registry_timeout_s=2.0,
    )
    activities = RegistryActivities.from_settings(settings)
    try:
        cnaps = await check_cnaps(activities, PICARD_NUMBER, PICARD_SIREN)
        sirene = await check_sirene(activities, PICARD_SIREN)
    finally:
        await activities.aclose()
    assert (cnaps.outcome, cnaps.source) == (RegistryOutcome.VALID, "http")
    assert (sirene.outcome, sirene.source) == (RegistryOutcome.VALID, "insee")
    cnaps_request, sirene_request = registry_server.requests
    assert cnaps_request.headers["Authorization"] == "Bearer from-settings"
    assert sirene_request.headers[INSEE_KEY_HEADER] == "key-from-settings"


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"cnaps_registry": CnapsRegistryKind.HTTP}, "cnaps_http_url"),
        ({"sirene_registry": SireneRegistryKind.INSEE}, "insee_api_key"),
    ],
)
def test_http_adapter_without_its_settings_fails_at_build(
    tmp_path: Path, overrides: dict[str, Any], missing: str
) -> None:
    with pytest.raises(ValueError, match=missing):
        build_registries(settings_with(tmp_path, **overrides))


def test_registry_activities_have_their_temporal_names() -> None:
    names: dict[str, Callable[..., Any]] = {
        "check_cnaps_authorisation": RegistryActivities.check_cnaps_authorisation,
        "check_sirene": RegistryActivities.check_sirene,
    }
    for name, method in names.items():
        assert method.__temporal_activity_definition.name == name  # type: ignore[attr-defined]
