"""The email activity against a real SMTP server and a real SQLite file; the embedded mailbox."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import open_activities
from activities.email import (
    EMAIL_NON_RETRYABLE_ERRORS,
    EmailActivities,
    EmailRenderer,
    EmailTemplateError,
    Recourse,
    message_id_for,
)
from activities.email.rendering import TEMPLATES_DIR, date_fr, eur, paris
from activities.email.sender import OutboxStatus
from core.db import email_outbox
from core.settings import Settings
from core.storage import build_storage
from domain.contracts import EmailFacts, EmailTemplate, SendEmailInput, SendEmailResult
from domain.documents import DocumentKind
from domain.money import DecisionOutcome, ThreatLevel
from domain.stages import Stage
from embedded.demo import upload_sample
from embedded.mailbox import MailServer, MailStore, main
from tests.activities.conftest import free_port

CANDIDATE_NAME = "Camille Lefèvre-Dubois"
CANDIDATE_EMAIL = "camille.lefevre@example.test"
SECURITY_PACK_PHONE = "01 80 52 33 84"
UTC = dt.UTC
RECOURSE = Recourse(
    court_evaluation="le tribunal administratif d'Amiens",
    court_decision="le tribunal administratif de Paris",
    court_closing="le tribunal administratif de Paris",
    delay_months=2,
)

BASE_FACTS: dict[str, Any] = {
    "case_id": "case-municipales-2026-cand-4f2a9c",
    "election_label": "Élections municipales 2026",
    "candidate_name": CANDIDATE_NAME,
    "departement": "60",
    "deposit_deadline": dt.datetime(2026, 5, 22, 16, 0, tzinfo=UTC),
}

FACTS_BY_TEMPLATE: dict[EmailTemplate, dict[str, Any]] = {
    EmailTemplate.EVALUATION_REQUESTED: {"evaluation_number": 1},
    EmailTemplate.EVALUATION_RECORDED: {
        "recognised": True,
        "threat_level": ThreatLevel.TWO,
        "evaluation_number": 1,
        "ceiling_cents": 7_500_000,
    },
    EmailTemplate.SPACE_OPENED: {"threat_level": ThreatLevel.ONE},
    EmailTemplate.DEPOSIT_REMINDER: {"days_left": 3, "stage": Stage.SPACE_OPEN},
    EmailTemplate.DEPOSIT_ACKNOWLEDGED: {
        "submitted_at": dt.datetime(2026, 5, 1, 8, 30, tzinfo=UTC),
        "line_count": 3,
        "claimed_cents": 1_845_050,
    },
    EmailTemplate.OBSERVATIONS_RECEIVED: {
        "round_number": 1,
        "observations": "La facture F-2 ne précise pas la période de la prestation.\n"
        "Merci de produire un justificatif.",
        "answer_due": dt.datetime(2026, 6, 16, 21, 59, tzinfo=UTC),
    },
    EmailTemplate.DECISION: {
        "outcome": DecisionOutcome.AMENDED,
        "decided_cents": 1_500_000,
        "claimed_cents": 1_845_050,
        "ceiling_cents": 1_500_000,
        "reasons": "Montant ramené au plafond du niveau 1.",
    },
    EmailTemplate.PAYMENT_REQUESTED: {"decided_cents": 1_500_000},
    EmailTemplate.PAYMENT_FOLLOWUP: {"decided_cents": 1_500_000, "followup_number": 2},
    EmailTemplate.PAYMENT_RECORDED: {
        "payment_cents": 1_500_000,
        "paid_on": dt.date(2026, 9, 1),
        "payment_reference": "VIR-2026-000123",
    },
    EmailTemplate.TIME_BARRED: {"stage": Stage.SPACE_OPEN},
    EmailTemplate.WITHDRAWAL_CONFIRMED: {},
    EmailTemplate.NEW_MESSAGE: {},
    EmailTemplate.EVALUATION_REMINDER: {
        "requested_at": dt.datetime(2026, 4, 2, 9, 0, tzinfo=UTC),
        "days_left": 21,
        "stage": Stage.EVALUATION_REQUESTED,
    },
    EmailTemplate.SPACE_REQUESTED: {"threat_level": ThreatLevel.ONE},
    EmailTemplate.SPACE_REMINDER: {
        "requested_at": dt.datetime(2026, 5, 4, 9, 0, tzinfo=UTC),
        "days_left": 7,
    },
    EmailTemplate.DECISION_DUE_REMINDER: {
        "submitted_at": dt.datetime(2026, 5, 1, 8, 30, tzinfo=UTC),
        "decision_due": dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        "days_left": 30,
    },
    EmailTemplate.ADMINISTRATION_DELAY: {"awaited_stage": Stage.SPACE_REQUESTED},
    EmailTemplate.ADMINISTRATION_DELAY_STAFF: {"awaited_stage": Stage.EVALUATION_REQUESTED},
    EmailTemplate.LATE_WINDOW_OPENED: {
        "deposit_deadline": dt.datetime(2026, 6, 12, 16, 0, tzinfo=UTC),
        "reason": "L'espace de dépôt a été ouvert après la date limite.",
        "stage": Stage.SPACE_OPEN,
    },
    EmailTemplate.CASE_CLOSED: {"reason": "La personne candidate a retiré sa candidature."},
    EmailTemplate.REEVALUATION_REQUESTED: {"threat_level": ThreatLevel.ONE},
    EmailTemplate.THREAT_REEVALUATED: {
        "threat_level": ThreatLevel.TWO,
        "previous_level": ThreatLevel.ONE,
        "ceiling_cents": 7_500_000,
        "reason": "Agression physique lors d'une réunion publique.",
    },
}

EXPECTED_PHRASE: dict[EmailTemplate, str] = {
    EmailTemplate.EVALUATION_REQUESTED: "décision d'évaluation",
    EmailTemplate.EVALUATION_RECORDED: "au niveau 2",
    EmailTemplate.SPACE_OPENED: "autorisation d'exercice délivrée par le CNAPS",
    EmailTemplate.DEPOSIT_REMINDER: "soit dans 3 jours",
    EmailTemplate.DEPOSIT_ACKNOWLEDGED: "3 lignes de dépenses",
    EmailTemplate.OBSERVATIONS_RECEIVED: "La facture F-2 ne précise pas la période",
    EmailTemplate.DECISION: "Montant ramené au plafond du niveau 1.",
    EmailTemplate.PAYMENT_REQUESTED: CANDIDATE_NAME,
    EmailTemplate.PAYMENT_FOLLOWUP: "rappel n° 2",
    EmailTemplate.PAYMENT_RECORDED: "1er septembre 2026",
    EmailTemplate.TIME_BARRED: "forclose",
    EmailTemplate.WITHDRAWAL_CONFIRMED: "retiré",
    EmailTemplate.NEW_MESSAGE: "vous a écrit",
    EmailTemplate.EVALUATION_REMINDER: "présentée le 2 avril 2026",
    EmailTemplate.SPACE_REQUESTED: "menace de niveau 1",
    EmailTemplate.SPACE_REMINDER: "n'est pas encore ouvert",
    EmailTemplate.DECISION_DUE_REMINDER: "au plus tard le 1er novembre 2026",
    EmailTemplate.ADMINISTRATION_DELAY: "n'est pas forclose",
    EmailTemplate.ADMINISTRATION_DELAY_STAFF: "délai de dépôt tardif",
    EmailTemplate.LATE_WINDOW_OPENED: "vendredi 12 juin 2026 à 18 h 00",
    EmailTemplate.CASE_CLOSED: "a retiré sa candidature",
    EmailTemplate.REEVALUATION_REQUESTED: "faits nouveaux",
    EmailTemplate.THREAT_REEVALUATED: "au lieu du niveau 1",
}


def facts_for(template: EmailTemplate, **overrides: Any) -> EmailFacts:
    return EmailFacts.model_validate({**BASE_FACTS, **FACTS_BY_TEMPLATE[template], **overrides})


def send_input(
    template: EmailTemplate = EmailTemplate.SPACE_OPENED,
    *,
    key: str = "case-municipales-2026-cand-4f2a9c/space_opened",
    to: str = CANDIDATE_EMAIL,
    security_pack: bool = False,
    **fact_overrides: Any,
) -> SendEmailInput:
    return SendEmailInput(
        idempotency_key=key,
        template=template,
        to=to,
        security_pack=security_pack,
        facts=facts_for(template, **fact_overrides),
    )


async def send(activities: EmailActivities, input: SendEmailInput) -> SendEmailResult:
    """Run the activity in an activity context, as a worker would (with the workflow's timeout)."""
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info, start_to_close_timeout=dt.timedelta(seconds=60)
    )
    return await environment.run(activities.send_email, input)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


