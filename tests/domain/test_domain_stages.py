"""The stage machine: who may do what, when, and what follows."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.stages import (
    BEFORE_SUBMISSION,
    OPEN_STAGES,
    RULES,
    TERMINAL_STAGES,
    Action,
    Outcome,
    Role,
    Stage,
    actions_for,
    check_allowed,
    check_role,
    check_stage,
    next_stage,
)

HUMAN_ROLES = frozenset(
    {Role.CANDIDATE, Role.THIRD_PARTY, Role.PREFECTURE, Role.CNCCFP, Role.OPERATOR}
)
DECIDING_ACTIONS = (
    Action.RECORD_EVALUATION,
    Action.DECIDE,
    Action.RECORD_PAYMENT,
    Action.OPEN_SPACE,
)


def reachable_from(start: Stage) -> set[Stage]:
    seen = {start}
    queue = deque([start])
    while queue:
        stage = queue.popleft()
        for rule in RULES.values():
            if stage not in rule.from_stages:
                continue
            for _, target in rule.to:
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
    return seen


# --- The table -----------------------------------------------------------------------------------


def test_every_action_has_exactly_one_rule() -> None:
    assert set(RULES) == set(Action)
    for action, rule in RULES.items():
        assert rule.action == action


def test_every_rule_is_labelled_and_has_roles_and_stages() -> None:
    for rule in RULES.values():
        assert rule.label.strip()
        assert rule.roles
        assert rule.from_stages


def test_stage_sets_partition_the_stages() -> None:
    assert {
        Stage.PAID,
        Stage.REJECTED,
        Stage.TIME_BARRED,
        Stage.WITHDRAWN,
        Stage.CLOSED,
    } == TERMINAL_STAGES
    assert set(Stage) == OPEN_STAGES | TERMINAL_STAGES
    assert not OPEN_STAGES & TERMINAL_STAGES
    assert BEFORE_SUBMISSION <= OPEN_STAGES
    for stage in Stage:
        assert stage.is_terminal == (stage in TERMINAL_STAGES)


def test_every_stage_is_reachable_from_opened() -> None:
    assert reachable_from(Stage.OPENED) == set(Stage)


@pytest.mark.parametrize("stage", sorted(OPEN_STAGES))
def test_every_open_stage_can_reach_a_terminal_stage(stage: Stage) -> None:
    assert reachable_from(stage) & TERMINAL_STAGES


@pytest.mark.parametrize("stage", sorted(OPEN_STAGES - {Stage.OPENED}))
def test_every_open_stage_but_opened_is_entered_by_some_rule(stage: Stage) -> None:
    assert any(stage in dict(rule.to).values() for rule in RULES.values())


def test_no_rule_applies_to_a_terminal_stage() -> None:
    for rule in RULES.values():
        assert not rule.from_stages & TERMINAL_STAGES, rule.action


@pytest.mark.parametrize("stage", sorted(TERMINAL_STAGES))
@pytest.mark.parametrize("role", list(Role))
def test_nobody_acts_on_a_closed_case(stage: Stage, role: Role) -> None:
    assert actions_for(stage, role) == []


def test_rules_without_targets_keep_the_stage_and_others_have_distinct_outcomes() -> None:
    for rule in RULES.values():
        outcomes = [outcome for outcome, _ in rule.to]
        assert len(outcomes) == len(set(outcomes))


# --- check_allowed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "action", "role", "code"),
    [
        # Role before stage: a candidate learns nothing of the stage of a decision.
        (Stage.OPENED, Action.DECIDE, Role.CANDIDATE, ErrorCode.FORBIDDEN_ROLE),
        (Stage.PAID, Action.DECIDE, Role.CANDIDATE, ErrorCode.FORBIDDEN_ROLE),
        (Stage.WITHDRAWN, Action.RECORD_PAYMENT, Role.CNCCFP, ErrorCode.FORBIDDEN_ROLE),
        (Stage.SPACE_OPEN, Action.SUBMIT, Role.PREFECTURE, ErrorCode.FORBIDDEN_ROLE),
        (Stage.OPENED, Action.REQUEST_EVALUATION, Role.THIRD_PARTY, ErrorCode.FORBIDDEN_ROLE),
        (Stage.SPACE_OPEN, Action.WITHDRAW, Role.THIRD_PARTY, ErrorCode.FORBIDDEN_ROLE),
        (Stage.SPACE_OPEN, Action.ADD_NOTE, Role.CNCCFP, ErrorCode.FORBIDDEN_ROLE),
        (
            Stage.SPACE_OPEN,
            Action.DEPOSIT_DEADLINE_EXPIRED,
            Role.OPERATOR,
            ErrorCode.FORBIDDEN_ROLE,
        ),
        # Right role, wrong stage.
        (Stage.OPENED, Action.DECIDE, Role.CNCCFP, ErrorCode.WRONG_STAGE),
        (Stage.SPACE_OPEN, Action.RECORD_EVALUATION, Role.PREFECTURE, ErrorCode.WRONG_STAGE),
        (Stage.SUBMITTED, Action.ADD_EXPENSE_LINE, Role.CANDIDATE, ErrorCode.WRONG_STAGE),
        (Stage.SUBMITTED, Action.DEPOSIT_DEADLINE_EXPIRED, Role.SYSTEM, ErrorCode.WRONG_STAGE),
        (Stage.THREAT_RECOGNISED, Action.REQUEST_EVALUATION, Role.CANDIDATE, ErrorCode.WRONG_STAGE),
        (Stage.SUBMITTED, Action.RECORD_PAYMENT, Role.PREFECTURE, ErrorCode.WRONG_STAGE),
        # Right role, closed case.
        (Stage.PAID, Action.RECORD_PAYMENT, Role.PREFECTURE, ErrorCode.CASE_CLOSED),
        (Stage.REJECTED, Action.DECIDE, Role.CNCCFP, ErrorCode.CASE_CLOSED),
        (Stage.WITHDRAWN, Action.WITHDRAW, Role.CANDIDATE, ErrorCode.CASE_CLOSED),
        (Stage.TIME_BARRED, Action.ADD_NOTE, Role.OPERATOR, ErrorCode.CASE_CLOSED),
        (Stage.TIME_BARRED, Action.DEPOSIT_DEADLINE_EXPIRED, Role.SYSTEM, ErrorCode.CASE_CLOSED),
    ],
)
def test_check_allowed_refuses(stage: Stage, action: Action, role: Role, code: ErrorCode) -> None:
    with pytest.raises(DomainError) as caught:
        check_allowed(stage, action, role)

    assert caught.value.code == code


@pytest.mark.parametrize(
    ("stage", "action", "role"),
    [
        (Stage.OPENED, Action.REQUEST_EVALUATION, Role.CANDIDATE),
        (Stage.THREAT_NOT_RECOGNISED, Action.REQUEST_EVALUATION, Role.CANDIDATE),
        (Stage.EVALUATION_REQUESTED, Action.RECORD_EVALUATION, Role.PREFECTURE),
        (Stage.THREAT_RECOGNISED, Action.REQUEST_SPACE, Role.THIRD_PARTY),
        (Stage.SPACE_REQUESTED, Action.OPEN_SPACE, Role.CNCCFP),
        (Stage.SPACE_OPEN, Action.ADD_EXPENSE_LINE, Role.THIRD_PARTY),
        (Stage.SPACE_OPEN, Action.SUBMIT, Role.CANDIDATE),
        (Stage.UNDER_REVIEW, Action.SEND_OBSERVATIONS, Role.CNCCFP),
        (Stage.OBSERVATIONS_PENDING, Action.ANSWER_OBSERVATIONS, Role.THIRD_PARTY),
        (Stage.OBSERVATIONS_PENDING, Action.ANSWER_DELAY_EXPIRED, Role.SYSTEM),
        (Stage.SUBMITTED, Action.DECIDE, Role.CNCCFP),
        (Stage.DECIDED, Action.CONTACT_PREFECTURE, Role.CANDIDATE),
        (Stage.DECIDED, Action.RECORD_PAYMENT, Role.PREFECTURE),
        (Stage.PAYMENT_PENDING, Action.RECORD_PAYMENT, Role.PREFECTURE),
        (Stage.SPACE_REQUESTED, Action.ADMINISTRATION_DEADLINE_PASSED, Role.SYSTEM),
        (Stage.PAYMENT_PENDING, Action.CORRECT_DEPOSIT_DEADLINE, Role.OPERATOR),
    ],
)
def test_check_allowed_accepts_and_returns_the_rule(
    stage: Stage, action: Action, role: Role
) -> None:
    rule = check_allowed(stage, action, role)

    assert rule is RULES[action]


@given(
    stage=st.sampled_from(list(Stage)),
    action=st.sampled_from(list(Action)),
    role=st.sampled_from(list(Role)),
)
def test_check_allowed_agrees_with_the_table(stage: Stage, action: Action, role: Role) -> None:
    rule = RULES[action]
    try:
        check_allowed(stage, action, role)
    except DomainError as error:
        if role not in rule.roles:
            assert error.code == ErrorCode.FORBIDDEN_ROLE
        elif stage in TERMINAL_STAGES:
            assert error.code == ErrorCode.CASE_CLOSED
        else:
            assert error.code == ErrorCode.WRONG_STAGE
        assert action not in actions_for(stage, role)
    else:
        assert role in rule.roles
        assert stage in rule.from_stages
        assert action in actions_for(stage, role)


@given(
    stage=st.sampled_from(list(Stage)),
    action=st.sampled_from(list(Action)),
    role=st.sampled_from(list(Role)),
)
def test_check_allowed_is_check_role_then_check_stage(
    stage: Stage, action: Action, role: Role
) -> None:
    def outcome(check: Callable[[], object]) -> ErrorCode | None:
        try:
            check()
        except DomainError as error:
            return error.code
        return None

    role_code = outcome(lambda: check_role(action, role))
    stage_code = outcome(lambda: check_stage(stage, action))

    assert outcome(lambda: check_allowed(stage, action, role)) == (role_code or stage_code)
    assert role_code in {None, ErrorCode.FORBIDDEN_ROLE}
    assert stage_code in {None, ErrorCode.WRONG_STAGE, ErrorCode.CASE_CLOSED}


@pytest.mark.parametrize(
    ("stage", "action", "code"),
    [
        (Stage.SPACE_OPEN, Action.SUBMIT, None),
        (Stage.OPENED, Action.SUBMIT, ErrorCode.WRONG_STAGE),
        (Stage.PAID, Action.SUBMIT, ErrorCode.CASE_CLOSED),
        (Stage.WITHDRAWN, Action.ADD_NOTE, ErrorCode.CASE_CLOSED),
        (Stage.DECIDED, Action.ADD_NOTE, None),
    ],
)
def test_check_stage(stage: Stage, action: Action, code: ErrorCode | None) -> None:
    if code is None:
        assert check_stage(stage, action) is RULES[action]
    else:
        with pytest.raises(DomainError) as caught:
            check_stage(stage, action)
        assert caught.value.code == code


@pytest.mark.parametrize(
    ("action", "role", "allowed"),
    [
        (Action.SUBMIT, Role.THIRD_PARTY, True),
        (Action.SUBMIT, Role.CNCCFP, False),
        (Action.DECIDE, Role.CNCCFP, True),
        (Action.DECIDE, Role.OPERATOR, False),
        (Action.WITHDRAW, Role.THIRD_PARTY, False),
    ],
)
def test_check_role(action: Action, role: Role, allowed: bool) -> None:
    if allowed:
        assert check_role(action, role) is RULES[action]
    else:
        with pytest.raises(DomainError) as caught:
            check_role(action, role)
        assert caught.value.code == ErrorCode.FORBIDDEN_ROLE


# --- Withdrawal and operators --------------------------------------------------------------------


@pytest.mark.parametrize("stage", sorted(OPEN_STAGES))
def test_candidate_may_withdraw_from_every_open_stage(stage: Stage) -> None:
    check_allowed(stage, Action.WITHDRAW, Role.CANDIDATE)

    assert next_stage(stage, Action.WITHDRAW) == Stage.WITHDRAWN


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.CANDIDATE}))
@pytest.mark.parametrize("stage", [Stage.OPENED, Stage.SPACE_OPEN, Stage.DECIDED])
def test_only_the_candidate_may_withdraw(stage: Stage, role: Role) -> None:
    with pytest.raises(DomainError) as caught:
        check_allowed(stage, Action.WITHDRAW, role)

    assert caught.value.code == ErrorCode.FORBIDDEN_ROLE


@pytest.mark.parametrize("action", DECIDING_ACTIONS)
@pytest.mark.parametrize("stage", list(Stage))
def test_operators_never_take_a_deciding_action(stage: Stage, action: Action) -> None:
    assert Role.OPERATOR not in RULES[action].roles
    with pytest.raises(DomainError) as caught:
        check_allowed(stage, action, Role.OPERATOR)

    assert caught.value.code == ErrorCode.FORBIDDEN_ROLE


def test_operator_actions_never_change_the_stage() -> None:
    for rule in RULES.values():
        if Role.OPERATOR in rule.roles:
            assert rule.to == ()
            assert rule.roles == {Role.OPERATOR}


def test_system_only_takes_timer_actions() -> None:
    system_actions = {action for action, rule in RULES.items() if Role.SYSTEM in rule.roles}

    assert system_actions == {
        Action.DEPOSIT_DEADLINE_EXPIRED,
        Action.ANSWER_DELAY_EXPIRED,
        Action.ADMINISTRATION_DEADLINE_PASSED,
    }
    for action in system_actions:
        assert RULES[action].roles == {Role.SYSTEM}


def test_roles_of_the_deciding_actions() -> None:
    assert RULES[Action.RECORD_EVALUATION].roles == {Role.PREFECTURE}
    assert RULES[Action.RECORD_PAYMENT].roles == {Role.PREFECTURE}
    assert RULES[Action.DECIDE].roles == {Role.CNCCFP}
    assert RULES[Action.OPEN_SPACE].roles == {Role.CNCCFP}


def test_time_bar_applies_before_submission_only() -> None:
    assert RULES[Action.DEPOSIT_DEADLINE_EXPIRED].from_stages < BEFORE_SUBMISSION
    assert Stage.SUBMITTED not in BEFORE_SUBMISSION
    assert Stage.SPACE_OPEN in BEFORE_SUBMISSION


def test_rule3_the_administrations_delay_never_time_bars() -> None:
    """Waiting on the prefect or the CNCCFP at the deadline leads to a stage of its own."""
    time_bar = RULES[Action.DEPOSIT_DEADLINE_EXPIRED].from_stages
    assert Stage.EVALUATION_REQUESTED not in time_bar
    assert Stage.SPACE_REQUESTED not in time_bar
    waiting = RULES[Action.ADMINISTRATION_DEADLINE_PASSED]
    assert waiting.from_stages == {Stage.EVALUATION_REQUESTED, Stage.SPACE_REQUESTED}
    assert dict(waiting.to)[Outcome.DEFAULT] == Stage.AWAITING_ADMINISTRATION
    assert actions_for(Stage.AWAITING_ADMINISTRATION, Role.CNCCFP) == [
        Action.OPEN_LATE_WINDOW,
        Action.CLOSE_CASE,
    ]


# --- next_stage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "action", "outcome", "expected"),
    [
        (
            Stage.EVALUATION_REQUESTED,
            Action.RECORD_EVALUATION,
            Outcome.RECOGNISED,
            Stage.THREAT_RECOGNISED,
        ),
        (
            Stage.EVALUATION_REQUESTED,
            Action.RECORD_EVALUATION,
            Outcome.NOT_RECOGNISED,
            Stage.THREAT_NOT_RECOGNISED,
        ),
        (Stage.SUBMITTED, Action.DECIDE, Outcome.AMOUNT_DECIDED, Stage.DECIDED),
        (Stage.UNDER_REVIEW, Action.DECIDE, Outcome.NOTHING_DECIDED, Stage.REJECTED),
        (Stage.OPENED, Action.REQUEST_EVALUATION, Outcome.DEFAULT, Stage.EVALUATION_REQUESTED),
        (
            Stage.THREAT_NOT_RECOGNISED,
            Action.REQUEST_EVALUATION,
            Outcome.DEFAULT,
            Stage.EVALUATION_REQUESTED,
        ),
        (Stage.THREAT_RECOGNISED, Action.REQUEST_SPACE, Outcome.DEFAULT, Stage.SPACE_REQUESTED),
        (Stage.SPACE_REQUESTED, Action.OPEN_SPACE, Outcome.DEFAULT, Stage.SPACE_OPEN),
        (Stage.SPACE_OPEN, Action.SUBMIT, Outcome.DEFAULT, Stage.SUBMITTED),
        (Stage.SUBMITTED, Action.SEND_OBSERVATIONS, Outcome.DEFAULT, Stage.OBSERVATIONS_PENDING),
        (
            Stage.OBSERVATIONS_PENDING,
            Action.ANSWER_OBSERVATIONS,
            Outcome.DEFAULT,
            Stage.UNDER_REVIEW,
        ),
        (
            Stage.OBSERVATIONS_PENDING,
            Action.ANSWER_DELAY_EXPIRED,
            Outcome.DEFAULT,
            Stage.UNDER_REVIEW,
        ),
        (Stage.DECIDED, Action.CONTACT_PREFECTURE, Outcome.DEFAULT, Stage.PAYMENT_PENDING),
        (Stage.DECIDED, Action.RECORD_PAYMENT, Outcome.DEFAULT, Stage.PAID),
        (Stage.PAYMENT_PENDING, Action.RECORD_PAYMENT, Outcome.DEFAULT, Stage.PAID),
        (Stage.SPACE_OPEN, Action.DEPOSIT_DEADLINE_EXPIRED, Outcome.DEFAULT, Stage.TIME_BARRED),
        # Actions without targets keep the stage.
        (Stage.SPACE_OPEN, Action.ADD_EXPENSE_LINE, Outcome.DEFAULT, Stage.SPACE_OPEN),
        (Stage.SPACE_OPEN, Action.REMOVE_EXPENSE_LINE, Outcome.DEFAULT, Stage.SPACE_OPEN),
        (Stage.UNDER_REVIEW, Action.MANDATE_THIRD_PARTY, Outcome.DEFAULT, Stage.UNDER_REVIEW),
        (Stage.DECIDED, Action.ADD_NOTE, Outcome.DEFAULT, Stage.DECIDED),
    ],
)
def test_next_stage(stage: Stage, action: Action, outcome: Outcome, expected: Stage) -> None:
    assert next_stage(stage, action, outcome) == expected


def test_next_stage_defaults_to_the_default_outcome() -> None:
    assert next_stage(Stage.SPACE_OPEN, Action.SUBMIT) == Stage.SUBMITTED


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        (Action.RECORD_EVALUATION, Outcome.DEFAULT),
        (Action.RECORD_EVALUATION, Outcome.AMOUNT_DECIDED),
        (Action.DECIDE, Outcome.DEFAULT),
        (Action.DECIDE, Outcome.RECOGNISED),
        (Action.SUBMIT, Outcome.NOTHING_DECIDED),
    ],
)
def test_next_stage_refuses_an_outcome_the_action_cannot_have(
    action: Action, outcome: Outcome
) -> None:
    with pytest.raises(KeyError):
        next_stage(Stage.SUBMITTED, action, outcome)


# --- actions_for ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "role", "expected"),
    [
        (
            Stage.OPENED,
            Role.CANDIDATE,
            [Action.REQUEST_EVALUATION, Action.MANDATE_THIRD_PARTY, Action.WITHDRAW],
        ),
        (Stage.OPENED, Role.THIRD_PARTY, []),
        (Stage.OPENED, Role.PREFECTURE, []),
        (
            Stage.OPENED,
            Role.OPERATOR,
            [
                Action.CORRECT_FIRST_ROUND,
                Action.CORRECT_DEPOSIT_DEADLINE,
                Action.ADD_NOTE,
                Action.RETRY_REGISTRY_CHECKS,
            ],
        ),
        (Stage.OPENED, Role.SYSTEM, [Action.DEPOSIT_DEADLINE_EXPIRED]),
        (Stage.EVALUATION_REQUESTED, Role.PREFECTURE, [Action.RECORD_EVALUATION]),
        (
            Stage.THREAT_NOT_RECOGNISED,
            Role.CANDIDATE,
            [Action.REQUEST_EVALUATION, Action.MANDATE_THIRD_PARTY, Action.WITHDRAW],
        ),
        (Stage.THREAT_RECOGNISED, Role.THIRD_PARTY, [Action.REQUEST_SPACE]),
        (Stage.SPACE_REQUESTED, Role.CNCCFP, [Action.OPEN_SPACE]),
        (
            Stage.SPACE_OPEN,
            Role.CANDIDATE,
            [
                Action.MANDATE_THIRD_PARTY,
                Action.ADD_EXPENSE_LINE,
                Action.REMOVE_EXPENSE_LINE,
                Action.SUBMIT,
                Action.WITHDRAW,
                Action.REQUEST_REEVALUATION,
            ],
        ),
        (
            Stage.SPACE_OPEN,
            Role.THIRD_PARTY,
            [Action.ADD_EXPENSE_LINE, Action.REMOVE_EXPENSE_LINE, Action.SUBMIT],
        ),
        (
            Stage.SUBMITTED,
            Role.CNCCFP,
[
                Action.SEND_OBSERVATIONS,
                Action.RECORD_MANUAL_VERIFICATION,
                Action.DECIDE,
                Action.RECORD_LINE_VERDICT,
                Action.CORRECT_ROUNDS_ATTENDED,
            ],
        ),
        (Stage.SUBMITTED, Role.SYSTEM, []),
        (
            Stage.OBSERVATIONS_PENDING,
            Role.CNCCFP,
            [
                Action.RECORD_MANUAL_VERIFICATION,
                Action.RECORD_LINE_VERDICT,
                Action.CORRECT_ROUNDS_ATTENDED,
            ],
        ),
        (Stage.OBSERVATIONS_PENDING, Role.SYSTEM, [Action.ANSWER_DELAY_EXPIRED]),
        (
            Stage.UNDER_REVIEW,
            Role.CNCCFP,
[
                Action.SEND_OBSERVATIONS,
                Action.RECORD_MANUAL_VERIFICATION,
                Action.DECIDE,
                Action.RECORD_LINE_VERDICT,
                Action.CORRECT_ROUNDS_ATTENDED,
            ],
        ),
        (Stage.DECIDED, Role.PREFECTURE, [Action.RECORD_PAYMENT]),
        (Stage.DECIDED, Role.THIRD_PARTY, [Action.CONTACT_PREFECTURE]),
        (Stage.PAYMENT_PENDING, Role.PREFECTURE, [Action.RECORD_PAYMENT]),
        (Stage.PAYMENT_PENDING, Role.CANDIDATE, [Action.MANDATE_THIRD_PARTY, Action.WITHDRAW]),
        (Stage.PAID, Role.PREFECTURE, []),
        (Stage.WITHDRAWN, Role.OPERATOR, []),
    ],
)
def test_actions_for(stage: Stage, role: Role, expected: list[Action]) -> None:
    assert actions_for(stage, role) == expected


@pytest.mark.parametrize("stage", sorted(OPEN_STAGES))
def test_humans_and_system_together_can_always_move_an_open_case(stage: Stage) -> None:
    movers = [
        action
        for role in Role
        for action in actions_for(stage, role)
        if RULES[action].to and stage not in dict(RULES[action].to).values()
    ]

    assert movers
