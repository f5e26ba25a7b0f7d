"""Checks of the security companies named on expense lines (R. 39-13: CNAPS authorisation).

The CNAPS registry says whether an authorisation (``AUT-…``) exists, who holds it and when it is
valid; SIRENE says whether the company (SIREN) exists and is active. Both are asked by activities;
the workflow keeps one ``LineCheck`` per expense line and a reviewer may override it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

REGISTRY_PERMANENT_ERRORS = ["InvalidIdentifier", "InvalidServicePeriod"]
"""Error types of the registry activities that no retry can fix."""


class RegistryOutcome(StrEnum):
    """What a registry said of one identifier."""

    VALID = "valid"
    """CNAPS: held by the line's company and valid over the whole service period.
    SIRENE: the company exists and was active over the service period."""
    EXPIRED = "expired"
    """CNAPS: not valid over the whole service period. SIRENE: ceased before the service ended."""
    UNKNOWN = "unknown"
    """The registry does not know the identifier."""
    MISMATCH = "mismatch"
    """CNAPS: the authorisation exists but another company (SIREN) holds it."""
    UNAVAILABLE = "unavailable"
    """The registry could not be reached after every attempt: to verify manually."""
    INVALID = "invalid"
    """The registry refused the identifier or the period itself (a permanent answer, kept as
    such: no retry nor manual verification turns it into "unavailable")."""

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS: dict[RegistryOutcome, str] = {
    RegistryOutcome.VALID: "valide",
    RegistryOutcome.EXPIRED: "non valide sur la période",
    RegistryOutcome.UNKNOWN: "inconnu du registre",
    RegistryOutcome.MISMATCH: "détenue par une autre entreprise",
    RegistryOutcome.UNAVAILABLE: "à vérifier manuellement",
    RegistryOutcome.INVALID: "identifiant ou période refusés par le registre",
}


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CheckCnapsInput(_Message):
    """Input of the ``check_cnaps_authorisation`` activity."""

    cnaps_authorisation: str
    siren: str
    service_start: dt.date
    service_end: dt.date


class CnapsCheckResult(_Message):
    outcome: RegistryOutcome
    holder_name: str | None = None
    holder_siren: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    source: str
    """Which adapter answered ("file", "http")."""


class CheckSireneInput(_Message):
    """Input of the ``check_sirene`` activity."""

    siren: str
    service_start: dt.date
    service_end: dt.date


class SireneCheckResult(_Message):
    outcome: RegistryOutcome
    company_name: str | None = None
    ceased_on: dt.date | None = None
    source: str
    """Which adapter answered ("file", "insee")."""


class ManualVerification(_Message):
    """A reviewer's own verification of a line's company, which overrides the registries."""

    valid: bool
    note: str
    verified_by: str
    verified_at: dt.datetime


class LineCheck(_Message):
    """Everything known about the company of one expense line."""

    line_id: str
    cnaps: CnapsCheckResult | None = None
    sirene: SireneCheckResult | None = None
    checked_at: dt.datetime | None = None
    at_submission: bool = False
    """True once the check ran again when the request was submitted."""
    manual: ManualVerification | None = None

    @property
    def needs_manual_verification(self) -> bool:
        results = [r for r in (self.cnaps, self.sirene) if r is not None]
        return self.manual is None and any(
            r.outcome == RegistryOutcome.UNAVAILABLE for r in results
        )