async def outbox_row(engine: AsyncEngine, key: str) -> Row[Any] | None:
    async with engine.connect() as connection:
        result = await connection.execute(
            select(email_outbox).where(email_outbox.c.idempotency_key == key)
        )
        return result.first()


# --- Rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("security_pack", [False, True], ids=["plain", "security-pack"])
@pytest.mark.parametrize("template", list(EmailTemplate), ids=str)
def test_every_template_renders_in_french(
    renderer: EmailRenderer, template: EmailTemplate, security_pack: bool
) -> None:
    rendered = renderer.render(
        template, facts_for(template), security_pack=security_pack, recourse=RECOURSE
    )

    assert BASE_FACTS["case_id"] in rendered.subject
    assert "\n" not in rendered.subject
    assert "Camille" not in rendered.subject and "Lefèvre" not in rendered.subject
    body = rendered.body
    assert body.startswith("Madame, Monsieur,\n")
    assert EXPECTED_PHRASE[template] in body
    assert "La plateforme Sécu'Pol" in body
    assert "automatiquement" in body
    for leftover in ("{{", "}}", "{%", "%}", "None", "\n\n\n"):
        assert leftover not in body
        assert leftover not in rendered.subject
    assert body.endswith("\n") and not body.endswith("\n\n")
    assert (SECURITY_PACK_PHONE in body) is security_pack
    assert ("PHAROS" in body) is security_pack


