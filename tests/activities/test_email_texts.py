"""What the French emails must say (DOMAIN.md, "Emails" and rules 1-10), template by template.

Every ``EmailTemplate`` value is rendered from realistic facts (each variant a reader can meet:
threat recognised or not, capped or not, each stage of a time bar, copy for a third party or
not) and checked for the mentions the law or the review asks for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from activities.email import DecisionKind, EmailRenderer, EmailTemplateError, Recourse
from activities.email.rendering import RenderedEmail
from domain.calendar import end_of_day_paris
from domain.contracts import EmailFacts, EmailTemplate
from domain.money import DecisionOutcome, ThreatLevel
from domain.stages import Stage

UTC = dt.UTC
CANDIDATE_NAME = "Camille Lefèvre-Dubois"
THIRD_PARTY_NAME = "Dominique Martin-Roux"
SECURITY_PACK_PHONE = "01 80 52 33 84"

RECOURSE = Recourse(
    court_evaluation="le tribunal administratif d'Amiens",
    court_decision="le tribunal administratif de Paris",
    court_closing="le tribunal administratif de Cergy-Pontoise",
    delay_months=2,
)
COURT = {
    DecisionKind.EVALUATION: RECOURSE.court_evaluation,
    DecisionKind.DECISION: RECOURSE.court_decision,
    DecisionKind.CLOSING: RECOURSE.court_closing,
}
AUTHOR = {
    DecisionKind.EVALUATION: "adressé au préfet du département 60",
    DecisionKind.DECISION: "adressé à la CNCCFP",
    DecisionKind.CLOSING: "adressé à la CNCCFP",
}

DECISION_EMAILS: dict[EmailTemplate, DecisionKind] = {
    EmailTemplate.EVALUATION_RECORDED: DecisionKind.EVALUATION,
    EmailTemplate.THREAT_REEVALUATED: DecisionKind.EVALUATION,
    EmailTemplate.DECISION: DecisionKind.DECISION,
    EmailTemplate.CASE_CLOSED: DecisionKind.CLOSING,
    EmailTemplate.TIME_BARRED: DecisionKind.CLOSING,
}
"""The decisions that must state voies et délais de recours (CJA R. 421-1, R. 421-5)."""

STAFF_EMAILS = {
    EmailTemplate.EVALUATION_REQUESTED,
    EmailTemplate.EVALUATION_REMINDER,
    EmailTemplate.REEVALUATION_REQUESTED,
    EmailTemplate.PAYMENT_REQUESTED,
    EmailTemplate.SPACE_REQUESTED,
    EmailTemplate.SPACE_REMINDER,
    EmailTemplate.DECISION_DUE_REMINDER,
    EmailTemplate.ADMINISTRATION_DELAY_STAFF,
}
"""To the prefecture or the CNCCFP: never copied to a third party."""
CANDIDATE_EMAILS = [template for template in EmailTemplate if template not in STAFF_EMAILS]

BLAME = (
    "n'avez pas déposé",
    "été déposée",
    "faute de dépôt",
    "pas déposé votre",
    "votre retard",
    "négligence",
)
"""Wording that tells the candidate they failed to deposit (only for a space left unused)."""

SECRET_FACTS = "Le voisin du 12 rue des Lilas m'a menacé au couteau."
"""New facts of a re-evaluation request: they stay in Sécu'Pol, never in an email."""

BASE: dict[str, Any] = {
    "case_id": "case-municipales-2026-cand-4f2a9c",
    "election_label": "Élections municipales 2026",
    "candidate_name": CANDIDATE_NAME,
    "departement": "60",
    "deposit_deadline": dt.datetime(2026, 5, 22, 16, 0, tzinfo=UTC),
}
SUBMITTED: dict[str, Any] = {
    "submitted_at": dt.datetime(2026, 5, 4, 8, 30, tzinfo=UTC),
    "line_count": 3,
    "claimed_cents": 1_845_050,
    "decision_due": dt.datetime(2026, 11, 4, 8, 30, tzinfo=UTC),
}


