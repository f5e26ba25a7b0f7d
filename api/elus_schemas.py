"""HTTP schemas of the élus' procedures (``/elus``): bodies people send, answers they read.

Text is cleaned here (``domain.text``), at the boundary; the workflows' contracts stay
length-only so that their histories replay.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, StrictBool

from api.schemas import Body, Public
from domain.text import CleanLine, CleanText, NormalisedEmail

Day = dt.date


class CollectiviteCreate(Body):
    """Une collectivité (commune, département, région) à laquelle des élus s'adressent."""

    collectivite_id: str = Field(
        min_length=1,
        max_length=64,
        description="Identifiant stable (minuscules, chiffres, tirets), par exemple commune-60057.",
    )
    name: CleanLine = Field(min_length=1, max_length=200, description="Nom de la collectivité.")
    departement: str = Field(min_length=2, max_length=3, description="Département.")
    email: NormalisedEmail = Field(
        max_length=254, description="Adresse du service qui reçoit les demandes de protection."
    )


class CollectivitePublic(Public):
    """Une collectivité."""

    collectivite_id: str = Field(description="Identifiant de la collectivité.")
    name: str = Field(description="Nom de la collectivité.")
    departement: str = Field(description="Département.")


class CollectiviteStaffCreate(Body):
    """Un compte d'agent de collectivité."""

    email: NormalisedEmail = Field(max_length=254, description="Adresse de l'agent.")
    display_name: CleanLine = Field(min_length=1, max_length=200, description="Nom de l'agent.")
    collectivites: list[str] = Field(
        min_length=1, max_length=50, description="Collectivités que l'agent sert."
    )


class StaffTokenPublic(Public):
    """Un compte créé et son premier jeton de session, montré une seule fois."""

    account_id: str = Field(description="Identifiant du compte.")
    token: str = Field(description="Jeton de session, montré une seule fois.")


class OfficialCreate(Body):
    """Le compte d'un élu : il reçoit un lien de connexion par courriel."""

    email: NormalisedEmail = Field(max_length=254, description="Adresse de l'élu.")
    name: CleanLine = Field(min_length=1, max_length=200, description="Nom et prénom de l'élu.")


class OfficialPublic(Public):
    """Le compte d'un élu."""

    account_id: str = Field(description="Identifiant du compte de l'élu.")


class ProtectionRequestCreate(Body):
    """Une demande de protection fonctionnelle adressée à la collectivité.

    Déposée par l'élu lui-même (reçue à l'instant) ou par un agent de la collectivité, qui
    indique l'élu et la date à laquelle la collectivité a reçu la demande.
    """

    collectivite_id: str = Field(
        min_length=1, max_length=64, description="La collectivité saisie de la demande."
    )
    mandate: CleanLine = Field(
        min_length=1, max_length=200, description="Mandat de l'élu (« conseillère municipale »)."
    )
    facts: CleanText = Field(
        min_length=1,
        max_length=10_000,
        description="Les faits : violences, menaces ou outrages subis à l'occasion du mandat.",
    )
    official_name: CleanLine | None = Field(
        default=None, min_length=1, max_length=200, description="Agents : le nom de l'élu."
    )
    official_email: NormalisedEmail | None = Field(
        default=None, max_length=254, description="Agents : l'adresse de l'élu."
    )
    received_on: Day | None = Field(
        default=None,
        description="Agents : jour de réception de la demande par la collectivité "
        "(aujourd'hui par défaut).",
    )


class ObligationBody(Body):
    """La date à laquelle la formalité a été accomplie."""

    done_on: Day = Field(description="Jour où la formalité a été accomplie.")


class ConveningRequestBody(Body):
    """La demande des membres du conseil de le convoquer."""

    requested_on: Day = Field(description="Jour où les membres ont demandé la convocation.")


class CouncilConvenedBody(Body):
    """La convocation du conseil par l'exécutif."""

    convened_on: Day = Field(description="Jour où la convocation a été adressée.")
    session_on: Day = Field(
        description="Jour de la séance ; elle doit se tenir dans les quatre mois du début de la "
        "protection."
    )


class DeliberationBody(Body):
    """La délibération motivée par laquelle le conseil retire ou abroge la protection."""

    kind: Literal["retrait", "abrogation"] = Field(description="Retrait ou abrogation.")
    deliberation_on: Day = Field(description="Date de la délibération.")
    reason: CleanText = Field(min_length=1, max_length=10_000, description="Motifs.")


class AlertButtonCreate(Body):
    """La décision du préfet d'attribuer un bouton d'appel, après l'évaluation du référent."""

    departement: str = Field(min_length=2, max_length=3, description="Département de l'élu.")
    official_name: CleanLine = Field(min_length=1, max_length=200, description="Nom de l'élu.")
    official_email: NormalisedEmail = Field(max_length=254, description="Adresse de l'élu.")
    mandate: CleanLine = Field(min_length=1, max_length=200, description="Mandat de l'élu.")
    referent_evaluated_on: Day = Field(description="Date de l'évaluation par le référent.")
    decided_on: Day = Field(description="Date de la décision du préfet.")


class HandoverBody(Body):
    """La remise du bouton à l'élu."""

    handed_over_on: Day = Field(description="Jour de la remise.")


class RenewalBody(Body):
    """Le renouvellement du prêt pour une nouvelle période."""

    renewed_on: Day = Field(description="Jour du renouvellement.")


class ReturnBody(Body):
    """La restitution du bouton."""

    returned_on: Day = Field(description="Jour de la restitution.")


