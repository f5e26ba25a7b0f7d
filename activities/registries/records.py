"""What the registries answer, the interfaces every adapter implements, and their errors.

Errors of the adapters (plain exceptions; the activities turn them into ``ApplicationError``)::

    RegistryError
    ├── RegistryUnavailable   the registry could not answer now: connection refused or lost,
    │                         timeout, 5xx, 429, an answer we cannot read. Worth retrying.
    └── RegistryFileError     a referential file is missing or malformed: raised when the file is
                              loaded (worker start), naming the line; an operator must fix it.

"Not found" is no error: ``lookup`` returns ``None``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CnapsAuthorisation:
    """A company's autorisation d'exercice as the CNAPS registry records it.

    Attributes:
        number: The canonical number (``AUT-075-2124-07-01-20250906336``).
        holder: The holding company's name.
        siren: The holding company's SIREN (nine digits, no spaces).
        activity: The authorised activity ("surveillance humaine", "protection physique des
            personnes"…), as the registry words it.
        valid_from: First day of validity.
        valid_until: Last day of validity; ``None`` when the registry gives no end.
    """

    number: str
    holder: str
    siren: str
    activity: str
    valid_from: dt.date
    valid_until: dt.date | None

    def covers(self, start: dt.date, end: dt.date) -> bool:
        """True when the authorisation is valid on every day from ``start`` to ``end``."""
        return self.valid_from <= start and (self.valid_until is None or end <= self.valid_until)


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A legal unit (unité légale) as SIRENE records it.

    Attributes:
        siren: Nine digits, no spaces.
        name: The company's name; ``None`` when the registry withholds it (partial diffusion).
        active: False once the unit has ceased (état administratif ``C``).
        ceased_on: The day the unit ceased, when known; ``None`` while it is active.
    """

    siren: str
    name: str | None
    active: bool
    ceased_on: dt.date | None


class CnapsRegistry(Protocol):
    """Where CNAPS authorisations are looked up (a referential file, an HTTP service)."""

    @property
    def source(self) -> str:
        """Which adapter answers, as reported in ``CnapsCheckResult.source``."""
        ...

    async def lookup(self, number: str) -> CnapsAuthorisation | None:
        """The authorisation with this canonical number, or ``None`` if the registry lacks it.

        Raises:
            RegistryUnavailable: the registry could not answer now.
        """
        ...

    async def aclose(self) -> None:
        """Release the connections the adapter holds (nothing for a file)."""
        ...


class SireneRegistry(Protocol):
    """Where legal units are looked up by SIREN (a referential file, INSEE's Sirene API)."""

    @property
    def source(self) -> str:
        """Which adapter answers, as reported in ``SireneCheckResult.source``."""
        ...

    async def lookup(self, siren: str) -> CompanyRecord | None:
        """The legal unit with this SIREN (nine digits), or ``None`` if the registry lacks it.

        Raises:
            RegistryUnavailable: the registry could not answer now.
        """
        ...

    async def aclose(self) -> None:
        """Release the connections the adapter holds (nothing for a file)."""
        ...


class RegistryError(Exception):
    """Base of the registry adapters' errors."""


class RegistryUnavailable(RegistryError):
    """The registry could not answer now; asking again later may succeed.

    The message names the registry and the cause (an exception class or an HTTP status), never
    the identifier asked about nor anything the registry answered.

    Attributes:
        registry: ``"CNAPS"`` or ``"SIRENE"``.
        reason: Short technical cause, safe to log.
        retry_after: Seconds the registry asked us to wait (``Retry-After`` of a 429 or 503).
    """

    def __init__(self, registry: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{registry} registry unavailable: {reason}")
        self.registry = registry
        self.reason = reason
        self.retry_after = retry_after


class RegistryFileError(RegistryError):
    """A referential file cannot be used: missing, unreadable, wrong columns or a malformed row.

    The message names the file, the line and the column at fault, never the cell's value (a
    holder's name may be a person's name).
    """
