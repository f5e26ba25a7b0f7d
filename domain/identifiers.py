"""Identifiers of companies and authorisations: SIREN, SIRET, CNAPS authorisation numbers.

People write these with spaces ("732 829 320"); spaces are tolerated, anything else is strict.
"""

from __future__ import annotations

import re

LA_POSTE_SIREN = "356000000"
"""La Poste's establishments do not follow Luhn: their SIRET digits sum to a multiple of 5."""

LA_POSTE_HEAD_OFFICE_SIRET = "35600000000048"
"""La Poste's head office is the one establishment of La Poste whose SIRET follows Luhn."""

# ASCII classes only: ``\d`` would also match Arabic-Indic or full-width digits.
_CNAPS_AUTHORISATION = re.compile(r"AUT-[0-9]{3}-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{11}")
_OPAQUE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_CANDIDATE_ID = re.compile(r"[a-z0-9]{1,64}")
# 20 is no département since Corsica was split into 2A and 2B (1976).
_DEPARTEMENT = re.compile(r"0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-8]|98[4-9]")


def compact(value: str) -> str:
    """Drop the spaces people put in identifiers."""
    return value.replace(" ", "").replace("\u00a0", "")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_valid_siren(value: str) -> bool:
    """True for nine digits whose last is the Luhn check digit (spaces tolerated)."""
    siren = compact(value)
    return len(siren) == 9 and siren.isascii() and siren.isdigit() and _luhn_ok(siren)


def is_valid_siret(value: str) -> bool:
    """True for a valid SIREN followed by five digits, Luhn over all fourteen.

    La Poste's establishments (SIREN 356000000) are the documented exception: the sum of the
    fourteen digits is a multiple of five, except at the head office, which follows Luhn.
    """
    siret = compact(value)
    if len(siret) != 14 or not siret.isascii() or not siret.isdigit():
        return False
    if not is_valid_siren(siret[:9]):
        return False
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_HEAD_OFFICE_SIRET:
        return sum(int(char) for char in siret) % 5 == 0
    return _luhn_ok(siret)


def is_valid_cnaps_authorisation(value: str) -> bool:
    """True for a company authorisation number shaped like ``AUT-075-2124-07-01-20250906336``.

    There is no official specification: the shape is checked, the registry stays the judge. Agent
    cards (``CAR-…``) have the same shape but are not company authorisations.
    """
    return _CNAPS_AUTHORISATION.fullmatch(compact(value).upper()) is not None


def normalise_cnaps_authorisation(value: str) -> str:
    """The canonical form of an authorisation number (no spaces, upper case)."""
    return compact(value).upper()


def is_opaque_id(value: str) -> bool:
    """True for an identifier safe to put in a workflow id: lower-case letters, digits, dashes."""
    return _OPAQUE_ID.fullmatch(value) is not None


def is_candidate_id(value: str) -> bool:
    """True for a candidate id: lower-case letters and digits, no dash.

    Without dashes the candidate is what follows the last dash of a case id, so that two
    (election, candidate) pairs never share a workflow id.
    """
    return _CANDIDATE_ID.fullmatch(value) is not None


def is_valid_departement(value: str) -> bool:
    """True for a département code: 01-95, 2A, 2B, 971-978, 984-989."""
    return _DEPARTEMENT.fullmatch(value) is not None