@dataclass(frozen=True)
class Scenario:
    """One email a reader can receive: its template, its facts and what it must say."""

    name: str
    template: EmailTemplate
    facts: dict[str, Any]
    must_say: tuple[str, ...] = ()
    must_not_say: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def email_facts(self, **overrides: Any) -> EmailFacts:
        return EmailFacts.model_validate({**BASE, **self.facts, **overrides})


SCENARIOS: list[Scenario] = [
    Scenario(
        "evaluation-requested",
        EmailTemplate.EVALUATION_REQUESTED,
        {"evaluation_number": 1, "stage": Stage.EVALUATION_REQUESTED},
        must_say=("demande l'évaluation de la menace", "procès-verbal de plainte"),
    ),
    Scenario(
        "evaluation-recognised",
        EmailTemplate.EVALUATION_RECORDED,
        {"recognised": True, "threat_level": ThreatLevel.ONE, "ceiling_cents": 1_500_000},
        must_say=("au niveau 1", "15\u202f000,00\u00a0€", "demandez l'ouverture"),
    ),
    Scenario(
        "evaluation-not-recognised",
        EmailTemplate.EVALUATION_RECORDED,
        {"recognised": False},
        must_say=("n'est pas reconnue", "nouvelle évaluation"),
        must_not_say=("plafonné",),
    ),
    Scenario(
        "space-opened",
        EmailTemplate.SPACE_OPENED,
        {"threat_level": ThreatLevel.TWO, "stage": Stage.SPACE_OPEN},
        must_say=("espace de dépôt Sécu'Pol est ouvert", "CNAPS"),
    ),
    Scenario(
        "deposit-reminder",
        EmailTemplate.DEPOSIT_REMINDER,
        {"days_left": 7, "stage": Stage.SPACE_OPEN},
        must_say=("soit dans 7 jours", "la demande sera forclose"),
    ),
    Scenario(
        "deposit-reminder-waiting-on-the-prefect",
        EmailTemplate.DEPOSIT_REMINDER,
        {"days_left": 7, "stage": Stage.EVALUATION_REQUESTED},
        must_say=("ne sera pas forclose",),
        must_not_say=("la demande sera forclose",),
    ),
    Scenario(
        "deposit-acknowledged-above-the-ceiling",
        EmailTemplate.DEPOSIT_ACKNOWLEDGED,
        {**SUBMITTED, "threat_level": ThreatLevel.ONE, "ceiling_cents": 1_500_000},
        must_say=(
            "ne peut ni la rejeter ni en réduire le montant sans vous avoir d'abord adressé "
            "des observations",
            "procédure contradictoire",
            "soit 15\u202f000,00\u00a0€",
            "Votre demande dépasse ce plafond",
            "l'application de la loi, et non une réduction",
            "au plus tard le 4 novembre 2026",
        ),
    ),
    Scenario(
        "deposit-acknowledged-within-the-ceiling",
        EmailTemplate.DEPOSIT_ACKNOWLEDGED,
        {**SUBMITTED, "threat_level": ThreatLevel.TWO, "ceiling_cents": 7_500_000},
        must_say=(
            "procédure contradictoire",
            "soit 75\u202f000,00\u00a0€",
            "application de la loi",
        ),
        must_not_say=("dépasse ce plafond",),
    ),
    Scenario(
        "deposit-acknowledged-ceiling-unknown",
        EmailTemplate.DEPOSIT_ACKNOWLEDGED,
        {**SUBMITTED, "decision_due": None},
        must_say=("procédure contradictoire", "application de la loi"),
        must_not_say=("soit 15", "soit 75", "au plus tard le"),
    ),
    Scenario(
        "observations-received",
        EmailTemplate.OBSERVATIONS_RECEIVED,
        {
            **SUBMITTED,
            "round_number": 1,
            "observations": "La facture F-2 ne précise pas la période de la prestation.",
            # 15 days from 1 June 2026, read as the domain reads an answer delay.
            "answer_due": end_of_day_paris(dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC), 15),
        },
        must_say=(
            "La facture F-2 ne précise pas",
            "jusqu'au mardi 16 juin 2026 à 23 h 59 (heure de Paris)",
        ),
    ),
    Scenario(
        "decision-capped",
        EmailTemplate.DECISION,
        {
            **SUBMITTED,
            "threat_level": ThreatLevel.ONE,
            "ceiling_cents": 1_500_000,
            "outcome": DecisionOutcome.APPROVED,
            "decided_cents": 1_500_000,
            "capped": True,
        },
        must_say=(
            "fixé à 15\u202f000,00\u00a0€",
            "plafond de remboursement fixé pour le niveau 1",
            "l'application de la règle, et non une réduction de votre demande",
            "préfecture du département 60",
        ),
        must_not_say=("Motifs",),
    ),
    Scenario(
        "decision-amended",
        EmailTemplate.DECISION,
        {
            **SUBMITTED,
            "threat_level": ThreatLevel.TWO,
            "ceiling_cents": 7_500_000,
            "outcome": DecisionOutcome.AMENDED,
            "decided_cents": 1_200_000,
            "capped": False,
            "lines_cut": 2,
            "reasons": "Ligne 2 : prestation antérieure à la déclaration de candidature.\n"
            "Ligne 3 : entreprise sans autorisation du CNAPS.",
        },
        must_say=(
            "acceptée en partie",
            "2 lignes de dépenses ont été écartées ou réduites",
            "Motifs de la décision :\nLigne 2 : prestation antérieure",
            "Ligne 3 : entreprise sans autorisation du CNAPS.",
        ),
        must_not_say=("non une réduction",),
    ),
    Scenario(
        "decision-rejected",
        EmailTemplate.DECISION,
        {
            **SUBMITTED,
            "outcome": DecisionOutcome.REJECTED,
            "decided_cents": 0,
            "reasons": "Aucune dépense n'entre dans les catégories de l'article L. 52-18-2.",
        },
        must_say=("rejetée", "Motifs de la décision", "clos"),
        must_not_say=("préfecture du département",),
    ),
    Scenario(
        "payment-requested",
        EmailTemplate.PAYMENT_REQUESTED,
        {"decided_cents": 1_500_000},
        must_say=("15\u202f000,00\u00a0€",),
    ),
    Scenario(
        "payment-followup",
        EmailTemplate.PAYMENT_FOLLOWUP,
        {"decided_cents": 1_500_000, "followup_number": 1},
        must_say=("préfecture du département 60",),
    ),
    Scenario(
        "payment-recorded",
        EmailTemplate.PAYMENT_RECORDED,
        {"payment_cents": 1_500_000, "paid_on": dt.date(2026, 9, 1)},
        must_say=("1er septembre 2026",),
    ),
    Scenario(
        "time-barred-space-open",
        EmailTemplate.TIME_BARRED,
        {"stage": Stage.SPACE_OPEN},
        must_say=("aucune demande n'y a été déposée", "forclose"),
    ),
    Scenario(
        "time-barred-threat-recognised",
        EmailTemplate.TIME_BARRED,
        {"stage": Stage.THREAT_RECOGNISED, "threat_level": ThreatLevel.ONE},
        must_say=("l'ouverture d'un espace de dépôt n'a pas été demandée avant cette date",),
    ),
    Scenario(
        "time-barred-threat-not-recognised",
        EmailTemplate.TIME_BARRED,
        {"stage": Stage.THREAT_NOT_RECOGNISED},
        must_say=(
            "La menace n'a pas été reconnue",
            "une nouvelle évaluation ne peut plus être demandée",
        ),
    ),
    # Never sent for these stages (rule 3), but the text must still blame nobody.
    Scenario(
        "time-barred-evaluation-requested",
        EmailTemplate.TIME_BARRED,
        {"stage": Stage.EVALUATION_REQUESTED},
        must_say=("votre dossier est clos",),
    ),
    Scenario(
        "time-barred-space-requested",
        EmailTemplate.TIME_BARRED,
        {"stage": Stage.SPACE_REQUESTED},
        must_say=("votre dossier est clos",),
    ),
    Scenario(
        "withdrawal-confirmed",
        EmailTemplate.WITHDRAWAL_CONFIRMED,
        {"stage": Stage.WITHDRAWN},
        must_say=("retiré",),
    ),
    Scenario(
        "new-message",
        EmailTemplate.NEW_MESSAGE,
        {"stage": Stage.UNDER_REVIEW},
        must_say=("vous a écrit", "connectez-vous à Sécu'Pol"),
    ),
    Scenario(
        "evaluation-reminder",
        EmailTemplate.EVALUATION_REMINDER,
        {
            "stage": Stage.EVALUATION_REQUESTED,
            "requested_at": dt.datetime(2026, 4, 2, 9, 0, tzinfo=UTC),
            "days_left": 21,
        },
        must_say=(
            "présentée le 2 avril 2026",
            "vendredi 22 mai 2026 à 18 h 00 (heure de Paris), soit dans 21 jours",
            "Les droits de la personne candidate dépendent de votre décision",
        ),
    ),
    Scenario(
        "space-requested",
        EmailTemplate.SPACE_REQUESTED,
        {"stage": Stage.SPACE_REQUESTED, "threat_level": ThreatLevel.TWO},
        must_say=("ouvrir cet espace", "vendredi 22 mai 2026 à 18 h 00"),
        must_not_say=(CANDIDATE_NAME,),
    ),
    Scenario(
        "space-reminder",
        EmailTemplate.SPACE_REMINDER,
        {
            "stage": Stage.SPACE_REQUESTED,
            "requested_at": dt.datetime(2026, 5, 12, 9, 0, tzinfo=UTC),
            "days_left": 3,
        },
        must_say=("demandée le 12 mai 2026", "n'est pas encore ouvert", "soit dans 3 jours"),
        must_not_say=(CANDIDATE_NAME,),
    ),
    Scenario(
        "decision-due-reminder",
        EmailTemplate.DECISION_DUE_REMINDER,
        {**SUBMITTED, "stage": Stage.SUBMITTED, "days_left": 7},
        must_say=("au plus tard le 4 novembre 2026, six mois après son dépôt", "contradictoire"),
        must_not_say=(CANDIDATE_NAME,),
    ),
    Scenario(
        "administration-delay-prefect",
        EmailTemplate.ADMINISTRATION_DELAY,
        {"stage": Stage.AWAITING_ADMINISTRATION, "awaited_stage": Stage.EVALUATION_REQUESTED},
        must_say=(
            "la décision d'évaluation de la menace par le préfet",
            "ne vous est pas imputable",
            "votre demande n'est pas forclose",
            "nouveau délai de dépôt",
            "clore",
            "vous en serez informé(e)",
        ),
    ),
    Scenario(
        "administration-delay-cnccfp",
        EmailTemplate.ADMINISTRATION_DELAY,
        {"stage": Stage.AWAITING_ADMINISTRATION, "awaited_stage": Stage.SPACE_REQUESTED},
        must_say=(
            "l'ouverture de votre espace de dépôt par la CNCCFP",
            "votre demande n'est pas forclose",
        ),
    ),
    Scenario(
        "administration-delay-staff",
        EmailTemplate.ADMINISTRATION_DELAY_STAFF,
        {"stage": Stage.AWAITING_ADMINISTRATION, "awaited_stage": Stage.SPACE_REQUESTED},
        must_say=("délai de dépôt tardif", "clore le dossier", "n'est pas forclos"),
        must_not_say=(CANDIDATE_NAME,),
    ),
    Scenario(
        "late-window-opened",
        EmailTemplate.LATE_WINDOW_OPENED,
        {
            "stage": Stage.SPACE_OPEN,
            "deposit_deadline": dt.datetime(2026, 6, 12, 16, 0, tzinfo=UTC),
            "reason": "L'espace de dépôt a été ouvert après la date limite.",
        },
        must_say=(
            "jusqu'au vendredi 12 juin 2026 à 18 h 00 (heure de Paris)",
            "L'espace de dépôt a été ouvert après la date limite.",
        ),
    ),
    Scenario(
        "case-closed",
        EmailTemplate.CASE_CLOSED,
        {"stage": Stage.CLOSED, "reason": "La menace n'a pas été reconnue par le préfet."},
        must_say=("La CNCCFP a décidé de clore", "La menace n'a pas été reconnue par le préfet."),
    ),
    Scenario(
        "reevaluation-requested",
        EmailTemplate.REEVALUATION_REQUESTED,
        {
            "stage": Stage.SPACE_OPEN,
            "threat_level": ThreatLevel.ONE,
            # Wherever a workflow might put the new facts, the email never prints them.
            "reason": SECRET_FACTS,
            "observations": SECRET_FACTS,
        },
        must_say=("réévalué", "faits nouveaux", "reconnue à ce jour au niveau 1"),
        must_not_say=(SECRET_FACTS, "couteau"),
    ),
    Scenario(
        "threat-reevaluated",
        EmailTemplate.THREAT_REEVALUATED,
        {
            "stage": Stage.SPACE_OPEN,
            "threat_level": ThreatLevel.TWO,
            "previous_level": ThreatLevel.ONE,
            "ceiling_cents": 7_500_000,
            "reason": "Agression physique lors d'une réunion publique le 3 mars.",
        },
        must_say=(
            "désormais reconnue au niveau 2",
            "au lieu du niveau 1",
            "75\u202f000,00\u00a0€",
            "Agression physique lors d'une réunion publique le 3 mars.",
        ),
    ),
    Scenario(
        "threat-reevaluated-unchanged",
        EmailTemplate.THREAT_REEVALUATED,
        {
            "stage": Stage.SUBMITTED,
            "threat_level": ThreatLevel.ONE,
            "previous_level": ThreatLevel.ONE,
            "ceiling_cents": 1_500_000,
            "reason": "Les faits nouveaux ne révèlent pas de risque physique.",
        },
        must_say=("reste reconnue au niveau 1", "15\u202f000,00\u00a0€"),
        must_not_say=("au lieu du niveau",),
    ),
]