def test_security_pack_lists_every_contact(renderer: EmailRenderer) -> None:
    body = renderer.render(
        EmailTemplate.SPACE_OPENED, facts_for(EmailTemplate.SPACE_OPENED), security_pack=True
    ).body
    pack = body[body.index("Votre sécurité") :]
    for contact in (
        "17",
        "112",
        "atteintes aux élus",
        "(60)",
        "Alarme élu",
        "Ma sécurité",
        "PHAROS",
        "17Cyber",
        "01 80 52 33 84",
        "de 9 h à 21 h, sept jours sur sept",
    ):
        assert contact in pack
    # The signature comes first, then the contacts end the email.
    assert body.index("La plateforme Sécu'Pol") < body.index("Votre sécurité")


@pytest.mark.parametrize(
    ("stage", "phrase", "administration_has_the_step"),
    [
        (Stage.THREAT_NOT_RECOGNISED, "demander une nouvelle évaluation", False),
        (
            Stage.EVALUATION_REQUESTED,
            "L'évaluation de la menace par le préfet est en cours",
            True,
        ),
        (Stage.SPACE_REQUESTED, "la CNCCFP doit encore l'ouvrir", True),
        (Stage.SPACE_OPEN, "Votre espace de dépôt est ouvert", False),
        (Stage.THREAT_RECOGNISED, "demandez-en l'ouverture", False),
    ],
)
def test_deposit_reminder_follows_the_stage(
    renderer: EmailRenderer, stage: Stage, phrase: str, administration_has_the_step: bool
) -> None:
    facts = facts_for(EmailTemplate.DEPOSIT_REMINDER, stage=stage, days_left=1)
    body = renderer.render(EmailTemplate.DEPOSIT_REMINDER, facts).body
    assert phrase in body
    assert "soit dans 1 jour." in body
    assert "vendredi 22 mai 2026 à 18 h 00" in body
    # Rule 3: while the administration has the next step, the deadline bars nothing.
    assert ("ne sera pas forclose" in body) is administration_has_the_step
    assert ("la demande sera forclose" in body) is not administration_has_the_step


def test_evaluation_not_recognised_offers_a_new_evaluation(renderer: EmailRenderer) -> None:
    facts = facts_for(
        EmailTemplate.EVALUATION_RECORDED, recognised=False, threat_level=None, ceiling_cents=None
    )
    body = renderer.render(EmailTemplate.EVALUATION_RECORDED, facts, recourse=RECOURSE).body
    assert "n'est pas reconnue" in body
    assert "nouvelle évaluation" in body
    assert "vendredi 22 mai 2026 à 18 h 00" in body
    assert "plafonné" not in body


