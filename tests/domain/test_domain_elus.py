"""The élus' stage table: each procedure's rows stay within its stages, every stage is reachable,
closed stages allow nothing, and a loan never ends by a timer."""

from __future__ import annotations

import pytest

from domain.elus import (
    ELUS_RULES,
    PROCEDURE_STAGES,
    TERMINAL_ELUS_STAGES,
    ElusAction,
    ElusStage,
    Procedure,
    check_elus_role,
    check_elus_stage,
    elus_actions_for,
    procedure_of,
    procedure_workflow_id,
)
from domain.errors import DomainError, ErrorCode
from domain.stages import Role


@pytest.mark.parametrize("procedure", list(Procedure))
def test_each_procedure_stays_within_its_stages_and_reaches_all_of_them(
    procedure: Procedure,
) -> None:
    stages = PROCEDURE_STAGES[procedure]
    rules = [rule for rule in ELUS_RULES.values() if rule.procedure == procedure]
    reached: set[ElusStage] = set()
    for rule in rules:
        assert rule.from_stages <= stages, rule.action
        assert rule.label
        reached |= {stage for _, stage in rule.to}
        assert not rule.from_stages & TERMINAL_ELUS_STAGES, rule.action
    assert reached == stages
    # Exactly one action starts the procedure.
    assert len([rule for rule in rules if not rule.from_stages]) == 1


def test_a_loan_is_never_ended_by_a_timer() -> None:
    for rule in ELUS_RULES.values():
        if Role.SYSTEM in rule.roles:
            assert not {stage for _, stage in rule.to} & TERMINAL_ELUS_STAGES or (
                rule.procedure == Procedure.FUNCTIONAL_PROTECTION
            ), rule.action
    ends = ELUS_RULES[ElusAction.LOAN_PERIOD_ENDS]
    assert [stage for _, stage in ends.to] == [ElusStage.AB_OVERDUE]


def test_checks_refuse_role_before_stage() -> None:
    with pytest.raises(DomainError) as refused:
        check_elus_role(ElusAction.RECORD_DELIBERATION, Role.ELU)
    assert refused.value.code == ErrorCode.FORBIDDEN_ROLE
    with pytest.raises(DomainError) as refused:
        check_elus_stage(ElusStage.FP_FINAL, ElusAction.RECORD_DELIBERATION)
    assert refused.value.code == ErrorCode.CASE_CLOSED
    with pytest.raises(DomainError) as refused:
        check_elus_stage(ElusStage.FP_RECEIVED, ElusAction.RECORD_DELIBERATION)
    assert refused.value.code == ErrorCode.WRONG_STAGE
    assert elus_actions_for(ElusStage.AB_OVERDUE, Role.PREFECTURE) == [
        ElusAction.RENEW_LOAN,
        ElusAction.RECORD_RETURN,
    ]


@pytest.mark.parametrize("procedure", list(Procedure))
def test_workflow_ids_name_their_procedure(procedure: Procedure) -> None:
    assert procedure_of(procedure_workflow_id(procedure, "0123abcd")) == procedure
    assert procedure_of("case-municipales-2026-cand1") is None