def scenarios_of(template: EmailTemplate) -> list[Scenario]:
    return [scenario for scenario in SCENARIOS if scenario.template == template]


def render(
    renderer: EmailRenderer,
    scenario: Scenario,
    *,
    copy: bool = False,
    security_pack: bool = False,
) -> RenderedEmail:
    overrides: dict[str, Any] = {}
    if copy:
        overrides = {"copy_for_third_party": True, "recipient_name": THIRD_PARTY_NAME}
    return renderer.render(
        scenario.template,
        scenario.email_facts(**overrides),
        security_pack=security_pack,
        recourse=RECOURSE,
    )


# --- Every template -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "copy"),
    [(template, False) for template in EmailTemplate]
    + [(template, True) for template in CANDIDATE_EMAILS],
    ids=lambda value: {True: "copy", False: "original"}.get(value, str(value)),
)
def test_every_template_says_what_it_must(
    renderer: EmailRenderer, template: EmailTemplate, copy: bool
) -> None:
    scenarios = scenarios_of(template)
    assert scenarios, f"no realistic facts for {template.value}: add a Scenario"
    for scenario in scenarios:
        rendered = render(renderer, scenario, copy=copy, security_pack=True)
        subject, body = rendered.subject, rendered.body

        assert BASE["case_id"] in subject
        for name in (CANDIDATE_NAME, "Camille", "Lefèvre", THIRD_PARTY_NAME, "Martin-Roux"):
            assert name not in subject, scenario.name
        for leftover in ("{{", "}}", "{%", "%}", "{#", "None", "\n\n\n"):
            assert leftover not in body, (scenario.name, leftover)
            assert leftover not in subject, (scenario.name, leftover)
        assert body.endswith("\n") and not body.endswith("\n\n")
        for phrase in scenario.must_say:
            assert phrase in body, (scenario.name, phrase)
        for phrase in scenario.must_not_say:
            assert phrase not in body, (scenario.name, phrase)


