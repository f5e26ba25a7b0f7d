"""Referential files: CSV exports of the CNAPS and SIRENE registries, loaded once and checked.

A file is read when its adapter is built (the worker's start), every row is validated then, and
lookups are answered from memory afterwards: a malformed file stops the worker at once with the
line at fault, instead of failing one expense line months later. A changed file is read again at
the next worker start. The columns are described in ``data/README.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from activities.registries.records import CnapsAuthorisation, CompanyRecord, RegistryFileError
from domain.identifiers import (
    compact,
    is_valid_cnaps_authorisation,
    is_valid_siren,
    normalise_cnaps_authorisation,
)

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_CNAPS_FILE = DATA_DIR / "cnaps_authorisations.csv"
"""Fictitious sample used when ``settings.cnaps_file`` is not set."""
DEFAULT_SIRENE_FILE = DATA_DIR / "sirene_companies.csv"
"""Fictitious sample used when ``settings.sirene_file`` is not set."""

CNAPS_COLUMNS = ("number", "holder", "siren", "activity", "valid_from", "valid_until")
SIRENE_COLUMNS = ("siren", "name", "state", "ceased_on")

# fromisoformat alone would also take "20250101" or "2025-W01-1": one spelling only.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _Row:
    """One data row and where it comes from, so that every problem names its line."""

    def __init__(self, path: Path, line: int, cells: dict[str, str]) -> None:
        self.path = path
        self.line = line
        self.cells = cells

    def error(self, column: str, problem: str) -> RegistryFileError:
        # The cell's value stays out of the message: it may be a person's name.
        return RegistryFileError(f"{self.path}, line {self.line}, column {column!r}: {problem}")

    def text(self, column: str) -> str:
        value = self.cells[column]
        if not value:
            raise self.error(column, "empty")
        return value

    def siren(self, column: str) -> str:
        value = self.text(column)
        if not is_valid_siren(value):
            raise self.error(column, "not a valid SIREN (nine digits, Luhn check digit)")
        return compact(value)

    def date(self, column: str, *, optional: bool = False) -> dt.date | None:
        value = self.cells[column]
        if not value and optional:
            return None
        if not _ISO_DATE.fullmatch(value):
            raise self.error(column, "not a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(column, "not a calendar date") from None

    def required_date(self, column: str) -> dt.date:
        value = self.date(column)
        assert value is not None  # only optional dates may be None
        return value


def _read_rows(path: Path, columns: Sequence[str]) -> list[_Row]:
    """Every data row of a UTF-8, comma-separated file whose header holds ``columns``."""
    rows: list[_Row] = []
    line = 0
    reader = None
    try:
        # utf-8-sig: spreadsheets often save a byte-order mark before the header.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            line = reader.line_num
            if header is None:
                raise RegistryFileError(f"{path}: empty file, expected a header line")
            names = [name.strip() for name in header]
            missing = [column for column in columns if column not in names]
            if missing:
                raise RegistryFileError(
                    f"{path}, line {line}: missing column(s) {', '.join(missing)} in the header"
                )
            if len(set(names)) != len(names):
                raise RegistryFileError(f"{path}, line {line}: a column appears twice")
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(names):
                    raise RegistryFileError(
                        f"{path}, line {line}: {len(cells)} cells, the header has {len(names)}"
                    )
                values = {name: cell.strip() for name, cell in zip(names, cells, strict=True)}
                rows.append(_Row(path, line, values))
    except OSError as error:
        raise RegistryFileError(f"{path}: cannot be read ({type(error).__name__})") from None
    except UnicodeDecodeError:
        raise RegistryFileError(f"{path}, after line {line}: not UTF-8 text") from None
    except csv.Error as error:
        # The reader has counted the lines of the record it could not parse.
        at = reader.line_num if reader is not None else line
        raise RegistryFileError(f"{path}, line {at}: malformed CSV ({error})") from None
    return rows


def load_cnaps_file(path: Path) -> dict[str, CnapsAuthorisation]:
    """Read and check a CNAPS referential file.

    Args:
        path: A CSV file with the columns of ``CNAPS_COLUMNS`` (others are ignored).

    Returns:
        The authorisations by canonical number.

    Raises:
        RegistryFileError: the file cannot be read, lacks a column, or a row is malformed (the
            message names the line and column), or a number appears twice.
    """
    authorisations: dict[str, CnapsAuthorisation] = {}
    first_line: dict[str, int] = {}
    for row in _read_rows(path, CNAPS_COLUMNS):
        raw_number = row.text("number")
        if not is_valid_cnaps_authorisation(raw_number):
            raise row.error("number", "not a CNAPS authorisation number (AUT-DDD-NNNN-NN-NN-…)")
        number = normalise_cnaps_authorisation(raw_number)
        valid_from = row.required_date("valid_from")
        valid_until = row.date("valid_until", optional=True)
        if valid_until is not None and valid_until < valid_from:
            raise row.error("valid_until", "before valid_from")
        if number in first_line:
            raise row.error("number", f"already given at line {first_line[number]}")
        first_line[number] = row.line
        authorisations[number] = CnapsAuthorisation(
            number=number,
            holder=row.text("holder"),
            siren=row.siren("siren"),
            activity=row.text("activity"),
            valid_from=valid_from,
            valid_until=valid_until,
        )
    return authorisations


def load_sirene_file(path: Path) -> dict[str, CompanyRecord]:
    """Read and check a SIRENE referential file.

    Args:
        path: A CSV file with the columns of ``SIRENE_COLUMNS`` (others are ignored). ``state``
            is ``A`` (active) or ``C`` (ceased, with ``ceased_on``), as INSEE writes
            ``etatAdministratifUniteLegale``.

    Returns:
        The legal units by SIREN.

    Raises:
        RegistryFileError: the file cannot be read, lacks a column, or a row is malformed (the
            message names the line and column), or a SIREN appears twice.
    """
    companies: dict[str, CompanyRecord] = {}
    first_line: dict[str, int] = {}
    for row in _read_rows(path, SIRENE_COLUMNS):
        siren = row.siren("siren")
        state = row.text("state").upper()
        if state not in ("A", "C"):
            raise row.error("state", "expected A (active) or C (ceased)")
        ceased_on = row.date("ceased_on", optional=True)
        if state == "C" and ceased_on is None:
            raise row.error("ceased_on", "required when state is C")
        if state == "A" and ceased_on is not None:
            raise row.error("ceased_on", "must be empty when state is A")
        if siren in first_line:
            raise row.error("siren", f"already given at line {first_line[siren]}")
        first_line[siren] = row.line
        companies[siren] = CompanyRecord(
            siren=siren, name=row.text("name"), active=state == "A", ceased_on=ceased_on
        )
    return companies


class CsvCnapsRegistry:
    """CNAPS authorisations from a referential file, read once when built.

    Args:
        path: The CSV file (see ``load_cnaps_file``).

    Raises:
        RegistryFileError: the file is missing or malformed.
    """

    source = "file"

    def __init__(self, path: Path = DEFAULT_CNAPS_FILE) -> None:
        self.path = path
        self._authorisations = load_cnaps_file(path)

    @property
    def authorisations(self) -> list[CnapsAuthorisation]:
        """Every authorisation of the file, in file order."""
        return list(self._authorisations.values())

    async def lookup(self, number: str) -> CnapsAuthorisation | None:
        """The authorisation with this number, or ``None`` if the file lacks it."""
        return self._authorisations.get(normalise_cnaps_authorisation(number))

    async def aclose(self) -> None:
        """Nothing to release: the file was closed once read."""


class CsvSireneRegistry:
    """SIRENE legal units from a referential file, read once when built.

    Args:
        path: The CSV file (see ``load_sirene_file``).

    Raises:
        RegistryFileError: the file is missing or malformed.
    """

    source = "file"

    def __init__(self, path: Path = DEFAULT_SIRENE_FILE) -> None:
        self.path = path
        self._companies = load_sirene_file(path)

    @property
    def companies(self) -> list[CompanyRecord]:
        """Every legal unit of the file, in file order."""
        return list(self._companies.values())

    async def lookup(self, siren: str) -> CompanyRecord | None:
        """The legal unit with this SIREN, or ``None`` if the file lacks it."""
        return self._companies.get(compact(siren))

    async def aclose(self) -> None:
        """Nothing to release: the file was closed once read."""
