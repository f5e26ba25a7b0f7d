"""Business keys of workflows: the one place their ids are made."""

from __future__ import annotations

from domain.identifiers import is_candidate_id, is_opaque_id

CASE_ID_PREFIX = "case-"
CASE_WORKFLOW_TYPE = "CandidateCaseWorkflow"


def case_workflow_id(election_id: str, candidate_id: str) -> str:
    """Id of the ``CandidateCaseWorkflow`` of one candidate in one election.

    Both parts are opaque identifiers (no name, no email): the id shows in the Web UI and logs.
    The candidate id has no dash, so the id reads back one way only.

    Raises:
        ValueError: a part is not an opaque identifier, or the candidate id has a dash.
    """
    if not is_opaque_id(election_id):
        raise ValueError(f"not an opaque identifier: {election_id!r}")
    if not is_candidate_id(candidate_id):
        raise ValueError(f"not a candidate identifier: {candidate_id!r}")
    return f"{CASE_ID_PREFIX}{election_id}-{candidate_id}"