@pytest.mark.parametrize("template", list(DECISION_EMAILS), ids=str)
def test_each_decision_states_voies_et_delais_de_recours(
    renderer: EmailRenderer, template: EmailTemplate
) -> None:
    kind = DECISION_EMAILS[template]
    for scenario in scenarios_of(template):
        body = render(renderer, scenario).body
        recourse = body[body.index("Voies et délais de recours :") :]
        assert "dans un délai de 2 mois à compter de sa notification" in recourse, scenario.name
        assert f"par un recours gracieux, {AUTHOR[kind]}" in recourse, scenario.name
        assert f"par un recours contentieux, formé devant {COURT[kind]}." in recourse
        for other in set(COURT.values()) - {COURT[kind]}:
            assert other not in recourse, scenario.name
        # The voies de recours close the specific text, before the signature.
        assert body.index("Voies et délais de recours") < body.index("Cordialement")


@pytest.mark.parametrize(
    "template", [t for t in EmailTemplate if t not in DECISION_EMAILS], ids=str
)
def test_other_emails_state_no_voies_de_recours(
    renderer: EmailRenderer, template: EmailTemplate
) -> None:
    for scenario in scenarios_of(template):
        body = renderer.render(template, scenario.email_facts()).body
        assert "recours" not in body, scenario.name