def test_evaluation_recorded_states_level_and_ceiling(renderer: EmailRenderer) -> None:
    body = renderer.render(
        EmailTemplate.EVALUATION_RECORDED,
        facts_for(EmailTemplate.EVALUATION_RECORDED),
        recourse=RECOURSE,
    ).body
    assert "reconnue comme avérée, au niveau 2" in body
    assert "75\u202f000,00\u00a0€" in body
    assert "espace de dépôt" in body


def test_reexamination_is_announced_to_the_prefecture(renderer: EmailRenderer) -> None:
    rendered = renderer.render(
        EmailTemplate.EVALUATION_REQUESTED,
        facts_for(EmailTemplate.EVALUATION_REQUESTED, evaluation_number=2),
    )
    assert rendered.subject.startswith("Sécu'Pol – Nouvelle demande")
    assert "faits nouveaux" in rendered.body
    assert "département 60" in rendered.body


@pytest.mark.parametrize(
    ("outcome", "decided", "phrase", "prefecture_step"),
    [
        (DecisionOutcome.APPROVED, 1_845_050, "Votre demande est acceptée :", True),
        (DecisionOutcome.AMENDED, 1_500_000, "acceptée en partie", True),
        (DecisionOutcome.REJECTED, 0, "Votre demande est rejetée", False),
    ],
)
def test_decision_wording(
    renderer: EmailRenderer,
    outcome: DecisionOutcome,
    decided: int,
    phrase: str,
    prefecture_step: bool,
) -> None:
    facts = facts_for(EmailTemplate.DECISION, outcome=outcome, decided_cents=decided, reasons=None)
    body = renderer.render(EmailTemplate.DECISION, facts, recourse=RECOURSE).body
    assert phrase in body
    assert "Motifs" not in body
    assert ("préfecture du département 60" in body) is prefecture_step


def test_filters_write_french_dates_and_amounts() -> None:
    assert paris(dt.datetime(2026, 5, 22, 16, 0, tzinfo=UTC)) == "vendredi 22 mai 2026 à 18 h 00"
    assert paris(dt.datetime(2026, 1, 1, 8, 5, tzinfo=UTC)) == "jeudi 1er janvier 2026 à 9 h 05"
    assert date_fr(dt.date(2026, 8, 15)) == "15 août 2026"
    # An instant late in the evening in UTC is already the next day in Paris.
    assert date_fr(dt.datetime(2026, 5, 22, 23, 30, tzinfo=UTC)) == "23 mai 2026"
    assert eur(1_500_000) == "15\u202f000,00\u00a0€"
    with pytest.raises(ValueError):
        paris(dt.datetime(2026, 5, 22, 18, 0))


def test_a_missing_required_fact_is_a_template_error(renderer: EmailRenderer) -> None:
    facts = facts_for(EmailTemplate.DECISION, outcome=None)
    with pytest.raises(EmailTemplateError, match="'decision'"):
        renderer.render(EmailTemplate.DECISION, facts, recourse=RECOURSE)


def test_printing_an_unchecked_optional_fact_is_a_template_error(tmp_path: Path) -> None:
    for source in TEMPLATES_DIR.glob("*.j2"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "time_barred.body.j2").write_text("Motifs : {{ facts.reasons }}\n")
    renderer = EmailRenderer(tmp_path)
    with pytest.raises(EmailTemplateError):
        renderer.render(EmailTemplate.TIME_BARRED, facts_for(EmailTemplate.TIME_BARRED))


def test_renderer_refuses_a_directory_missing_templates(tmp_path: Path) -> None:
    (tmp_path / "decision.subject.j2").write_text("Décision\n")
    with pytest.raises(EmailTemplateError, match=r"time_barred\.body\.j2"):
        EmailRenderer(tmp_path)


# --- Sending ------------------------------------------------------------------------------------


