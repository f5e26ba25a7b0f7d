"""Reminders owed to staff: pure functions of a case's state (rules 3 and 5 of DOMAIN.md).

- The prefecture, while an evaluation is pending: some days after the request, then every week,
  and some days before the deposit deadline.
- The CNCCFP, while a space requested is not open: some days after the request and some days
  before the deposit deadline.
- The CNCCFP, while a deposited request is under examination: some days before its decision is
  due (six months after the deposit), and once on the day it falls due.

Each reminder has a key that names its event, so that it is sent once; the workflow keeps the
keys of those sent. Reminders that fell due before the stage was entered, or before the deadline
they count from was set, are never owed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.contracts import CaseState, EmailTemplate, RecipientKind
from domain.stages import UNDER_EXAMINATION, Stage

MAX_WEEKLY_REMINDERS = 60
"""A bound on the weekly reminders of one evaluation (far above any deadline's distance)."""


@dataclass(frozen=True)
class StaffReminder:
    """One reminder to staff: when it falls due, what it says and to whom."""

    key: str
    at: dt.datetime
    template: EmailTemplate
    recipient: RecipientKind


def _entered(state: CaseState, stage: Stage) -> dt.datetime | None:
    """When the case last entered ``stage``."""
    for change in reversed(state.history):
        if change.to_stage == stage:
            return change.at
    return None


def _before_deadline(
    state: CaseState,
    prefix: str,
    offsets: list[dt.timedelta],
    since: dt.datetime,
    template: EmailTemplate,
    recipient: RecipientKind,
) -> list[StaffReminder]:
    deadline = state.deposit_deadline
    floor = max(since, state.deadline_set_at)
    return [
        StaffReminder(
            f"{prefix}:before:{int(offset.total_seconds())}s@{deadline.isoformat()}",
            deadline - offset,
            template,
            recipient,
        )
        for offset in offsets
        if deadline - offset >= floor
    ]


def staff_reminders(state: CaseState) -> list[StaffReminder]:
    """Every staff reminder of the case's current stage, sent or not, in time order.

    Cases opened before these rules (``procedure_version`` 1) owe none: their histories replay
    as they ran.
    """
    if state.procedure_version < 2 or state.stage.is_terminal:
        return []
    policy = state.policy
    deadline = state.deposit_deadline
    owed: list[StaffReminder] = []
    if state.stage == Stage.EVALUATION_REQUESTED and state.evaluation_requests:
        request = state.evaluation_requests[-1]
        prefix = f"prefecture:evaluation{request.number}"
        first = request.requested_at + policy.prefecture_reminder_after
        for week in range(MAX_WEEKLY_REMINDERS):
            at = first + policy.prefecture_reminder_every * week
            if at >= deadline:
                break
            owed.append(
                StaffReminder(
                    f"{prefix}:after:{week}",
                    at,
                    EmailTemplate.EVALUATION_REMINDER,
                    RecipientKind.PREFECTURE,
                )
            )
        owed += _before_deadline(
            state,
            prefix,
            policy.prefecture_reminder_before,
            request.requested_at,
            EmailTemplate.EVALUATION_REMINDER,
            RecipientKind.PREFECTURE,
        )
    elif state.stage == Stage.SPACE_REQUESTED and state.cnccfp_email:
        entered = _entered(state, Stage.SPACE_REQUESTED) or state.opened_at
        prefix = f"cnccfp:space@{entered.isoformat()}"
        after = entered + policy.cnccfp_reminder_after
        if after < deadline:
            owed.append(
                StaffReminder(
                    f"{prefix}:after",
                    after,
                    EmailTemplate.SPACE_REMINDER,
                    RecipientKind.CNCCFP,
                )
            )
        owed += _before_deadline(
            state,
            prefix,
            policy.cnccfp_reminder_before,
            entered,
            EmailTemplate.SPACE_REMINDER,
            RecipientKind.CNCCFP,
        )
    elif state.stage in UNDER_EXAMINATION and state.decision_due and state.cnccfp_email:
        due = state.decision_due
        since = state.submitted_at or state.opened_at
        for offset in [*policy.decision_reminder_before, dt.timedelta(0)]:
            if due - offset >= since:
                owed.append(
                    StaffReminder(
                        f"cnccfp:decision:{int(offset.total_seconds())}s@{due.isoformat()}",
                        due - offset,
                        EmailTemplate.DECISION_DUE_REMINDER,
                        RecipientKind.CNCCFP,
                    )
                )
    return sorted(owed, key=lambda reminder: reminder.at)


def owed_staff_reminders(state: CaseState) -> list[StaffReminder]:
    """The staff reminders of the current stage not sent yet."""
    sent = set(state.staff_reminders_sent)
    return [reminder for reminder in staff_reminders(state) if reminder.key not in sent]
