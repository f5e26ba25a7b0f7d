"""The registry activities: is the company of an expense line authorised by the CNAPS, and active?

R. 39-13 reimburses only services of a company holding a CNAPS authorisation (L. 612-9 CSI).
``check_cnaps_authorisation`` asks the CNAPS registry whether the line's authorisation exists, is
held by the line's company and covers the whole service period; ``check_sirene`` asks SIRENE
whether the company existed and had not ceased when the service ended. Outcomes are data
(``RegistryOutcome``), not errors: a reviewer reads them and may override them.

Errors they raise, all ``temporalio.exceptions.ApplicationError`` named by ``type``::

    ApplicationError
    ├── non-retryable: the same input can never succeed
    │   ├── InvalidIdentifier      the SIREN or the authorisation number is malformed
    │   │                          (REGISTRY_NON_RETRYABLE_ERRORS)
    │   └── InvalidServicePeriod   the service ends before it starts (raised non-retryable)
    └── retryable
        └── RegistryUnavailable    connection refused, timeout, 5xx, 429, unreadable answer;
                                   the workflow caps the attempts, then marks the line
                                   "à vérifier manuellement" (RegistryOutcome.UNAVAILABLE)

The first detail of an ``InvalidIdentifier`` or ``InvalidServicePeriod`` error is the matching
``domain.errors.ErrorCode`` (``invalid_siren``, ``invalid_cnaps_authorisation``,
``invalid_date_range``). Messages are in French (they may reach a reviewer); logs name outcomes
and causes, never an identifier or a company's name (a sole trader's name is a person's name).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import NamedTuple

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.registries.files import (
    DEFAULT_CNAPS_FILE,
    DEFAULT_SIRENE_FILE,
    CsvCnapsRegistry,
    CsvSireneRegistry,
)
from activities.registries.records import (
    CnapsAuthorisation,
    CnapsRegistry,
    CompanyRecord,
    RegistryUnavailable,
    SireneRegistry,
)
from activities.registries.remote import HttpCnapsRegistry, InseeSireneRegistry
from core.settings import CnapsRegistryKind, Settings, SireneRegistryKind
from domain.errors import MESSAGES, ErrorCode
from domain.identifiers import (
    compact,
    is_valid_cnaps_authorisation,
    is_valid_siren,
    normalise_cnaps_authorisation,
)
from domain.registries import (
    REGISTRY_PERMANENT_ERRORS,
    CheckCnapsInput,
    CheckSireneInput,
    CnapsCheckResult,
    RegistryOutcome,
    SireneCheckResult,
)

log = activity.logger


class RegistryErrorType(StrEnum):
    """Stable ``ApplicationError.type`` of every failure of the registry activities."""

    INVALID_IDENTIFIER = "InvalidIdentifier"
    INVALID_SERVICE_PERIOD = "InvalidServicePeriod"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"


REGISTRY_NON_RETRYABLE_ERRORS: list[str] = REGISTRY_PERMANENT_ERRORS
"""``non_retryable_error_types`` for calls of both registry activities: declared in ``domain``
because the workflow, which may not import this module, sets the retry policy.
``InvalidServicePeriod`` is not in it: the error itself is raised non-retryable, and the workflow's
expense lines cannot have an inverted period anyway."""

MAX_RETRY_AFTER = dt.timedelta(minutes=5)
"""Longest wait a registry's ``Retry-After`` may impose before the next attempt: beyond it, the
workflow's own backoff applies, so that a wrong header cannot stall a case for hours."""


class Registries(NamedTuple):
    """The two registries the activities ask."""

    cnaps: CnapsRegistry
    sirene: SireneRegistry


def build_registries(settings: Settings) -> Registries:
    """Build the registry adapters that the settings choose.

    Args:
        settings: ``cnaps_registry`` and ``sirene_registry`` choose the adapters; the files
            default to the samples in ``activities/registries/data``.

    Returns:
        The CNAPS and SIRENE registries, files already loaded, HTTP clients open.

    Raises:
        RegistryFileError: a referential file is missing or malformed (names the line).
        ValueError: an HTTP adapter is chosen without its URL or key.
    """
    cnaps: CnapsRegistry
    if settings.cnaps_registry == CnapsRegistryKind.HTTP:
        if not settings.cnaps_http_url:
            raise ValueError("cnaps_http_url is required when cnaps_registry is http")
        token = settings.cnaps_http_token
        cnaps = HttpCnapsRegistry(
            settings.cnaps_http_url,
            token.get_secret_value() if token else None,
            settings.registry_timeout_s,
        )
    else:
        cnaps = CsvCnapsRegistry(settings.cnaps_file or DEFAULT_CNAPS_FILE)

    sirene: SireneRegistry
    if settings.sirene_registry == SireneRegistryKind.INSEE:
        if settings.insee_api_key is None:
            raise ValueError("insee_api_key is required when sirene_registry is insee")
        sirene = InseeSireneRegistry(
            settings.insee_api_url,
            settings.insee_api_key.get_secret_value(),
            settings.registry_timeout_s,
        )
    else:
        sirene = CsvSireneRegistry(settings.sirene_file or DEFAULT_SIRENE_FILE)
    return Registries(cnaps=cnaps, sirene=sirene)


def cnaps_outcome(
    authorisation: CnapsAuthorisation | None, siren: str, start: dt.date, end: dt.date
) -> RegistryOutcome:
    """Judge an authorisation for a service by the company ``siren`` from ``start`` to ``end``.

    Unknown first, then the holder, then the dates: a reviewer learns first whether the number is
    the company's at all.
    """
    if authorisation is None:
        return RegistryOutcome.UNKNOWN
    if authorisation.siren != compact(siren):
        return RegistryOutcome.MISMATCH
    if not authorisation.covers(start, end):
        return RegistryOutcome.EXPIRED
    return RegistryOutcome.VALID