@pytest.mark.parametrize("template", list(DECISION_EMAILS), ids=str)
def test_a_decision_cannot_be_rendered_without_its_voies_de_recours(
    renderer: EmailRenderer, template: EmailTemplate
) -> None:
    with pytest.raises(EmailTemplateError, match=template.value):
        renderer.render(template, scenarios_of(template)[0].email_facts())


def test_the_court_depends_on_the_decision_kind() -> None:
    assert RECOURSE.court("evaluation") == "le tribunal administratif d'Amiens"
    assert RECOURSE.court(DecisionKind.CLOSING) == "le tribunal administratif de Cergy-Pontoise"
    with pytest.raises(ValueError):
        RECOURSE.court("appel")


# --- No email blames the candidate for the administration's delay (rule 3) ----------------------


@pytest.mark.parametrize(
    "scenario",
    [
        s
        for s in SCENARIOS
        if s.template
        in {
            EmailTemplate.TIME_BARRED,
            EmailTemplate.ADMINISTRATION_DELAY,
            EmailTemplate.LATE_WINDOW_OPENED,
            EmailTemplate.CASE_CLOSED,
            EmailTemplate.DEPOSIT_REMINDER,
        }
    ],
    ids=lambda s: s.name,
)
def test_only_an_unused_open_space_is_called_a_failure_to_deposit(
    renderer: EmailRenderer, scenario: Scenario
) -> None:
    body = render(renderer, scenario).body
    blamed = [phrase for phrase in BLAME if phrase in body]
    if scenario.template == EmailTemplate.TIME_BARRED and scenario.facts["stage"] == "space_open":
        assert blamed == ["été déposée"]
    else:
        assert blamed == []