async def test_send_delivers_a_french_email(
    email_activities: EmailActivities,
    email_settings: Settings,
    smtp_server: MailServer,
    outbox_engine: AsyncEngine,
) -> None:
    input = send_input()
    result = await send(email_activities, input)

    assert result.already_sent is False
    assert result.message_id == message_id_for(input.idempotency_key, email_settings.mail_from)
    [message] = smtp_server.store.for_recipient(CANDIDATE_EMAIL)
    assert message["To"] == CANDIDATE_EMAIL
    assert message["From"].addresses[0].addr_spec == "ne-pas-repondre@secupol.localhost"
    assert message["From"].addresses[0].display_name == "Sécu'Pol"
    assert message["Subject"] == (
        "Sécu'Pol – Votre espace de dépôt est ouvert – dossier case-municipales-2026-cand-4f2a9c"
    )
    assert message["Message-ID"] == result.message_id
    assert message["X-Secupol-Template"] == "space_opened"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"] is None
    assert message["Date"].datetime.tzinfo is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    body = text_of(message)
    assert body.startswith("Madame, Monsieur,")
    assert "Votre espace de dépôt Sécu'Pol est ouvert" in body
    assert "vendredi 22 mai 2026 à 18 h 00 (heure de Paris)" in body

    row = await outbox_row(outbox_engine, input.idempotency_key)
    assert row is not None
    assert row.status == "sent"
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.message_id == result.message_id
    assert row.template == "space_opened"
    assert row.last_error is None


async def test_reply_to_is_added_when_configured(
    settings_for: Callable[..., Settings],
    smtp_server: MailServer,
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
) -> None:
    settings = settings_for(smtp_server.port, mail_reply_to="contact@secupol.example.test")
    await send(EmailActivities(settings, outbox_engine, renderer), send_input())
    [message] = smtp_server.store.messages()
    assert message["Reply-To"] == "contact@secupol.example.test"


async def test_the_same_key_is_sent_once(
    email_activities: EmailActivities, smtp_server: MailServer, outbox_engine: AsyncEngine
) -> None:
    input = send_input()
    first = await send(email_activities, input)
    second = await send(email_activities, input)

    assert first.already_sent is False
    assert second.already_sent is True
    assert second.message_id == first.message_id
    assert len(smtp_server.store.messages()) == 1
    row = await outbox_row(outbox_engine, input.idempotency_key)
    assert row is not None and row.attempts == 1 and row.status == "sent"


async def lose_the_sent_mark(engine: AsyncEngine, key: str) -> None:
    """What a crash between the relay's 250 and the commit of ``sent`` leaves behind."""
    async with engine.begin() as connection:
        await connection.execute(
            update(email_outbox)
            .where(email_outbox.c.idempotency_key == key)
            .values(status="sending", sent_at=None)
        )


async def test_a_copy_after_a_lost_commit_is_the_same_message(
    email_activities: EmailActivities, smtp_server: MailServer, outbox_engine: AsyncEngine
) -> None:
    """The crash window: SMTP accepted, the ``sent`` mark lost; the retry sends the same bytes."""
    input = send_input()
    await send(email_activities, input)
    await lose_the_sent_mark(outbox_engine, input.idempotency_key)
    # A second later: a Date taken from the clock would differ.
    await asyncio.sleep(1.1)
    await send(email_activities, input)

    first, copy = smtp_server.store.messages()
    assert first["Message-ID"] == copy["Message-ID"]
    assert first.as_bytes() == copy.as_bytes()
    row = await outbox_row(outbox_engine, input.idempotency_key)
    assert row is not None and row.status == "sent" and row.attempts == 2


async def test_a_copy_with_an_attachment_is_the_same_message(
    email_settings: Settings,
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
    smtp_server: MailServer,
) -> None:
    storage = build_storage(email_settings, outbox_engine)
    activities = EmailActivities(email_settings, outbox_engine, renderer, storage)
    document = await upload_sample(storage, "case-x", DocumentKind.INVOICE, "recu.pdf")
    input = send_input().model_copy(update={"attachments": [document]})
    await send(activities, input)
    await lose_the_sent_mark(outbox_engine, input.idempotency_key)
    await send(activities, input)

    first, copy = smtp_server.store.messages()
    assert first.is_multipart()
    assert first.as_bytes() == copy.as_bytes()


async def test_a_failure_never_unmarks_a_sent_key(
    email_activities: EmailActivities,
    settings_for: Callable[..., Settings],
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
    unused_port: int,
) -> None:
    """An attempt that fails after another one sent the key (they overlapped) leaves it sent."""
    input = send_input()
    await send(email_activities, input)
    down = EmailActivities(settings_for(unused_port), outbox_engine, renderer)
    async with outbox_engine.begin() as connection:
        await connection.execute(
            update(email_outbox)
            .where(email_outbox.c.idempotency_key == input.idempotency_key)
            .values(status="sending")
        )
    # The late attempt claims the key, then the earlier one's mark lands, then the late one fails.
    with pytest.raises(ApplicationError):
        await send(down, input)
    await down._mark_sent(input.idempotency_key)
    await down._record_failure(input.idempotency_key, OutboxStatus.TEMPORARY_FAILURE, "late")
    row = await outbox_row(outbox_engine, input.idempotency_key)
    assert row is not None and row.status == "sent"
    assert (await send(email_activities, input)).already_sent


