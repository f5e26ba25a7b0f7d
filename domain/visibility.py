"""What a case shows in Temporal visibility: search attributes that carry no personal data.

Operators filter on them in the Web UI (``SecupolStage = "submitted" AND SecupolDepartement =
"60"``) and staff lists come from them. Names and Temporal types are data here so that the
workflow (which upserts them) and the tooling (which registers them) share one list.
"""

from __future__ import annotations

STAGE = "SecupolStage"
DEPARTEMENT = "SecupolDepartement"
ELECTION = "SecupolElection"
DEPOSIT_DEADLINE = "SecupolDepositDeadline"
NEXT_DEADLINE = "SecupolNextDeadline"
DECISION_DUE = "SecupolDecisionDue"
"""When the CNCCFP's decision is due (six months after the deposit, L. 52-15); set while the case
is under examination (submitted, observations pending, under review), unset otherwise."""
RECOGNISED = "SecupolRecognised"
"""A prefect recognised the threat at least once: the CNCCFP's lists are limited to those cases
(and to cases awaiting the administration)."""
COLLECTIVITE = "SecupolCollectivite"
"""The élus' functional-protection requests: the collectivité they are addressed to (an opaque
id), for the lists of its staff."""
REQUESTER = "SecupolRequester"
"""The élus' procedures: the account of the official or candidate they concern (an opaque id),
for their own lists."""

SEARCH_ATTRIBUTE_TYPES: dict[str, str] = {
    STAGE: "Keyword",
    DEPARTEMENT: "Keyword",
    ELECTION: "Keyword",
    DEPOSIT_DEADLINE: "Datetime",
    NEXT_DEADLINE: "Datetime",
    DECISION_DUE: "Datetime",
    RECOGNISED: "Bool",
    COLLECTIVITE: "Keyword",
    REQUESTER: "Keyword",
}
"""Name to Temporal type, as ``temporal server start-dev --search-attribute`` takes them."""