@pytest.mark.parametrize(
    "stage", [Stage.THREAT_RECOGNISED, Stage.THREAT_NOT_RECOGNISED, Stage.EVALUATION_REQUESTED]
)
def test_a_time_bar_never_says_the_candidate_did_not_deposit(
    renderer: EmailRenderer, stage: Stage
) -> None:
    facts = EmailFacts.model_validate({**BASE, "stage": stage})
    body = renderer.render(EmailTemplate.TIME_BARRED, facts, recourse=RECOURSE).body
    assert "espace était ouvert" not in body
    assert "déposée" not in body


# --- The contradictory procedure and the ceiling (rule 1) ---------------------------------------


@pytest.mark.parametrize(
    ("capped", "outcome", "decided"),
    [
        (True, DecisionOutcome.APPROVED, 1_500_000),
        (True, DecisionOutcome.AMENDED, 1_500_000),
        (False, DecisionOutcome.APPROVED, 1_200_000),
        (False, DecisionOutcome.AMENDED, 1_000_000),
    ],
)
def test_a_capped_decision_says_it_is_the_ceiling_not_a_cut(
    renderer: EmailRenderer, capped: bool, outcome: DecisionOutcome, decided: int
) -> None:
    facts = EmailFacts.model_validate(
        {
            **BASE,
            **SUBMITTED,
            "threat_level": ThreatLevel.ONE,
            "ceiling_cents": 1_500_000,
            "outcome": outcome,
            "decided_cents": decided,
            "capped": capped,
        }
    )
    body = renderer.render(EmailTemplate.DECISION, facts, recourse=RECOURSE).body
    ceiling = "Ce montant est le plafond de remboursement fixé pour le niveau 1 de la menace"
    assert (ceiling in body) is capped
    assert ("(15\u202f000,00\u00a0€) par l'article R. 39-13" in body) is capped
    assert ("et non une réduction de votre demande" in body) is capped


