"""The deadline rush bench's own logic: when its drain may stop counting."""

from __future__ import annotations

from collections import Counter

from bench.deadline_rush import ACK_TEMPLATE, TIME_BAR_TEMPLATE, all_owed_sent
from domain.stages import Stage

EMAILS = {ACK_TEMPLATE: Counter({"a": 1}), TIME_BAR_TEMPLATE: Counter({"b": 1})}


def test_the_drain_waits_for_every_final_stage_and_its_email() -> None:
    done = {"a": Stage.SUBMITTED.value, "b": Stage.TIME_BARRED.value}
    assert all_owed_sent(done, EMAILS, 2)
    # A case still on its way (a stage that owes nothing yet) keeps the drain going.
    assert not all_owed_sent({**done, "c": Stage.SPACE_OPEN.value}, EMAILS, 3)
    # A case not read yet, or a time-barred case whose email has not arrived: not yet.
    assert not all_owed_sent(done, EMAILS, 3)
    assert not all_owed_sent({**done, "c": Stage.TIME_BARRED.value}, EMAILS, 3)
    assert not all_owed_sent(done, {ACK_TEMPLATE: Counter({"a": 1})}, 2)
