"""Helpers of the élus' procedures' tests: inputs with delays seconds long, actors, refusals."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from core.cases import CaseActionRefused
from core.elus import ElusClient
from domain.elus import (
    CandidateProtectionPolicy,
    CollectiviteInfo,
    DecideAlertButtonInput,
    ElusAction,
    ElusActor,
    FileProtectionRequestInput,
    LoanPolicy,
    Person,
    ProtectionPolicy,
    RequestStateProtectionInput,
)
from domain.stages import Role
from tests.helpers import assert_eventually, paris_today, utcnow

SECONDS = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)

COLLECTIVITE = CollectiviteInfo(
    collectivite_id="commune-60057",
    name="Commune de Beauvais",
    departement="60",
    email="protection@beauvais.example.test",
)
COLLECTIVITE_STAFF = ElusActor(
    role=Role.COLLECTIVITE, id="coll-agent-1", collectivites=["commune-60057"]
)
OTHER_COLLECTIVITE_STAFF = ElusActor(
    role=Role.COLLECTIVITE, id="coll-agent-2", collectivites=["commune-75056"]
)
PREFECTURE_60 = ElusActor(role=Role.PREFECTURE, id="pref-60-agent-1", departements=["60"])
PREFECTURE_75 = ElusActor(role=Role.PREFECTURE, id="pref-75-agent-1", departements=["75"])


def reference() -> str:
    return uuid.uuid4().hex[:16]


def official(account_id: str | None = None) -> Person:
    key = uuid.uuid4().hex[:10]
    return Person(name="Dominique Leroy", email=f"elu{key}@example.test", account_id=account_id)


def protection_request(
    *,
    received_days_ago: int = 0,
    starts_in: dt.timedelta = 3 * SECONDS,
    window: dt.timedelta | None = 3 * SECONDS,
    actor: ElusActor = COLLECTIVITE_STAFF,
    account_id: str | None = "elu-1",
) -> FileProtectionRequestInput:
    """A request received ``received_days_ago``; in time, protection begins ``starts_in`` from
    now (the five jours francs shortened for the test) and may be withdrawn for ``window``."""
    received_on = paris_today() - received_days_ago * DAY
    return FileProtectionRequestInput(
        actor=actor,
        request_id=reference(),
        official=official(account_id),
        mandate="Conseillère municipale",
        collectivite=COLLECTIVITE,
        prefecture_email="pref-oise@interieur.example.test",
        facts="Menaces de mort reçues par courrier après une séance du conseil.",
        received_on=received_on,
        delay_ends_on=received_on + 5 * DAY,
        delay_ends_at=utcnow() + starts_in,
        policy=ProtectionPolicy(withdrawal_window=window),
    )


def loan_decision(**policy: Any) -> DecideAlertButtonInput:
    return DecideAlertButtonInput(
        actor=PREFECTURE_60,
        loan_id=reference(),
        official=official("elu-1"),
        mandate="Maire",
        departement="60",
        prefecture_email="pref-oise@interieur.example.test",
        referent_evaluated_on=paris_today() - 2 * DAY,
        decided_on=paris_today() - DAY,
        policy=LoanPolicy(**policy),
    )


def state_protection_request(
    account_id: str = "cand1", reminder_every: dt.timedelta = dt.timedelta(days=15)
) -> RequestStateProtectionInput:
    return RequestStateProtectionInput(
        actor=ElusActor(role=Role.CANDIDATE, id=account_id),
        request_id=reference(),
        candidate=official(account_id),
        departement="60",
        prefecture_email="pref-oise@interieur.example.test",
        election_label="Élections municipales 2026",
        facts="Agression lors d'un tractage sur le marché.",
        complaint_reference="PV 2026/00123",
        policy=CandidateProtectionPolicy(decision_reminder_every=reminder_every),
    )


async def history_length(elus: ElusClient, workflow_id: str) -> int:
    history = await elus.handle(workflow_id).fetch_history()
    return len(history.events)


async def assert_refused(
    elus: ElusClient, workflow_id: str, action: ElusAction, input: Any, code: str
) -> None:
    """The action is refused with ``code``; neither the state nor the history changes."""

    async def settled() -> Any:
        state = await elus.state(workflow_id)
        assert all(record.sent or record.failed for record in state.notifications)
        return state

    before = await assert_eventually(settled)
    events = await history_length(elus, workflow_id)
    with pytest.raises(CaseActionRefused) as refused:
        await elus.act(workflow_id, action, input)
    assert refused.value.code == code, refused.value.message
    assert refused.value.message
    assert await elus.state(workflow_id) == before
    assert await history_length(elus, workflow_id) == events