def test_observations_give_the_answer_deadline_at_23_59_paris(renderer: EmailRenderer) -> None:
    # Winter time too: 23:59:59 Paris is 22:59:59 UTC in December.
    facts = EmailFacts.model_validate(
        {
            **BASE,
            "observations": "Merci de préciser la période de la prestation.",
            "answer_due": end_of_day_paris(dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC), 15),
        }
    )
    body = renderer.render(EmailTemplate.OBSERVATIONS_RECEIVED, facts).body
    assert "jusqu'au samedi 5 décembre 2026 à 23 h 59 (heure de Paris)." in body
    assert "ne statuera pas avant" in body


# --- Copies for the mandated third party ---------------------------------------------------------


@pytest.mark.parametrize("template", CANDIDATE_EMAILS, ids=str)
def test_a_copy_names_no_third_party_and_never_carries_the_security_pack(
    renderer: EmailRenderer, template: EmailTemplate
) -> None:
    scenario = scenarios_of(template)[0]
    original = render(renderer, scenario, security_pack=True)
    copy = render(renderer, scenario, copy=True, security_pack=True)

    assert original.body.startswith("Madame, Monsieur,\n\n")
    assert "tiers mandaté par" not in original.body
    assert SECURITY_PACK_PHONE in original.body

    # The third party's name was typed by the candidate: never in an email to its address.
    assert copy.body.startswith("Madame, Monsieur,\n\n")
    assert THIRD_PARTY_NAME not in copy.body
    assert (
        f"Vous recevez ce message en copie, en votre qualité de tiers mandaté par "
        f"{CANDIDATE_NAME} pour le dossier {BASE['case_id']}."
    ) in copy.body
    assert copy.subject == f"[Copie] {original.subject}"
    assert SECURITY_PACK_PHONE not in copy.body
    assert "Votre sécurité" not in copy.body
    # The message itself follows, whole.
    specific = original.body.removeprefix("Madame, Monsieur,\n\n")
    specific = specific[: specific.index("Cordialement,")]
    assert specific in copy.body


def test_a_copy_without_the_third_party_name_still_says_it_is_a_copy(
    renderer: EmailRenderer,
) -> None:
    facts = EmailFacts.model_validate(
        {**BASE, "stage": Stage.SPACE_OPEN, "copy_for_third_party": True}
    )
    body = renderer.render(EmailTemplate.SPACE_OPENED, facts).body
    assert body.startswith("Madame, Monsieur,\n\nVous recevez ce message en copie")


# --- The security pack ---------------------------------------------------------------------------


def test_the_security_pack_lists_every_contact_of_the_state_pack(renderer: EmailRenderer) -> None:
    body = render(renderer, scenarios_of(EmailTemplate.SPACE_OPENED)[0], security_pack=True).body
    pack = body[body.index("Votre sécurité") :]
    for mention in (
        "le 17 (police ou gendarmerie)",
        "le 112",
        "référent « atteintes aux élus »",
        "plus de 3 400",
        "chaque brigade de gendarmerie et chaque commissariat de police".capitalize(),
        "référents sûreté",
        "Si vous êtes élu(e) : inscrivez-vous au dispositif « Alarme élu »",
        "« Ma sécurité »",
        "PHAROS",
        "17Cyber",
        "bouton d'appel",
        "pour trois mois renouvelables",
        "01 80 52 33 84, de 9 h à 21 h, sept jours sur sept",
        "anonyme, gratuit et ouvert aussi à vos proches",
        "protection fonctionnelle de l'État (article R. 39-11 du code électoral)",
        "(60)",
    ):
        assert mention in pack, mention
    # "Ma sécurité" and 17Cyber answer day and night.
    assert pack.count("24 h sur 24 et 7 jours sur 7") == 2
    # The alert button is the prefect's grant to threatened élus: the text says so.
    button = next(line for line in pack.splitlines() if "bouton d'appel" in line)
    assert "élu(e)" in button and "préfet" in button