class StateProtectionCreate(Body):
    """Une demande de protection fonctionnelle de l'État (R. 39-11)."""

    election_id: str = Field(min_length=1, max_length=64, description="L'élection.")
    departement: str = Field(min_length=2, max_length=3, description="Département du préfet.")
    facts: CleanText = Field(min_length=1, max_length=10_000, description="Les faits.")
    complaint_reference: CleanLine | None = Field(
        default=None, min_length=1, max_length=200, description="Référence du PV de plainte."
    )
    candidacy_declared_on: Day | None = Field(
        default=None, description="Date à laquelle la candidature a été rendue publique."
    )


class StateProtectionDecisionBody(Body):
    """La décision du préfet sur une demande de protection fonctionnelle."""

    granted: StrictBool = Field(description="Protection accordée (vrai) ou refusée (faux).")
    decided_on: Day = Field(description="Date de la décision.")
    reasons: CleanText | None = Field(
        default=None, min_length=1, max_length=10_000, description="Motifs (requis si refus)."
    )


class EmptyBody(Body):
    """Aucune donnée."""


_STAGE = "Étape (valeurs de domain.elus.ElusStage : fp_received, ab_lent, cp_requested…)."
_ACTION = "Action (nom de la mise à jour Temporal qui la porte)."
_PROCEDURE = "Procédure : protection, bouton ou protection-candidat."


class ActionLink(Public):
    """Une action possible."""

    action: str = Field(description=_ACTION)
    label: str = Field(description="L'action, en clair.")


class StageChangePublic(Public):
    """Une étape franchie."""

    at: dt.datetime = Field(description="Moment.")
    action: str = Field(description=_ACTION)
    label: str = Field(description="L'action, en clair.")
    to_stage: str = Field(description=_STAGE)


class PeriodPublic(Public):
    """Une période de prêt."""

    number: int = Field(description="Numéro de la période.")
    starts_on: Day = Field(description="Premier jour.")
    ends_on: Day = Field(description="Dernier jour.")


class ProcedurePublic(Public):
    """Une procédure des élus, telle que l'appelant peut la voir."""

    procedure_id: str = Field(description="Identifiant de la procédure.")
    procedure: str = Field(description=_PROCEDURE)
    stage: str = Field(description=_STAGE)
    stage_label: str = Field(description="L'étape, en clair.")
    departement: str = Field(description="Département.")
    requester_name: str = Field(description="L'élu ou le candidat concerné.")
    collectivite_name: str | None = Field(default=None, description="La collectivité saisie.")
    mandate: str | None = Field(default=None, description="Mandat de l'élu.")
    facts: str | None = Field(default=None, description="Les faits exposés.")
    received_on: Day | None = Field(default=None, description="Jour de réception.")
    delay_ends_on: Day | None = Field(default=None, description="Dernier des cinq jours francs.")
    transmitted_on: Day | None = Field(default=None, description="Transmission au préfet.")
    informed_on: Day | None = Field(default=None, description="Information du conseil.")
    starts_on: Day | None = Field(default=None, description="Premier jour de protection.")
    window_last_day: Day | None = Field(
        default=None, description="Dernier jour où le conseil peut retirer la protection."
    )
    convening_requested_on: Day | None = Field(
        default=None, description="Demande de convocation du conseil par ses membres."
    )
    council_convened_on: Day | None = Field(default=None, description="Convocation du conseil.")
    council_session_on: Day | None = Field(
        default=None, description="Séance à laquelle le conseil est convoqué."
    )
    convening_deadline: Day | None = Field(
        default=None,
        description="Dernier jour où le conseil convoqué à la demande de ses membres peut siéger "
        "(fin des quatre mois).",
    )
    council_session_late: bool | None = Field(
        default=None, description="La séance est fixée après la fin des quatre mois."
    )
    convening_reminded_on: Day | None = Field(
        default=None,
        description="Jour où la collectivité a été relancée, faute de convocation enregistrée, "
        "avant la fin des quatre mois.",
    )
    deliberation_kind: str | None = Field(default=None, description="Retrait ou abrogation.")
    deliberation_on: Day | None = Field(default=None, description="Date de la délibération.")
    deliberation_reason: str | None = Field(default=None, description="Motifs de la délibération.")
    decided_on: Day | None = Field(default=None, description="Date de la décision du préfet.")
    handed_over_on: Day | None = Field(default=None, description="Remise du bouton.")
    periods: list[PeriodPublic] = Field(
        default_factory=list, description="Périodes de prêt du bouton."
    )
    returned_on: Day | None = Field(default=None, description="Restitution du bouton.")
    granted: bool | None = Field(default=None, description="Protection accordée ou non.")
    reasons: str | None = Field(default=None, description="Motifs ou modalités de la décision.")
    election_label: str | None = Field(default=None, description="L'élection.")
    history: list[StageChangePublic] = Field(
        default_factory=list, description="Les étapes franchies."
    )
    actions: list[ActionLink] = Field(
        default_factory=list, description="Ce que l'appelant peut faire maintenant."
    )


class ProcedureSummary(Public):
    """Une procédure dans une liste."""

    procedure_id: str = Field(description="Identifiant de la procédure.")
    procedure: str = Field(description=_PROCEDURE)
    stage: str = Field(description=_STAGE)
    stage_label: str = Field(description="L'étape, en clair.")
    departement: str = Field(description="Département.")


class ActionDone(Public):
    """Le résultat d'une action : l'étape qui suit."""

    procedure_id: str = Field(description="Identifiant de la procédure.")
    stage: str = Field(description=_STAGE)
    stage_label: str = Field(description="L'étape, en clair.")
