"""Election types and the one rule that says whether the scheme covers an election.

DOMAIN.md, "Legal basis": the chapter "Protection des candidats" (L. 52-18 to L. 52-18-4) sits in
the part of the code électoral common to the législatives, départementales, municipales,
communautaires and Lyon métropolitaines; whether other elections are covered is not settled in
our sources. Coverage is therefore a property of the election's *type*, decided here and nowhere
else: the admin command and the admin route both call ``is_covered`` and neither lets a person
mark one election covered against its type (rule 10, "Election data are the law's"). If the law
or the CNCCFP settles another type, this module changes, with its source.
"""

from __future__ import annotations

from enum import StrEnum

from domain.errors import DomainError, ErrorCode


class ElectionType(StrEnum):
    """Type d'élection (les cinq premiers relèvent du dispositif)."""

    LEGISLATIVES = "legislatives"
    DEPARTEMENTALES = "departementales"
    MUNICIPALES = "municipales"
    COMMUNAUTAIRES = "communautaires"
    METROPOLITAINES_LYON = "metropolitaines-lyon"
    # Not in the common part of the code électoral, or not settled: not covered.
    REGIONALES = "regionales"
    TERRITORIALES = "territoriales"
    """The assemblies of Corsica, French Guiana, Martinique and the overseas collectivities."""
    SENATORIALES = "senatoriales"
    EUROPEENNES = "europeennes"
    PRESIDENTIELLE = "presidentielle"


LABELS: dict[ElectionType, str] = {
    ElectionType.LEGISLATIVES: "élections législatives",
    ElectionType.DEPARTEMENTALES: "élections départementales",
    ElectionType.MUNICIPALES: "élections municipales",
    ElectionType.COMMUNAUTAIRES: "élections des conseillers communautaires",
    ElectionType.METROPOLITAINES_LYON: "élections métropolitaines de Lyon",
    ElectionType.REGIONALES: "élections régionales",
    ElectionType.TERRITORIALES: "élections territoriales",
    ElectionType.SENATORIALES: "élections sénatoriales",
    ElectionType.EUROPEENNES: "élections européennes",
    ElectionType.PRESIDENTIELLE: "élection présidentielle",
}
"""French names, for the command's report and the messages."""

COVERED_TYPES: frozenset[ElectionType] = frozenset(
    {
        ElectionType.LEGISLATIVES,
        ElectionType.DEPARTEMENTALES,
        ElectionType.MUNICIPALES,
        ElectionType.COMMUNAUTAIRES,
        ElectionType.METROPOLITAINES_LYON,
    }
)
"""The five types of the common part of the code électoral (DOMAIN.md, "Legal basis")."""


def is_covered(election_type: ElectionType | str) -> bool:
    """Whether the scheme applies to an election of this type: the one coverage rule.

    Args:
        election_type: An ``ElectionType`` or its value; any other text is not covered.
    """
    return election_type in COVERED_TYPES


def parse_election_type(value: str) -> ElectionType:
    """The known election type named by ``value`` (surrounding spaces ignored).

    Raises:
        DomainError: ``invalid_input`` on ``election_type``, naming the accepted values.
    """
    try:
        return ElectionType(value.strip())
    except ValueError:
        accepted = ", ".join(kind.value for kind in ElectionType)
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            field="election_type",
            message=f"Type d'élection inconnu. Types acceptés : {accepted}.",
        ) from None