class QuitDroppingHandler:
    """A relay that accepts the message, then closes the connection instead of answering QUIT."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        server.transport.abort()
        return "221 bye"


async def test_a_lost_quit_after_acceptance_is_a_send(
    settings_for: Callable[..., Settings], outbox_engine: AsyncEngine, renderer: EmailRenderer
) -> None:
    handler = QuitDroppingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="quitter")
    controller.start()
    try:
        activities = EmailActivities(settings_for(port), outbox_engine, renderer)
        input = send_input()
        await send(activities, input)
        assert (await send(activities, input)).already_sent
    finally:
        controller.stop()
    assert handler.received == 1
    row = await outbox_row(outbox_engine, input.idempotency_key)
    assert row is not None and row.status == "sent" and row.attempts == 1


class SlowHandler:
    """A relay that takes ``delay`` seconds to answer the end of DATA."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 OK"


async def test_the_session_ends_before_the_start_to_close_timeout(
    settings_for: Callable[..., Settings], outbox_engine: AsyncEngine, renderer: EmailRenderer
) -> None:
    """An attempt Temporal would time out is not still talking to the relay when the next starts:
    it gives up (retryable) within its start-to-close timeout."""
    handler = SlowHandler(delay=30)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="slow")
    controller.start()
    try:
        activities = EmailActivities(
            settings_for(port).model_copy(update={"smtp_timeout_s": 60.0}), outbox_engine, renderer
        )
        environment = ActivityEnvironment()
        environment.info = dataclasses.replace(
            environment.info, start_to_close_timeout=dt.timedelta(seconds=4)
        )
        with pytest.raises(ApplicationError) as raised:
            await asyncio.wait_for(environment.run(activities.send_email, send_input()), 30)
    finally:
        controller.stop()
    assert raised.value.type == "SmtpUnavailable"
    row = await outbox_row(outbox_engine, send_input().idempotency_key)
    assert row is not None and row.status == "temp_failure"


async def test_security_pack_only_when_asked(
    email_activities: EmailActivities, smtp_server: MailServer
) -> None:
    await send(email_activities, send_input(key="k-without-pack", security_pack=False))
    await send(email_activities, send_input(key="k-with-pack", security_pack=True))

    without_pack, with_pack = smtp_server.store.for_recipient(CANDIDATE_EMAIL)
    assert SECURITY_PACK_PHONE not in text_of(without_pack)
    assert SECURITY_PACK_PHONE in text_of(with_pack)
    assert "17Cyber" in text_of(with_pack)


async def test_every_template_can_be_sent(
    email_activities: EmailActivities, smtp_server: MailServer
) -> None:
    for template in EmailTemplate:
        await send(email_activities, send_input(template, key=f"k-{template.value}"))
    received = smtp_server.store.for_recipient(CANDIDATE_EMAIL)
    assert [message["X-Secupol-Template"] for message in received] == [
        template.value for template in EmailTemplate
    ]
    for message in received:
        assert "Camille" not in message["Subject"]


async def test_decision_emails_state_the_voies_de_recours_of_the_settings(
    settings_for: Callable[..., Settings],
    smtp_server: MailServer,
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
) -> None:
    settings = settings_for(
        smtp_server.port,
        appeal_court_evaluation="le tribunal administratif d'Amiens",
        appeal_court_decision="le tribunal administratif de Paris (3e section)",
        appeal_court_closing="le tribunal administratif de Paris (4e section)",
        appeal_delay_months=3,
    )
    activities = EmailActivities(settings, outbox_engine, renderer)
    expected = {
        EmailTemplate.EVALUATION_RECORDED: "le tribunal administratif d'Amiens",
        EmailTemplate.DECISION: "le tribunal administratif de Paris (3e section)",
        EmailTemplate.CASE_CLOSED: "le tribunal administratif de Paris (4e section)",
    }
    for template in expected:
        await send(activities, send_input(template, key=f"k-recourse-{template.value}"))

    received = smtp_server.store.for_recipient(CANDIDATE_EMAIL)
    for message, court in zip(received, expected.values(), strict=True):
        body = text_of(message)
        assert f"recours contentieux, formé devant {court}." in body
        assert "dans un délai de 3 mois à compter de sa notification" in body


