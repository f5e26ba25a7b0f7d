"""Registries reached over HTTP: a CNAPS authorisation service and INSEE's Sirene API.

CNAPS publishes no API we know of (DOMAIN.md): ``HttpCnapsRegistry`` speaks a minimal JSON
contract that an operator's own registry access (or a proxy in front of it) can serve. SIRENE is
INSEE's public API (portail-api.insee.fr, version 3.11), authenticated by an integration key.

Each adapter holds one ``httpx.AsyncClient`` (its connection pool) for its whole life and closes
it in ``aclose()``. Every failure to get a usable answer becomes ``RegistryUnavailable``; only a
404 means "unknown". Neither the identifier asked about nor the answer's content appears in an
error message: the URL path holds the identifier, so we never put the URL in a message either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from activities.registries.records import CnapsAuthorisation, CompanyRecord, RegistryUnavailable
from domain.identifiers import compact, is_valid_siren, normalise_cnaps_authorisation

INSEE_KEY_HEADER = "X-INSEE-Api-Key-Integration"
"""Header carrying the key of an application subscribed to the Sirene API on INSEE's portal."""

INSEE_WITHHELD = "[ND]"
"""What INSEE writes instead of a field withheld by partial diffusion (statut de diffusion P)."""

_USER_AGENT = "secupol (registry check)"