def sirene_outcome(company: CompanyRecord | None, end: dt.date) -> RegistryOutcome:
    """Judge a company for a service ending on ``end``: it must not have ceased by then.

    A unit that ceased on the last day of the service is counted as ceased: nothing shows it was
    still operating that day. A ceased unit without a date cannot be placed after the service,
    so it is judged ceased too; the reviewer can override.
    """
    if company is None:
        return RegistryOutcome.UNKNOWN
    if not company.active and (company.ceased_on is None or company.ceased_on <= end):
        return RegistryOutcome.EXPIRED
    return RegistryOutcome.VALID


class RegistryActivities:
    """Registry activities, holding the CNAPS and SIRENE registries they ask.

    Args:
        cnaps: Where authorisations are looked up.
        sirene: Where companies are looked up.
    """

    def __init__(self, cnaps: CnapsRegistry, sirene: SireneRegistry) -> None:
        self._cnaps = cnaps
        self._sirene = sirene

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryActivities:
        """Build the activities with the registries the settings choose (``build_registries``)."""
        return cls(*build_registries(settings))

    @activity.defn(name="check_cnaps_authorisation")
    async def check_cnaps_authorisation(self, input: CheckCnapsInput) -> CnapsCheckResult:
        """Check a line's CNAPS authorisation against the registry.

        Args:
            input: The authorisation number, the line's company SIREN and the service period.

        Returns:
            UNKNOWN if the registry lacks the number; MISMATCH if another company holds it;
            EXPIRED if its validity does not cover the whole service period; else VALID. The
            holder and validity are returned whenever the registry knows the number.

        Raises:
            ApplicationError: typed as described in this module's docstring.
        """
        if not is_valid_cnaps_authorisation(input.cnaps_authorisation):
            raise _invalid(ErrorCode.INVALID_CNAPS_AUTHORISATION)
        if not is_valid_siren(input.siren):
            raise _invalid(ErrorCode.INVALID_SIREN)
        _check_period(input.service_start, input.service_end)

        number = normalise_cnaps_authorisation(input.cnaps_authorisation)
        try:
            authorisation = await self._cnaps.lookup(number)
        except RegistryUnavailable as error:
            raise _unavailable(error, "Le registre des autorisations du CNAPS") from None

        outcome = cnaps_outcome(authorisation, input.siren, input.service_start, input.service_end)
        log.info("CNAPS check: %s (source %s)", outcome.value, self._cnaps.source)
        if authorisation is None:
            return CnapsCheckResult(outcome=outcome, source=self._cnaps.source)
        return CnapsCheckResult(
            outcome=outcome,
            holder_name=authorisation.holder,
            holder_siren=authorisation.siren,
            valid_from=authorisation.valid_from,
            valid_until=authorisation.valid_until,
            source=self._cnaps.source,
        )

    @activity.defn(name="check_sirene")
    async def check_sirene(self, input: CheckSireneInput) -> SireneCheckResult:
        """Check a line's company in SIRENE.

        Args:
            input: The company's SIREN and the service period.

        Returns:
            UNKNOWN if SIRENE lacks the SIREN; EXPIRED if the company ceased on or before the
            last day of the service; else VALID, with the company's name and cessation date.

        Raises:
            ApplicationError: typed as described in this module's docstring.
        """
        if not is_valid_siren(input.siren):
            raise _invalid(ErrorCode.INVALID_SIREN)
        _check_period(input.service_start, input.service_end)

        try:
            company = await self._sirene.lookup(compact(input.siren))
        except RegistryUnavailable as error:
            raise _unavailable(error, "Le répertoire SIRENE") from None

        outcome = sirene_outcome(company, input.service_end)
        log.info("SIRENE check: %s (source %s)", outcome.value, self._sirene.source)
        if company is None:
            return SireneCheckResult(outcome=outcome, source=self._sirene.source)
        return SireneCheckResult(
            outcome=outcome,
            company_name=company.name,
            ceased_on=company.ceased_on,
            source=self._sirene.source,
        )

    async def aclose(self) -> None:
        """Close both registries' connections (for a worker that stops cleanly)."""
        await self._cnaps.aclose()
        await self._sirene.aclose()


def _invalid(code: ErrorCode) -> ApplicationError:
    return ApplicationError(
        MESSAGES[code],
        code.value,
        type=RegistryErrorType.INVALID_IDENTIFIER.value,
        non_retryable=True,
    )


def _check_period(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ApplicationError(
            MESSAGES[ErrorCode.INVALID_DATE_RANGE],
            ErrorCode.INVALID_DATE_RANGE.value,
            type=RegistryErrorType.INVALID_SERVICE_PERIOD.value,
            non_retryable=True,
        )


def _unavailable(error: RegistryUnavailable, registry_fr: str) -> ApplicationError:
    attempt = activity.info().attempt
    log.warning("%s registry unavailable, attempt %d: %s", error.registry, attempt, error.reason)
    delay = None
    if error.retry_after is not None:
        delay = min(dt.timedelta(seconds=error.retry_after), MAX_RETRY_AFTER)
    return ApplicationError(
        f"{registry_fr} ne répond pas ; la vérification sera retentée.",
        type=RegistryErrorType.REGISTRY_UNAVAILABLE.value,
        next_retry_delay=delay,
    )