async def test_a_template_error_is_not_retryable(
    email_activities: EmailActivities, smtp_server: MailServer, outbox_engine: AsyncEngine
) -> None:
    input = send_input(EmailTemplate.DECISION, key="k-broken", outcome=None)
    with pytest.raises(ApplicationError) as caught:
        await send(email_activities, input)

    assert caught.value.type == "EmailTemplateError"
    assert caught.value.non_retryable is True
    assert caught.value.__cause__ is None
    assert smtp_server.store.messages() == []
    row = await outbox_row(outbox_engine, "k-broken")
    assert row is not None
    assert row.status == "perm_failure"
    assert row.last_error == "EmailTemplateError"


async def test_an_unreachable_server_is_retryable(
    settings_for: Callable[..., Settings],
    unused_port: int,
    email_activities: EmailActivities,
    smtp_server: MailServer,
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
) -> None:
    down = EmailActivities(settings_for(unused_port), outbox_engine, renderer)
    input = send_input(key="k-retry")
    with pytest.raises(ApplicationError) as caught:
        await send(down, input)

    assert caught.value.type == "SmtpUnavailable"
    assert caught.value.non_retryable is False
    row = await outbox_row(outbox_engine, "k-retry")
    assert row is not None
    assert row.status == "temp_failure"
    assert row.attempts == 1
    assert row.sent_at is None
    assert row.last_error is not None and row.last_error.startswith("SmtpUnavailable")

    # The retry, once the relay is back, sends it under the same key.
    result = await send(email_activities, input)
    assert result.already_sent is False
    row = await outbox_row(outbox_engine, "k-retry")
    assert row is not None and row.status == "sent" and row.attempts == 2
    assert len(smtp_server.store.messages()) == 1


@pytest.mark.parametrize(
    ("answer", "error_type", "non_retryable", "status"),
    [
        ("550 5.1.1 Mailbox unavailable", "EmailRecipientRefused", True, "perm_failure"),
        ("450 4.2.1 Mailbox busy, try later", "SmtpTemporaryFailure", False, "temp_failure"),
    ],
)
async def test_a_refused_recipient(
    refusing_relay: tuple[Any, int],
    settings_for: Callable[..., Settings],
    outbox_engine: AsyncEngine,
    renderer: EmailRenderer,
    answer: str,
    error_type: str,
    non_retryable: bool,
    status: str,
) -> None:
    handler, port = refusing_relay
    handler.answer = answer
    activities = EmailActivities(settings_for(port), outbox_engine, renderer)
    with pytest.raises(ApplicationError) as caught:
        await send(activities, send_input(key="k-refused"))

    assert caught.value.type == error_type
    assert caught.value.non_retryable is non_retryable
    assert CANDIDATE_EMAIL not in caught.value.message
    assert handler.data_received == 0
    row = await outbox_row(outbox_engine, "k-refused")
    assert row is not None
    assert row.status == status
    assert row.last_error == f"{error_type}: SMTPRecipientsRefused {answer[:3]}"


async def test_logs_hold_neither_recipient_nor_body(
    email_activities: EmailActivities, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="temporalio.activity")
    await send(email_activities, send_input(key="k-logged", security_pack=True))
    ours = [record for record in caplog.records if record.name == "temporalio.activity"]
    assert any("k-logged" in record.getMessage() for record in ours)
    for record in ours:
        text = record.getMessage()
        assert CANDIDATE_EMAIL not in text
        assert CANDIDATE_NAME not in text
        assert SECURITY_PACK_PHONE not in text


def test_message_id_is_derived_from_the_key() -> None:
    mail_from = "Sécu'Pol <ne-pas-repondre@secupol.example.fr>"
    first = message_id_for("case-a/space_opened", mail_from)
    assert first == message_id_for("case-a/space_opened", mail_from)
    assert first != message_id_for("case-a/decision", mail_from)
    assert first.startswith("<") and first.endswith("@secupol.example.fr>")
    assert "case-a" not in first


