"""Business keys of workflows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.identifiers import is_candidate_id, is_opaque_id
from domain.ids import CASE_ID_PREFIX, case_workflow_id

opaque_ids = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
candidate_ids = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True)


@pytest.mark.parametrize(
    ("election", "candidate", "expected"),
    [
        ("municipales-2026", "cand00042", "case-municipales-2026-cand00042"),
        ("legislatives-2024", "c1", "case-legislatives-2024-c1"),
    ],
)
def test_case_workflow_id(election: str, candidate: str, expected: str) -> None:
    assert case_workflow_id(election, candidate) == expected


@pytest.mark.parametrize(
    ("election", "candidate", "message"),
    [
        ("municipales 2026", "cand1", "not an opaque identifier"),
        ("Municipales-2026", "cand1", "not an opaque identifier"),
        ("", "cand1", "not an opaque identifier"),
        ("municipales-2026", "Jean Dupont", "not a candidate identifier"),
        ("municipales-2026", "CAND1", "not a candidate identifier"),
        ("municipales-2026", "", "not a candidate identifier"),
        ("municipales-2026", "jean.dupont@example.fr", "not a candidate identifier"),
        ("municipales-2026", "cand-1", "not a candidate identifier"),
    ],
)
def test_case_workflow_id_refuses_bad_parts(election: str, candidate: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        case_workflow_id(election, candidate)


@given(election=opaque_ids, candidate=candidate_ids)
def test_case_workflow_id_shape(election: str, candidate: str) -> None:
    workflow_id = case_workflow_id(election, candidate)
    assert workflow_id == f"{CASE_ID_PREFIX}{election}-{candidate}"
    assert is_opaque_id(workflow_id)
    # Reads back one way: the candidate is what follows the last dash.
    assert workflow_id.rsplit("-", 1)[1] == candidate
    assert is_candidate_id(candidate)


@given(a=st.tuples(opaque_ids, candidate_ids), b=st.tuples(opaque_ids, candidate_ids))
def test_distinct_pairs_never_share_an_id(a: tuple[str, str], b: tuple[str, str]) -> None:
    if a != b:
        assert case_workflow_id(*a) != case_workflow_id(*b)
