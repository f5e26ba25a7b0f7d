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

Spreading: every case of an election shares its deposit deadline, so the reminders counted back
from it (the candidate's D-14, D-3, D-1 and the staff's) would fall due in the same second for
thousands of cases. A case whose policy has a ``reminder_spread`` sends them a little later, by
an offset of its own derived from its id (``spread_offset``): the same on every replay and every
worker, different from case to case, and never enough to change the day count an email states.
The deadline itself (the time bar) is never moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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


def spread_offset(case_id: str, spread: dt.timedelta) -> dt.timedelta:
    """The case's own delay, in whole seconds within ``[0, spread)``, for reminders that count
    back from a deadline every case shares.

    Args:
        case_id: The workflow id: the offset depends on it alone (SHA-256, not Python's salted
            ``hash``), so replays and workers agree.
        spread: The window; zero or less gives zero (cases opened before spreading).
    """
    seconds = int(spread.total_seconds())
    if seconds <= 0:
        return dt.timedelta(0)
    digest = hashlib.sha256(case_id.encode("utf-8")).digest()
    return dt.timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)


def before_deadline_at(
    state: CaseState, deadline: dt.datetime, offset: dt.timedelta
) -> dt.datetime:
    """When the reminder ``offset`` before ``deadline`` falls due for this case.

    Later than ``deadline - offset`` by the case's spread offset, capped at half the offset: a
    reminder stays well before the deadline and keeps its day count (D-1 is sent more than half
    a day before).
    """
    delay = spread_offset(state.case_id, state.policy.reminder_spread)
    return deadline - offset + min(delay, offset / 2)


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
            before_deadline_at(state, deadline, offset),
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