async def test_open_activities_registers_send_email(
    email_settings: Settings, outbox_engine: AsyncEngine
) -> None:
    async with open_activities(email_settings, outbox_engine) as registered:
        names = [activity._Definition.must_from_callable(fn).name for fn in registered]
    assert "send_email" in names
    assert EMAIL_NON_RETRYABLE_ERRORS == ["EmailTemplateError", "EmailRecipientRefused"]


# --- Embedded mailbox ---------------------------------------------------------------------------


def _deliver_raw(port: int, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "tests@example.test"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Fri, 22 May 2026 18:00:00 +0200"
    message.set_content(f"Corps du message « {subject} ».\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def test_mail_server_picks_a_free_port(tmp_path: Path) -> None:
    server = MailServer(tmp_path / "mail", port=0)
    with server:
        assert server.port > 0
        _deliver_raw(server.port, "a@example.test", "un")
    assert server.store.messages()[0]["Subject"] == "un"
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", server.port, timeout=2)


def test_store_filters_by_recipient_in_arrival_order(smtp_server: MailServer) -> None:
    for index in range(12):
        _deliver_raw(smtp_server.port, "Marie.Curie@Example.test", f"message {index}")
        _deliver_raw(smtp_server.port, "autre@example.test", f"autre {index}")

    store = MailStore(smtp_server.store.path)
    mine = store.for_recipient("marie.curie@example.TEST")
    assert [message["Subject"] for message in mine] == [f"message {index}" for index in range(12)]
    assert len(store.messages()) == 24
    assert store.for_recipient("curie@example.test") == []


def test_cli_list_and_show(
    smtp_server: MailServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _deliver_raw(smtp_server.port, "premier@example.test", "Premier message")
    _deliver_raw(smtp_server.port, "second@example.test", "Second message")
    mail_dir = str(smtp_server.store.path)

    assert main(["list", "--dir", mail_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "1"
    assert "2026-05-22 18:00:00 +0200" in lines[0]
    assert "premier@example.test" in lines[0] and "Premier message" in lines[0]
    assert "Second message" in lines[1]

    assert main(["show", "1", "--dir", mail_dir]) == 0
    shown = capsys.readouterr().out
    assert "Subject: Premier message" in shown
    assert "To: premier@example.test" in shown
    assert "Corps du message « Premier message »." in shown

    assert main(["show", "last", "--dir", mail_dir]) == 0
    assert "Subject: Second message" in capsys.readouterr().out

    assert main(["show", "3", "--dir", mail_dir]) == 1
    assert "Message introuvable" in capsys.readouterr().err

    assert main(["list", "--dir", str(tmp_path / "vide")]) == 0
    assert "Aucun message" in capsys.readouterr().out


async def test_cli_show_decodes_a_sent_email(
    email_activities: EmailActivities,
    smtp_server: MailServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await send(email_activities, send_input(security_pack=True))
    assert main(["show", "last", "--dir", str(smtp_server.store.path)]) == 0
    shown = capsys.readouterr().out
    assert "Subject: Sécu'Pol – Votre espace de dépôt est ouvert" in shown
    assert "Madame, Monsieur," in shown
    assert SECURITY_PACK_PHONE in shown


def test_cli_serve_uses_settings_and_stops_on_sigterm(tmp_path: Path, unused_port: int) -> None:
    env = {
        **os.environ,
        "SECUPOL_DATA_DIR": str(tmp_path),
        "SECUPOL_SMTP_HOST": "127.0.0.1",
        "SECUPOL_SMTP_PORT": str(unused_port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "embedded.mailbox", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _deliver_raw(unused_port, "serve@example.test", "Secret de contenu")
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the mail server did not start"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0
    logs = out + err
    assert "stored" in logs
    assert "Secret de contenu" not in logs
    assert "serve@example.test" not in logs
    [message] = MailStore(tmp_path / "mail").messages()
    assert message["Subject"] == "Secret de contenu"


def test_permanent_errors_are_the_activity_non_retryable_types() -> None:
    from activities.email.sender import EmailErrorType

    assert set(EMAIL_NON_RETRYABLE_ERRORS) == {
        EmailErrorType.TEMPLATE_ERROR.value,
        EmailErrorType.RECIPIENT_REFUSED.value,
    }
