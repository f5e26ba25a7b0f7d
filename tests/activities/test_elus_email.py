"""The élus' emails: every template renders in French from full facts, states what it must."""

from __future__ import annotations

import datetime as dt

import pytest

from activities.email.elus import ElusEmailRenderer
from activities.email.rendering import EmailTemplateError, Recourse
from domain.elus import ElusEmailFacts, ElusEmailTemplate

FACTS = ElusEmailFacts(
    reference="protection-0123456789abcdef",
    departement="971",
    requester_name="Dominique Leroy",
    collectivite_name="Commune de Pointe-à-Pitre",
    received_on=dt.date(2026, 5, 22),
    delay_ends_on=dt.date(2026, 5, 27),
    starts_on=dt.date(2026, 5, 28),
    window_ends_on=dt.date(2026, 9, 27),
    deliberation_on=dt.date(2026, 6, 15),
    deliberation_kind="retrait",
    reason="Les faits sont étrangers au mandat.",
    decided_on=dt.date(2026, 6, 1),
    handed_over_on=dt.date(2026, 6, 2),
    period_ends_on=dt.date(2026, 9, 1),
    period_number=1,
    returned_on=dt.date(2026, 9, 1),
    days_left=14,
    reminder_number=2,
    convening_requested_on=dt.date(2026, 6, 10),
    granted=False,
    election_label="Élections municipales 2026",
)
RECOURSE = Recourse(
    court_evaluation="le tribunal administratif de Basse-Terre",
    court_decision="le tribunal administratif de Paris",
    court_closing="le tribunal administratif de Paris",
    delay_months=2,
)


@pytest.mark.parametrize("template", list(ElusEmailTemplate), ids=lambda t: t.value)
def test_every_template_renders(template: ElusEmailTemplate) -> None:
    rendered = ElusEmailRenderer().render(template, FACTS, security_pack=True, recourse=RECOURSE)
    assert rendered.subject.startswith("Sécu'Pol – ")
    assert FACTS.reference in rendered.subject
    assert "Dominique" not in rendered.subject  # no personal data in subjects
    assert "None" not in rendered.body
    assert "01 80 52 33 84" in rendered.body
    assert "Basse-Terre" in rendered.body


def test_the_decision_notice_states_reasons_and_recourse() -> None:
    body = ElusEmailRenderer().render(ElusEmailTemplate.CP_DECISION, FACTS, recourse=RECOURSE).body
    assert "refuse" in body and FACTS.reason in body  # type: ignore[operator]
    assert "Voies et délais de recours" in body


def test_a_missing_fact_is_a_template_error() -> None:
    facts = FACTS.model_copy(update={"starts_on": None})
    with pytest.raises(EmailTemplateError):
        ElusEmailRenderer().render(ElusEmailTemplate.FP_PROTECTION_BEGINS, facts)