class _JsonApi:
    """One HTTP client for one registry, and the mapping of its failures to our errors."""

    def __init__(
        self, registry: str, base_url: str, headers: dict[str, str], timeout: float
    ) -> None:
        self.registry = registry
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            # A trailing slash makes relative paths extend the base path instead of replacing
            # its last segment.
            base_url=base_url.rstrip("/") + "/",
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT, **headers},
            timeout=httpx.Timeout(timeout),
            # A redirect from a registry API is a misconfiguration; following it could send the
            # credentials elsewhere.
            follow_redirects=False,
        )

    async def get(self, path: str) -> bytes | None:
        """The body of a 200 answer, ``None`` for a 404; anything else is unavailability."""
        try:
            # httpx bounds each phase (connect, every read); this bounds the whole exchange, so
            # a server trickling its answer cannot outlast the activity's own timeout.
            async with asyncio.timeout(self.timeout):
                response = await self.client.get(path)
        except (httpx.HTTPError, TimeoutError) as error:
            raise RegistryUnavailable(self.registry, type(error).__name__) from None
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        if response.status_code != httpx.codes.OK:
            raise RegistryUnavailable(
                self.registry,
                f"HTTP {response.status_code}",
                retry_after=_retry_after(response),
            )
        return response.content

    def unreadable(self, error: ValidationError) -> RegistryUnavailable:
        # Field locations only: the error's input values would repeat the registry's answer.
        fields = sorted(
            {".".join(str(part) for part in problem["loc"]) for problem in error.errors()}
        )
        return RegistryUnavailable(
            self.registry, f"unexpected answer ({', '.join(fields) or 'not JSON'})"
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds of a ``Retry-After`` header; the HTTP-date form is rare enough to ignore."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


class _CnapsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    number: str
    holder: str = Field(min_length=1)
    siren: str
    activity: str = Field(min_length=1)
    valid_from: dt.date
    valid_until: dt.date | None = None


class HttpCnapsRegistry:
    """CNAPS authorisations from an HTTP service.

    Contract: ``GET {base_url}/{number}`` answers 200 with the JSON object
    ``{"number", "holder", "siren", "activity", "valid_from", "valid_until"}`` (ISO dates,
    ``valid_until`` null for no end), or 404 when the number is unknown. Any other status, a
    timeout, a refused connection or a body that does not follow the contract is
    ``RegistryUnavailable``.

    Args:
        base_url: The service's URL, without the number.
        token: Sent as ``Authorization: Bearer <token>`` when given.
        timeout: Seconds allowed for one lookup, connection included.
    """

    source = "http"

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._api = _JsonApi("CNAPS", base_url, headers, timeout)

    async def lookup(self, number: str) -> CnapsAuthorisation | None:
        """Ask the service for one authorisation.

        Args:
            number: A CNAPS authorisation number (normalised before it is sent).

        Returns:
            The authorisation, or ``None`` on a 404.

        Raises:
            RegistryUnavailable: no usable answer (see the class docstring).
        """
        canonical = normalise_cnaps_authorisation(number)
        body = await self._api.get(canonical)
        if body is None:
            return None
        try:
            answer = _CnapsAnswer.model_validate_json(body)
        except ValidationError as error:
            raise self._api.unreadable(error) from None
        if normalise_cnaps_authorisation(answer.number) != canonical:
            raise RegistryUnavailable("CNAPS", "answer about another number")
        if not is_valid_siren(answer.siren):
            raise RegistryUnavailable("CNAPS", "answer with a malformed SIREN")
        if answer.valid_until is not None and answer.valid_until < answer.valid_from:
            raise RegistryUnavailable("CNAPS", "answer ends its validity before it starts")
        return CnapsAuthorisation(
            number=canonical,
            holder=answer.holder,
            siren=compact(answer.siren),
            activity=answer.activity,
            valid_from=answer.valid_from,
            valid_until=answer.valid_until,
        )

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._api.aclose()


class _InseePeriod(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    date_fin: dt.date | None = Field(default=None, alias="dateFin")
    date_debut: dt.date | None = Field(default=None, alias="dateDebut")
    etat: Literal["A", "C"] = Field(alias="etatAdministratifUniteLegale")
    denomination: str | None = Field(default=None, alias="denominationUniteLegale")
    nom: str | None = Field(default=None, alias="nomUniteLegale")
    nom_usage: str | None = Field(default=None, alias="nomUsageUniteLegale")


class _InseeUnit(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    siren: str
    prenom_usuel: str | None = Field(default=None, alias="prenomUsuelUniteLegale")
    periodes: list[_InseePeriod] = Field(alias="periodesUniteLegale", min_length=1)


class _InseeAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    unite_legale: _InseeUnit = Field(alias="uniteLegale")


def _shown(value: str | None) -> str | None:
    """A name field as published: ``None`` when empty or withheld by partial diffusion."""
    if value is None or not value.strip() or value.strip() == INSEE_WITHHELD:
        return None
    return value.strip()


def _unit_name(unit: _InseeUnit, period: _InseePeriod) -> str | None:
    """A company's denomination; for a sole trader, who has none, their first and last names."""
    denomination = _shown(period.denomination)
    if denomination is not None:
        return denomination
    last_name = _shown(period.nom_usage) or _shown(period.nom)
    if last_name is None:
        return None
    first_name = _shown(unit.prenom_usuel)
    return f"{first_name} {last_name}" if first_name else last_name


class InseeSireneRegistry:
    """SIRENE legal units from INSEE's Sirene API (``GET {base_url}/siren/{siren}``).

    A 200 answer is ``{"uniteLegale": {"siren", "periodesUniteLegale": [...]}}``; the current
    period (the one without ``dateFin``, which INSEE lists first) gives the name and the
    administrative state: ``A`` active, ``C`` ceased since that period's ``dateDebut``. 404 means
    INSEE does not know the SIREN. Anything else is ``RegistryUnavailable``: notably 401 (a bad
    key, which an operator may fix), 429 (INSEE's per-minute quota, with ``Retry-After``), and
    403, which INSEE answers for a unit whose publication is withheld — retrying will not change
    it, and the line ends as "à vérifier manuellement", which is what such a unit needs.

    Args:
        base_url: The API's root, e.g. ``https://api.insee.fr/api-sirene/3.11``.
        api_key: The integration key of the application subscribed to the API.
        timeout: Seconds allowed for one lookup, connection included.
    """

    source = "insee"

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._api = _JsonApi("SIRENE", base_url, {INSEE_KEY_HEADER: api_key}, timeout)

    async def lookup(self, siren: str) -> CompanyRecord | None:
        """Ask INSEE for one legal unit.

        Args:
            siren: Nine digits (spaces are removed before it is sent).

        Returns:
            The legal unit, or ``None`` on a 404.

        Raises:
            RegistryUnavailable: no usable answer (see the class docstring).
        """
        wanted = compact(siren)
        body = await self._api.get(f"siren/{wanted}")
        if body is None:
            return None
        try:
            unit = _InseeAnswer.model_validate_json(body).unite_legale
        except ValidationError as error:
            raise self._api.unreadable(error) from None
        if unit.siren != wanted:
            raise RegistryUnavailable("SIRENE", "answer about another SIREN")
        current = next((p for p in unit.periodes if p.date_fin is None), unit.periodes[0])
        active = current.etat == "A"
        return CompanyRecord(
            siren=wanted,
            name=_unit_name(unit, current),
            active=active,
            ceased_on=None if active else current.date_debut,
        )

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._api.aclose()
